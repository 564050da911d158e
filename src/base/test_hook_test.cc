// The test hook's function and argument are seen together (test_hook.h):
// a point running while another thread installs and removes hooks never
// calls one hook with another's argument, nor a hook with nullptr.
#include "base/test_hook.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace uswap {
namespace {

struct Ctx {
  std::atomic<uint64_t> calls{0};
};

// Each hook is called only with its own context.
Ctx a_ctx, b_ctx;
std::atomic<uint64_t> wrong{0};
void HookA(const char*, void* arg) {
  if (arg != &a_ctx)
    wrong++;
  else
    a_ctx.calls++;
}
void HookB(const char*, void* arg) {
  if (arg != &b_ctx)
    wrong++;
  else
    b_ctx.calls++;
}
int ErrnoA(const char*, void* arg) { return arg == &a_ctx ? 5 : -1; }

TEST(TestHookTest, APointNeverSeesOneHookWithAnothersArgument) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad_errno{0};
  std::thread point([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      TestPoint("p");
      const int e = TestErrno("p");
      if (e != 0 && e != 5) bad_errno++;
    }
  });
  // Switch hook A -> B -> none many times while the point runs. With the
  // function and argument in two atomics, a point that loaded A before a
  // switch read B's context or nullptr after it (wrong > 0 within a few
  // thousand switches on 2 cores).
  // Until the point has run hooks often enough to matter, however loaded
  // the machine (a minute at most).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (int i = 0; i < 20000 || a_ctx.calls.load() + b_ctx.calls.load() < 2000; i++) {
    if (std::chrono::steady_clock::now() > deadline) break;
    SetTestHook(&HookA, &a_ctx);
    SetTestErrnoHook(&ErrnoA, &a_ctx);
    SetTestHook(&HookB, &b_ctx);
    SetTestHook(nullptr, nullptr);
    SetTestErrnoHook(nullptr, nullptr);
  }
  stop = true;
  point.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(bad_errno.load(), 0u);
  EXPECT_GE(a_ctx.calls.load() + b_ctx.calls.load(), 2000u) << "the point ran too few hooks";
  TestPoint("after");  // removed: nothing runs
  EXPECT_EQ(TestErrno("after"), 0);
}

}  // namespace
}  // namespace uswap
