// Test hooks: named points in the engine where a test can run code, to pin
// down races deterministically (cf. CacheLib's INJECT_PAUSE). Outside tests
// no hook is set and a point costs one relaxed atomic load.
//
// Points: "swapin_before_io" (do_swap_page, slots marked kSwapIn, no lock
// held), "writeback_before_io" (shrink_page_list, pages marked kWriteback,
// no lock held).
#pragma once

#include <atomic>

namespace uswap {

using TestHookFn = void (*)(const char* point, void* arg);

namespace internal {
inline std::atomic<TestHookFn> g_test_hook{nullptr};
inline std::atomic<void*> g_test_hook_arg{nullptr};
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

}  // namespace uswap
