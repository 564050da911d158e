#include "mm/kswapd.h"

#include "base/test_hook.h"
#include "base/thread.h"

namespace uswap {

void Kswapd::Start() {
  thread_ = StartThread("uswap-kswapd", [this] { Run(); });
}

void Kswapd::Stop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.Signal();
  if (thread_.joinable()) thread_.join();
}

void Kswapd::WakeUp() {
  if (pending_.load(std::memory_order_relaxed)) return;
  if (pending_.exchange(true, std::memory_order_acq_rel)) return;
  {
    // Taking the lock orders the store above with Run's check-then-wait.
    MutexLock l(&mu_);
  }
  cv_.Signal();
}

void Kswapd::Run() {
  for (;;) {
    {
      MutexLock l(&mu_);
      while (!pending_.load(std::memory_order_acquire) && !stop_) cv_.Wait();
      if (stop_) return;
      // Set before pending_ is cleared, so Idle() never sees neither.
      running_.store(true, std::memory_order_release);
    }
    pending_.store(false, std::memory_order_release);
    Count(node_->vmstat().kswapd_wakeups);
    node_->BalanceOnce();
    TestPoint("kswapd_after_balance");
    running_.store(false, std::memory_order_release);
  }
}

}  // namespace uswap
