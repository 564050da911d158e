// S3FifoPolicy ("s3fifo"): S3-FIFO (Yang et al., SOSP'23). Three FIFO
// queues: S (small, 10% of the cache) takes new pages, M (main) the pages
// that proved themselves, G (ghost, as many entries as M) remembers pages
// evicted from S. A visible reference only bumps a 2-bit frequency
// (policy_word). Eviction:
//   from S when |S| >= 10% of c (or M is empty): the oldest of S moves to M
//     (frequency reset) if it was referenced, else it is evicted into G;
//   from M otherwise: the oldest of M with a frequency goes back to M's
//     head with one less, else it is evicted.
//   A refault found in G goes straight to M.
// The loop runs until one page is evicted (the paper's EVICTS calls EVICTM
// when M is full; here moving to M never evicts by itself, the next round
// of the loop does). On this engine S and M are each a mapped (young) and
// an unmapped (old) list (see QueuePolicy); G is eviction stamps found
// through the shadow entry (GhostQueue); c is the most frames resident at
// once. cf. CacheLib has no twin; libCacheSim's S3FIFO.
#pragma once

#include "mm/policy/ghost_queue.h"
#include "mm/policy/list_policy.h"

namespace uswap {

class S3FifoPolicy final : public ListPolicy {
 public:
  explicit S3FifoPolicy(const ReclaimPolicyOptions& options)
      : ListPolicy(options, (1u << kSOld) | (1u << kMOld)) {}
  const char* name() const override { return "s3fifo"; }

 private:
  enum : uint8_t { kSYoung = 1, kSOld = 2, kMYoung = 3, kMOld = 4 };
  static constexpr uint32_t kMaxFreq = 3;
  USWAP_LIST_POLICY_HOOKS;
  uint32_t EvictedLocked(PageFrame* f) override REQUIRES(mu_);
  size_t S() const REQUIRES(mu_) { return SizeLocked(kSYoung, kSOld); }
  size_t M() const REQUIRES(mu_) { return SizeLocked(kMYoung, kMOld); }
  // Evict from S (rather than M) now.
  bool FromSmallLocked() const REQUIRES(mu_) {
    return S() > 0 && (S() * 10 >= CapacityLocked() || M() == 0);
  }

  GhostQueue ghost_ GUARDED_BY(mu_);
};

}  // namespace uswap
