// Mutex, SharedMutex, CondVar and their scoped lockers, annotated for
// clang's -Wthread-safety (cf. LevelDB's port/port_stdcxx.h and
// util/mutexlock.h). Every lock of the engine is one of these, so the
// compiler checks GUARDED_BY / REQUIRES declarations; the lock order is the
// table in doc/engine.md.
//
// SharedMutex prefers writers (glibc's PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP):
// a steady stream of readers (faults, kswapd) cannot starve a writer
// (region teardown). Consequence: a thread must never take it shared twice
// (a reader queued behind a waiting writer would deadlock against itself).
#pragma once

#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "base/check.h"
#include "base/thread_annotations.h"

namespace uswap {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() {
    mu_.lock();
    SetOwner();
  }
  void unlock() RELEASE() {
    ClearOwner();
    mu_.unlock();
  }
  bool try_lock() TRY_ACQUIRE(true) {
    if (!mu_.try_lock()) return false;
    SetOwner();
    return true;
  }
  // Tells the analysis the caller holds the lock. USWAP_DEBUG_FULL builds
  // also check it at run time (the owner is recorded on every acquire), for
  // the paths the static analysis cannot follow (e.g. a lock chosen by data).
  void AssertHeld() const ASSERT_CAPABILITY(this) {
#ifdef USWAP_DEBUG_FULL
    USWAP_CHECK_MSG(owner_.load(std::memory_order_relaxed) == pthread_self(),
                    "the calling thread does not hold this lock");
#endif
  }

 private:
  friend class CondVar;
#ifdef USWAP_DEBUG_FULL
  void SetOwner() { owner_.store(pthread_self(), std::memory_order_relaxed); }
  void ClearOwner() { owner_.store(pthread_t{}, std::memory_order_relaxed); }
  std::atomic<pthread_t> owner_{};
#else
  void SetOwner() {}
  void ClearOwner() {}
#endif
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~MutexLock() RELEASE() { mu_->unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class CAPABILITY("shared mutex") SharedMutex {
 public:
  enum class Prefer { kWriters, kReaders };
  // kReaders is glibc's default (and std::shared_mutex's): for locks whose
  // writers are rare and may wait (the swap device table).
  explicit SharedMutex(Prefer prefer = Prefer::kWriters) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, prefer == Prefer::kWriters
                                             ? PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
                                             : PTHREAD_RWLOCK_PREFER_READER_NP);
    USWAP_CHECK(pthread_rwlock_init(&rw_, &attr) == 0);
    pthread_rwlockattr_destroy(&attr);
  }
  ~SharedMutex() { pthread_rwlock_destroy(&rw_); }
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { USWAP_CHECK(pthread_rwlock_wrlock(&rw_) == 0); }
  void unlock() RELEASE() { USWAP_CHECK(pthread_rwlock_unlock(&rw_) == 0); }
  void lock_shared() ACQUIRE_SHARED() { USWAP_CHECK(pthread_rwlock_rdlock(&rw_) == 0); }
  void unlock_shared() RELEASE_SHARED() { USWAP_CHECK(pthread_rwlock_unlock(&rw_) == 0); }
  bool try_lock_shared() TRY_ACQUIRE_SHARED(true) { return pthread_rwlock_tryrdlock(&rw_) == 0; }
  void AssertHeldShared() const ASSERT_SHARED_CAPABILITY(this) {}

 private:
  pthread_rwlock_t rw_;
};

class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_->lock_shared(); }
  ~ReaderLock() RELEASE() { mu_->unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~WriterLock() RELEASE() { mu_->unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// A set of mutexes taken one by one in an order the caller guarantees (the
// analysis cannot follow a run-time set), released together in reverse.
class MutexSet {
 public:
  MutexSet() = default;
  ~MutexSet() { ReleaseAll(); }
  MutexSet(const MutexSet&) = delete;
  MutexSet& operator=(const MutexSet&) = delete;

  // At most kMax at a time (ThreadSanitizer tracks 64 held mutexes per
  // thread); a fixed array, so that reclaim allocates nothing.
  static constexpr size_t kMax = 64;

  void Acquire(Mutex* m) NO_THREAD_SAFETY_ANALYSIS {
    USWAP_CHECK_MSG(n_ < kMax, "MutexSet: more than 64 locks held at once");
    m->lock();
    held_[n_++] = m;
  }
  void ReleaseAll() NO_THREAD_SAFETY_ANALYSIS {
    while (n_ > 0) held_[--n_]->unlock();
  }
  bool Holds(const Mutex* m) const { return n_ > 0 && held_[n_ - 1] == m; }
  size_t size() const { return n_; }

 private:
  std::array<Mutex*, kMax> held_{};
  size_t n_ = 0;
};

// A condition variable bound to one Mutex at construction. Wait/WaitFor
// require that mutex held; the analysis cannot name it through the
// CondVar (as LevelDB's port::CondVar, they carry no annotation).
class CondVar {
 public:
  explicit CondVar(Mutex* mu) : mu_(mu) {}
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Atomically releases the mutex and waits; reacquires before returning.
  void Wait() {
    mu_->ClearOwner();
    std::unique_lock<std::mutex> l(mu_->mu_, std::adopt_lock);
    cv_.wait(l);
    l.release();
    mu_->SetOwner();
  }
  // Same, returning after at most `timeout` (false on time-out).
  bool WaitFor(std::chrono::nanoseconds timeout) {
    mu_->ClearOwner();
    std::unique_lock<std::mutex> l(mu_->mu_, std::adopt_lock);
    bool woken = cv_.wait_for(l, timeout) == std::cv_status::no_timeout;
    l.release();
    mu_->SetOwner();
    return woken;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  Mutex* const mu_;
  std::condition_variable cv_;
};

}  // namespace uswap
