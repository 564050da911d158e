// TwoListPolicy ("two-list"): the kernel's active and inactive LRU lists
// (seeds 003, 004; cf. mm/vmscan.c shrink_active_list()/
// shrink_inactive_list()).
//
//   new mapped page       -> head of active
//   read-ahead page        -> head of inactive
//   Deactivate: active tail -> isolated; the engine unmaps it and puts it
//     back on the inactive head (Putback(f, false))
//   touched while inactive -> head of active (pgactivate)
//   IsolateVictims: from the inactive tail only; a victim that was touched
//     (referenced) since it was isolated gets one more round.
//
// The inactive list is kept at `inactive_percent` of the resident frames
// (default 10%: kDefaultInactivePercent), not the whole budget: every
// unmapped page that is touched again costs a minor fault (~6 µs here,
// DESIGN.md §4), so unmapping more than reclaim needs is pure overhead.
// cf. inactive_is_low(). Shadows are plain eviction stamps; the policy
// ignores them on refault (the kernel's workingset_refault() activation is
// what "rdist" adds).
#pragma once

#include "mm/policy/list_policy.h"

namespace uswap {

class TwoListPolicy final : public ListPolicy {
 public:
  explicit TwoListPolicy(const ReclaimPolicyOptions& options)
      : ListPolicy(options, 1u << kInactive) {}
  const char* name() const override { return "two-list"; }

 private:
  enum : uint8_t { kActive = 1, kInactive = 2 };
  USWAP_LIST_POLICY_HOOKS;
};

}  // namespace uswap
