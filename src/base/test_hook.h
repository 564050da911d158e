// Test hooks: named points in the engine where a test can run code, to pin
// down races deterministically (cf. CacheLib's INJECT_PAUSE), and named
// points where a test can make a system call fail (cf. the kernel's
// fault-injection framework). Outside tests no hook is set and a point
// costs one atomic load (acquire: a plain load on x86).
//
// TestPoint points (no engine lock held unless said):
//   "swapin_before_io"      do_swap_page: slots marked kSwapIn
//   "writeback_before_io"   shrink_page_list: pages marked kWriteback
//   "refill_before_zap"     refill_inactive: frames isolated, before the block locks
//   "reclaim_done"          after each reclaim round (regions_mu_ held shared)
//   "swapoff_after_finish"  Swapoff: the area left the table (Space admin lock held)
//   "kswapd_after_balance"  kswapd thread, after a balance pass, before it sleeps
// TestErrno points (return an errno to inject, 0 for none):
//   "memfd_copyin"          swap-in: copying a page read from swap into the memfd
//   "memfd_allocate"        first touch: materialising zero pages in the memfd
#pragma once

#include <atomic>
#include <deque>
#include <mutex>

namespace uswap {

using TestHookFn = void (*)(const char* point, void* arg);
using TestErrnoFn = int (*)(const char* point, void* arg);

namespace internal {
// A hook and its argument are published together, as one pointer to a
// record that never changes: with two atomics, a point that loaded the old
// function could read the new argument (nullptr when a test removes its
// hook) and call the one with the other — a test's hook then dereferenced
// nullptr on a uswap thread (engine_test, CI of a35f83b).
template <typename Fn>
struct HookRecord {
  Fn fn;
  void* arg;
};
// Records are never freed: a point may still be calling the one a later
// Set* replaced (tests make a handful). They stay reachable from here.
template <typename Fn>
const HookRecord<Fn>* KeepHookRecord(Fn fn, void* arg) {
  if (!fn) return nullptr;
  static std::mutex mu;
  static std::deque<HookRecord<Fn>> records;  // push_back keeps addresses
  std::lock_guard<std::mutex> l(mu);
  return &records.emplace_back(HookRecord<Fn>{fn, arg});
}
inline std::atomic<const HookRecord<TestHookFn>*> g_test_hook{nullptr};
inline std::atomic<const HookRecord<TestErrnoFn>*> g_test_errno_hook{nullptr};
}  // namespace internal

// Installs (or, with nullptr, removes) the process-wide hook. A point that
// started before the call may still run the previous hook with its own
// argument (ClearTestHook in the tests waits for those).
inline void SetTestHook(TestHookFn fn, void* arg) {
  internal::g_test_hook.store(internal::KeepHookRecord(fn, arg), std::memory_order_release);
}

inline void TestPoint(const char* point) {
  if (const auto* h = internal::g_test_hook.load(std::memory_order_acquire)) h->fn(point, h->arg);
}

inline void SetTestErrnoHook(TestErrnoFn fn, void* arg) {
  internal::g_test_errno_hook.store(internal::KeepHookRecord(fn, arg), std::memory_order_release);
}

// The errno a test wants the operation at `point` to fail with, or 0.
inline int TestErrno(const char* point) {
  if (const auto* h = internal::g_test_errno_hook.load(std::memory_order_acquire))
    return h->fn(point, h->arg);
  return 0;
}

}  // namespace uswap
