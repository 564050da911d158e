// Kswapd: the background reclaim thread. Sleeps until woken (free frames
// fell below the low watermark), then reclaims until free frames reach the
// high watermark. cf. kswapd() / balance_pgdat() in mm/vmscan.c.
//
// Tests can drive reclaim without the thread: MemoryNode::BalanceOnce() is
// what each wake-up runs.
//
// Thread-safety: WakeUp() may be called from any thread (cheap when the
// thread is already awake); Start/Stop from the owner only.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/thread_annotations.h"
#include "mm/memory_node.h"

namespace uswap {

class Kswapd {
 public:
  explicit Kswapd(MemoryNode* node) : node_(node) {}
  ~Kswapd() { Stop(); }

  void Start();
  // Stops and joins the thread. Idempotent.
  void Stop();
  void WakeUp();

 private:
  void Run();
  MemoryNode* const node_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  std::atomic<bool> running_{false};  // between a wake-up and the end of its balance
  std::thread thread_;
};

}  // namespace uswap
