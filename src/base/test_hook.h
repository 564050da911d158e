// Test hooks: named points in the engine where a test can run code, to pin
// down races deterministically (cf. CacheLib's INJECT_PAUSE), and named
// points where a test can make a system call fail (cf. the kernel's
// fault-injection framework). Outside tests no hook is set and a point
// costs one relaxed atomic load.
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

namespace uswap {

using TestHookFn = void (*)(const char* point, void* arg);
using TestErrnoFn = int (*)(const char* point, void* arg);

namespace internal {
inline std::atomic<TestHookFn> g_test_hook{nullptr};
inline std::atomic<void*> g_test_hook_arg{nullptr};
inline std::atomic<TestErrnoFn> g_test_errno_hook{nullptr};
inline std::atomic<void*> g_test_errno_arg{nullptr};
}  // namespace internal

// Installs (or, with nullptr, removes) the process-wide hook.
inline void SetTestHook(TestHookFn fn, void* arg) {
  internal::g_test_hook_arg.store(arg);
  internal::g_test_hook.store(fn);
}

inline void TestPoint(const char* point) {
  if (TestHookFn fn = internal::g_test_hook.load(std::memory_order_relaxed))
    fn(point, internal::g_test_hook_arg.load());
}

inline void SetTestErrnoHook(TestErrnoFn fn, void* arg) {
  internal::g_test_errno_arg.store(arg);
  internal::g_test_errno_hook.store(fn);
}

// The errno a test wants the operation at `point` to fail with, or 0.
inline int TestErrno(const char* point) {
  if (TestErrnoFn fn = internal::g_test_errno_hook.load(std::memory_order_relaxed))
    return fn(point, internal::g_test_errno_arg.load());
  return 0;
}

}  // namespace uswap
