// Kswapd: the background reclaim thread. Sleeps until woken (free frames
// fell below the low watermark, the budget was overshot, or a swap area
// was added), then reclaims until free frames reach the high watermark.
// cf. kswapd() / balance_pgdat() / wakeup_kswapd() in mm/vmscan.c.
//
// A wake-up is never lost: `pending_` is cleared before each balance pass,
// so a wake-up that arrives during a pass makes the thread run another one
// (audit F17; the kernel's kswapd re-checks pgdat_balanced() the same way
// before it sleeps).
//
// Tests can drive reclaim without the thread: MemoryNode::BalanceOnce() is
// what each wake-up runs.
//
// Thread-safety: WakeUp() may be called from any thread (one relaxed load
// when a wake-up is already pending); Start/Stop from the owner only.
#pragma once

#include <atomic>
#include <thread>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "mm/memory_node.h"

namespace uswap {

class Kswapd {
 public:
  explicit Kswapd(MemoryNode* node) : node_(node) {}
  ~Kswapd() { Stop(); }

  void Start();
  // Stops and joins the thread. Idempotent.
  void Stop() EXCLUDES(mu_);
  void WakeUp() EXCLUDES(mu_);
  // True when no wake-up is pending and no balance pass is running: until
  // the next WakeUp(), kswapd changes nothing (tests wait for this before
  // they look at page states).
  bool Idle() const {
    // pending_ first: Run sets running_ before it clears pending_.
    return !pending_.load(std::memory_order_acquire) && !running_.load(std::memory_order_acquire);
  }

 private:
  void Run() EXCLUDES(mu_);
  MemoryNode* const node_;
  Mutex mu_;
  CondVar cv_{&mu_};
  std::atomic<bool> pending_{false};  // a wake-up not yet taken by Run
  std::atomic<bool> running_{false};  // Run is between a wake-up and its sleep
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace uswap
