// RdistPolicy ("rdist", and "lirs"): uswap's own policy — LIRS's decision
// (Jiang & Zhang, SIGMETRICS'02) made from the engine's shadow entries and
// a per-frame last-use stamp, with S sized like ARC's p and a refault-driven
// unmap window for the live engine. With S fixed at 1% ("lirs") it is LIRS
// itself: comparing a page's last use with that of M's coldest page is
// LIRS's "is it in stack S" (the stack is ordered by last use, and pruning
// removes exactly the entries older than its LIR bottom); non-resident HIR
// entries are the shadows the engine keeps, so the policy holds no ghosts.
//
// Time is a clock that ticks at every Add and visible reference. Each frame
// keeps the tick of its last visible reference (policy_word); a shadow
// carries the evicted page's last-use tick, so on refault the policy knows
// the page's reuse distance r = now - last use (cf. workingset_refault()'s
// refault distance, counted in evictions from the eviction instead). Ticks
// are kept modulo 2^29: a page unseen for longer looks younger than it is.
//
//   M (protected, ~97% of c): pages whose last reuse was shorter than the
//     age of M's coldest page; LRU by last visible reference.
//   S (probation, the rest): new pages and pages with long reuse; LRU; the
//     victims come from here.
//   First touch              -> S (M while M is not full yet)
//   reference or refault, r  -> M if r < age of M's oldest page (which is
//                               demoted to S's head), else S's head
// A one-time scan passes through S and leaves M alone (scan resistance);
// a loop larger than the cache keeps a fixed set in M, as OPT does, where
// LRU evicts every page just before its use.
//
// Live (faults): references to mapped pages are unseen, and victims must
// be unmapped. The engine keeps unmapped the older quarter of S (its trial: a
// page touched there shows itself by a minor fault before eviction) plus a
// window at M's cold end, where a page still in use shows itself before it
// could be demoted. Unmapping all of S cost more minor faults than the
// misses it saved (doc/policies.md). The window adapts to refaults (cf.
// inactive_is_low() with workingset refaults): a demoted page that comes
// back (a reference in S or a refault admitted to M) means M's ages were
// stale, so the window grows by an eighth; every c/4 evictions it shrinks
// by an eighth, within [c/64, c/8].
//
// S adapts as ARC's p does: a refault admitted to M that had only been in
// S says S was too small to see its reuse (S grows, up to c/2); one that had
// been in M says M was too small (S shrinks, down to its floor, 3% of c
// and at least min(32, c/8) frames);
// the step is a quarter of S. A loop leaves S at its floor, a change of
// working set grows it until the new set gets in.
//
// Shadow bits: 1 = evicted from M, 2 = had been demoted from M.
#pragma once

#include "mm/policy/list_policy.h"

namespace uswap {

class RdistPolicy final : public ListPolicy {
 public:
  // kLirs: S fixed at 1% of c, as the LIRS paper's HIR share ("lirs");
  // kRdist: S from 3% of c, adapting ("rdist").
  enum class Variant { kLirs, kRdist };
  RdistPolicy(Variant variant, const ReclaimPolicyOptions& options)
      : ListPolicy(options, (1u << kSOld) | (1u << kMOld)),
        adaptive_(variant == Variant::kRdist),
        small_percent_(SmallPercent(variant)) {}
  const char* name() const override { return adaptive_ ? "rdist" : "lirs"; }

  // S's floor, in % of the cache.
  static constexpr unsigned SmallPercent(Variant v) { return v == Variant::kLirs ? 1 : 3; }
  // ... and in frames: S holds at least min(kMinSmall, c/8). Live, only S's
  // older quarter is unmapped, so a probation of a frame or two (1% of a
  // cache under 3 200 frames) evicts each new page before a reuse can show:
  // every page that turns hot pays a second miss. On the recorded programs
  // (caches of 50-2 300 frames) that made lirs 1.3-2.4x two-list's
  // estimated time in faults mode (doc/policies.md). From 3 200 frames
  // (12.5 MiB; rdist: 1 067) up the percentage rules and nothing changes.
  static constexpr size_t kMinSmall = 32;
  // rdist's S moves by a quarter of its size per signal (an eighth or a
  // sixteenth followed working-set changes too slowly; doc/policies.md).
  static constexpr size_t kStepDivisor = 4;

 private:
  enum : uint8_t { kSYoung = 1, kSOld = 2, kMYoung = 3, kMOld = 4 };
  static constexpr uint8_t kDemoted = kPolicyBit0;
  static constexpr uint32_t kNoReuse = UINT32_MAX;  // a first touch's r
  USWAP_LIST_POLICY_HOOKS;
  uint32_t EvictedLocked(PageFrame* f) override REQUIRES(mu_);
  size_t DeactivateTargetLocked() const override REQUIRES(mu_);

  size_t S() const REQUIRES(mu_) { return SizeLocked(kSYoung, kSOld); }
  size_t M() const REQUIRES(mu_) { return SizeLocked(kMYoung, kMOld); }
  size_t MTargetLocked() const REQUIRES(mu_) {
    const size_t c = CapacityLocked();
    const size_t floor =
        std::max({size_t{1}, c * small_percent_ / 100, std::min(kMinSmall, c / 8)});
    return c - std::min(floor + s_extra_, std::max<size_t>(1, c / 2));
  }
  // rdist's clock: ticks at every Add and visible reference (finer than
  // the eviction clock, which stands still while pages hit).
  uint32_t TickLocked() REQUIRES(mu_);
  // Ticks since `stamp`, modulo 2^29. Hides ListPolicy's (evictions).
  uint32_t SinceLocked(uint32_t stamp) const REQUIRES(mu_);
  // Ticks since M's least recently used page was last seen.
  uint32_t MTailAgeLocked() const REQUIRES(mu_);
  // Admits f (on no list) to M if its reuse distance r says so, else S.
  void PlaceLocked(PageFrame* f, uint32_t r, bool from_old) REQUIRES(mu_);
  // A page that had been demoted came back: M's ages were stale.
  void DemotionMissedLocked() REQUIRES(mu_);

  const bool adaptive_;  // S adapts (rdist) or stays at its floor (lirs)
  const unsigned small_percent_;
  size_t window_ GUARDED_BY(mu_) = 0;   // unmapped frames wanted at M's cold end
  size_t s_extra_ GUARDED_BY(mu_) = 0;  // S above its floor (the LRU check)
  uint32_t decay_ GUARDED_BY(mu_) = 0;
  uint32_t tick_ GUARDED_BY(mu_) = 0;
};

}  // namespace uswap
