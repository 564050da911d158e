// ArcPolicy ("arc"): Adaptive Replacement Cache (Megiddo & Modha, FAST'03;
// cf. ZFS's ARC). Resident lists T1 (seen once) and T2 (seen twice or
// more), ghost lists B1/B2 of pages recently evicted from each, and a target
// size p for T1 that grows on a B1 refault and shrinks on a B2 refault.
//
// On this engine: T1 and T2 are each kept as a mapped (young) and an
// unmapped (old) list, as QueuePolicy does; the ghosts are eviction stamps
// found through the shadow entry (GhostQueue), and c is the most frames
// resident at once. Two differences from the paper, because the engine
// evicts before it adds: REPLACE cannot look at the incoming page (evict
// from T1 when |T1| > p, or T2 is empty), and p adapts on the refault's Add,
// after the eviction. Ghosts are trimmed on Add and Evicted to
// |T1|+|B1| <= c and |T1|+|T2|+|B1|+|B2| <= 2c.
#pragma once

#include "mm/policy/ghost_queue.h"
#include "mm/policy/list_policy.h"

namespace uswap {

class ArcPolicy final : public ListPolicy {
 public:
  explicit ArcPolicy(const ReclaimPolicyOptions& options)
      : ListPolicy(options, (1u << kT1Old) | (1u << kT2Old)) {}
  const char* name() const override { return "arc"; }

 private:
  enum : uint8_t { kT1Young = 1, kT1Old = 2, kT2Young = 3, kT2Old = 4 };
  USWAP_LIST_POLICY_HOOKS;
  uint32_t EvictedLocked(PageFrame* f) override REQUIRES(mu_);
  void TrimGhostsLocked() REQUIRES(mu_);
  size_t T1() const REQUIRES(mu_) { return SizeLocked(kT1Young, kT1Old); }
  size_t T2() const REQUIRES(mu_) { return SizeLocked(kT2Young, kT2Old); }

  size_t p_ GUARDED_BY(mu_) = 0;  // target size of T1
  GhostQueue b1_ GUARDED_BY(mu_);
  GhostQueue b2_ GUARDED_BY(mu_);
};

}  // namespace uswap
