// GhostQueue: the non-resident entries of ARC's B1/B2 and S3-FIFO's G, as
// eviction stamps (ListPolicy::ShadowStamp) in eviction order. A page
// carries its stamp in its shadow entry, so "is this refaulting page in the
// ghost list" is Erase(stamp) — exact, with no page identity in the policy.
// cf. mm/workingset.c, which keeps no list at all and estimates the same
// from the refault distance.
//
// Thread-safety: none; the owning policy's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>

namespace uswap {

class GhostQueue {
 public:
  size_t size() const { return live_.size(); }
  void Push(uint32_t stamp) {
    order_.push_back(stamp);
    live_.insert(stamp);
    // Erased stamps wait in order_ until they reach the front: compact when
    // they outnumber the live ones, so memory stays O(size()).
    if (order_.size() > 2 * live_.size() + 64) Compact();
  }
  // True (and forgets it) when `stamp` is in the queue.
  bool Erase(uint32_t stamp) { return live_.erase(stamp) != 0; }
  // Forgets the oldest entry. REQUIRES: size() > 0.
  void PopOldest() {
    while (!order_.empty()) {
      uint32_t s = order_.front();
      order_.pop_front();
      if (live_.erase(s)) return;
    }
  }

 private:
  void Compact() {
    std::deque<uint32_t> kept;
    for (uint32_t s : order_)
      if (live_.count(s)) kept.push_back(s);
    order_.swap(kept);
  }
  std::deque<uint32_t> order_;  // oldest first; may hold erased stamps
  std::unordered_set<uint32_t> live_;
};

}  // namespace uswap
