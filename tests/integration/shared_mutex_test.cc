// uswap::SharedMutex prefers writers (audit F18): regions_mu_ was a
// reader-preferring std::shared_mutex, so region teardown (exclusive) could
// be starved by a steady stream of faults and kswapd passes (shared). Once
// a writer waits, new readers queue behind it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "base/mutex.h"

namespace uswap {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls try_lock_shared() from this thread until it fails (a writer is
// waiting) or `timeout` passes. Returns whether it failed.
bool TryLockSharedFailsWithin(SharedMutex& m, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!m.try_lock_shared()) return true;
    m.unlock_shared();
    std::this_thread::yield();
  }
  return false;
}

TEST(SharedMutexTest, WaitingWriterBlocksNewReaders) {
  // Leaked: if the test fails with the writer still blocked, its thread is
  // detached and must not outlive the lock.
  auto* m = new SharedMutex;
  m->lock_shared();  // reader A (this thread)
  std::atomic<bool> writer_started{false}, writer_has_it{false};
  std::promise<void> acquired;
  std::future<void> acquired_f = acquired.get_future();
  std::promise<void> release;
  std::shared_future<void> release_f = release.get_future().share();
  std::thread writer([&, m] {
    writer_started = true;
    m->lock();  // B: blocks behind A
    writer_has_it = true;
    acquired.set_value();
    release_f.wait();
    m->unlock();
  });
  // C: a third thread sees new readers refused once B waits.
  std::promise<bool> refused;
  std::future<bool> refused_f = refused.get_future();
  std::thread reader_c([&, m] {
    while (!writer_started.load()) std::this_thread::yield();
    refused.set_value(TryLockSharedFailsWithin(*m, seconds(10)));
  });
  const bool c_refused = refused_f.get();
  reader_c.join();
  EXPECT_TRUE(c_refused) << "a new reader got the lock while a writer was waiting";
  EXPECT_FALSE(writer_has_it.load()) << "the writer got the lock while A held it shared";
  m->unlock_shared();  // A leaves: B gets it
  const bool got = acquired_f.wait_for(seconds(10)) == std::future_status::ready;
  EXPECT_TRUE(got) << "the writer did not get the lock after the last reader left";
  // While B holds it, no reader gets in.
  if (got) {
    std::thread([m] { EXPECT_FALSE(m->try_lock_shared()); }).join();
  }
  release.set_value();
  if (!got) {
    writer.detach();
    return;
  }
  writer.join();
  // Free again: shared holders share.
  // Written as branches on try_lock_shared() so that clang's
  // -Wthread-safety analysis can follow who holds the lock.
  if (!m->try_lock_shared()) {
    ADD_FAILURE() << "the free lock refused a shared holder";
    delete m;
    return;
  }
  std::thread([m] {
    if (m->try_lock_shared())
      m->unlock_shared();
    else
      ADD_FAILURE() << "a second shared holder was refused";
  }).join();
  m->unlock_shared();
  delete m;
}

// Usable with the standard lockers (BasicLockable / SharedLockable).
TEST(SharedMutexTest, WorksWithStandardLockers) {
  SharedMutex m;
  {
    std::shared_lock<SharedMutex> a(m);
    std::thread([&] {
      std::shared_lock<SharedMutex> b(m, std::try_to_lock);
      EXPECT_TRUE(b.owns_lock());
    }).join();
  }
  {
    std::unique_lock<SharedMutex> w(m);
    std::thread([&] {
      std::shared_lock<SharedMutex> b(m, std::try_to_lock);
      EXPECT_FALSE(b.owns_lock());
    }).join();
  }
  std::shared_lock<SharedMutex> c(m, std::try_to_lock);
  EXPECT_TRUE(c.owns_lock());
}

}  // namespace
}  // namespace uswap
