// kswapd wake-ups are never lost (audit F17): Kswapd::WakeUp returned early
// while a balance pass was running, so a wake-up between the end of the pass
// and the thread going back to sleep was dropped (direct reclaim covered
// for it, at fault latency). The "kswapd_after_balance" point runs on the
// kswapd thread in exactly that window; a wake-up issued from it must make
// kswapd run another pass.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "regress_util.h"

namespace uswap::testing {
namespace {

class KswapdWakeupTest : public EngineFixture {};

TEST_F(KswapdWakeupTest, WakeupDuringBalanceIsNotLost) {
  struct Ctx {
    std::mutex mu;
    std::condition_variable cv;
    SpaceImpl* space = nullptr;  // guarded by mu
    int passes = 0;              // guarded by mu
    uint64_t wakeups_at_first = 0;
  } ctx;
  ScopedTestHook hook([&ctx](const char* point) {
    if (std::strcmp(point, "kswapd_after_balance") != 0) return;
    std::unique_lock<std::mutex> l(ctx.mu);
    if (!ctx.space) return;
    if (++ctx.passes == 1) {
      ctx.wakeups_at_first = ctx.space->stats().kswapd_wakeups;
      SpaceImpl* s = ctx.space;
      l.unlock();
      s->WakeKswapd();  // after the pass, before kswapd sleeps
      l.lock();
    }
    ctx.cv.notify_all();
  });
  // No region: nothing else wakes kswapd.
  auto space = OpenSpace(SmallConfig(64, NewSwapFile("a.swap", 1024)));
  ASSERT_TRUE(space);
  const uint64_t wakeups0 = space->stats().kswapd_wakeups;
  {
    std::lock_guard<std::mutex> l(ctx.mu);
    ctx.space = ImplOf(*space);
  }
  ImplOf(*space)->WakeKswapd();
  std::unique_lock<std::mutex> l(ctx.mu);
  const bool second = ctx.cv.wait_for(l, std::chrono::seconds(10), [&] { return ctx.passes >= 2; });
  const int passes = ctx.passes;
  const uint64_t at_first = ctx.wakeups_at_first;
  ctx.space = nullptr;
  l.unlock();
  ASSERT_GE(passes, 1) << "kswapd did not run after WakeKswapd() (or the point is missing)";
  EXPECT_TRUE(second) << "the wake-up issued after the first pass was lost";
  EXPECT_GT(at_first, wakeups0);
  EXPECT_GT(space->stats().kswapd_wakeups, at_first);
}

}  // namespace
}  // namespace uswap::testing
