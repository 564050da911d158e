#include "mm/kswapd.h"

#include <pthread.h>

namespace uswap {

void Kswapd::Start() {
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), "uswap-kswapd");
}

void Kswapd::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Kswapd::WakeUp() {
  if (running_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (wake_) return;
    wake_ = true;
  }
  cv_.notify_one();
}

void Kswapd::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return wake_ || stop_; });
      if (stop_) return;
      wake_ = false;
    }
    running_.store(true, std::memory_order_relaxed);
    Count(node_->vmstat().kswapd_wakeups);
    node_->BalanceOnce();
    running_.store(false, std::memory_order_relaxed);
  }
}

}  // namespace uswap
