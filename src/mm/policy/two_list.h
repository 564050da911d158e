// TwoListPolicy: the kernel's active and inactive LRU lists (seeds 003, 004;
// cf. mm/vmscan.c shrink_active_list()/shrink_inactive_list()).
//
//   new mapped page       -> head of active
//   read-ahead page        -> head of inactive
//   Deactivate: active tail -> isolated; the engine unmaps it and puts it
//     back on the inactive head (Putback(f, false))
//   touched while inactive -> head of active (pgactivate)
//   IsolateVictims: from the inactive tail; a victim that was touched
//     (referenced) since it was isolated last gets one more round.
//
// The inactive list is kept at `inactive_percent` of the resident frames,
// not the whole budget: every unmapped page that is touched again costs a
// minor fault (~6 µs here, DESIGN.md §4), so unmapping more than reclaim
// needs is pure overhead. cf. inactive_is_low().
#pragma once

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "mm/policy/reclaim_policy.h"

namespace uswap {

class TwoListPolicy final : public ReclaimPolicy {
 public:
  explicit TwoListPolicy(const ReclaimPolicyOptions& options) : options_(options) {}
  const char* name() const override { return "two-list"; }
  void Add(PageFrame* f, bool mapped) override;
  void Remove(PageFrame* f) override;
  bool MarkAccessed(PageFrame* f) override;
  size_t Deactivate(size_t n, std::vector<PageFrame*>& out) override;
  size_t IsolateVictims(size_t n, std::vector<PageFrame*>& out) override;
  bool Isolate(PageFrame* f) override;
  void Putback(PageFrame* f, bool active) override;
  size_t DeactivateTarget() const override;
  ReclaimPolicyStats Stats() const override;

 private:
  enum : uint8_t { kNone = 0, kActive = 1, kInactive = 2 };
  struct List {
    PageFrame* head = nullptr;  // most recently added
    PageFrame* tail = nullptr;  // oldest
    size_t size = 0;
  };
  void PushHeadLocked(List& l, uint8_t id, PageFrame* f) REQUIRES(mu_);
  void UnlinkLocked(PageFrame* f) REQUIRES(mu_);
  List& ListOf(uint8_t id) REQUIRES(mu_) { return id == kActive ? active_ : inactive_; }

  const ReclaimPolicyOptions options_;
  mutable Mutex mu_;  // cf. lru_lock
  List active_ GUARDED_BY(mu_);
  List inactive_ GUARDED_BY(mu_);
};

}  // namespace uswap
