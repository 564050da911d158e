// ReclaimPolicy: decides which resident pages to unmap (age) and which to
// evict. CacheLib's MM-container vocabulary behind navy's virtual
// interface: the policy sees PageFrames only — never slots, stores or
// userfaultfd — so it can be tested and replaced alone, and the simulator
// (`uswap sim`, mm/policy/simulator.h) drives the very objects the engine
// runs live. Library `uswap_policy`: depends on base only (doc/policies.md).
//
// The engine's reference bit: a resident page is either mapped (its PTE is
// present; touching it costs nothing and tells us nothing) or unmapped (PTE
// zapped; the next touch is a minor fault, reported as MarkAccessed). Aging
// is therefore "unmap and see if it comes back" (cf. Linux 2.4 swap_out()
// feeding refill_inactive_scan()/page_launder(), seeds 003/004). How many
// pages to keep unmapped is the policy's call (DeactivateTarget): each one
// touched again costs a minor fault, too few leave reclaim blind.
//
// Life of a frame, and the eviction reasons:
//   Add(f, mapped, shadow)            resident (first touch or refault)
//   MarkAccessed / Deactivate+Putback aging while resident
//   IsolateVictims or Isolate         isolated (list = 0), then either
//     Putback(f, ...)                 kept after all, or
//     Evicted(f) -> shadow            EvictReason::kReclaimed: the page left
//                                     memory by reclaim (swapped out or
//                                     dropped); the engine keeps the shadow
//                                     with the evicted page and hands it back
//                                     to Add on refault (cf. workingset.c)
//   Remove(f)                         EvictReason::kRemoved: the page was
//                                     discarded (unmapped, MADV_DONTNEED,
//                                     region gone); no shadow, no refault
//
// Lists a policy may keep are numbered 1..7 in PageFrame::list (0 = on no
// list: isolated or new). PageFrame::policy_flags and ::policy_word are the
// policy's too.
//
// Thread-safety: every method may be called concurrently; implementations
// keep one internal lock (cf. lru_lock). Callers may hold page-table block
// locks when calling (lock order: block lock -> policy lock), never the
// reverse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mm/page_frame.h"

namespace uswap {

// Why a page left the policy (counted in ReclaimPolicyStats).
enum class EvictReason : uint8_t {
  kReclaimed,  // chosen by reclaim and evicted: Evicted() returned a shadow
  kRemoved,    // discarded by its owner: Remove(), no shadow
};

struct ReclaimPolicyStats {
  uint64_t active = 0;     // frames the policy considers hot (mapped)
  uint64_t inactive = 0;   // frames awaiting eviction (unmapped)
  uint64_t reclaimed = 0;  // EvictReason::kReclaimed so far
  uint64_t removed = 0;    // EvictReason::kRemoved so far
  uint64_t refaults = 0;   // Add() with a shadow (cf. WORKINGSET_REFAULT)
};

class ReclaimPolicy {
 public:
  virtual ~ReclaimPolicy() = default;
  virtual const char* name() const = 0;

  // A frame became resident. `mapped`: the faulting page (hot) vs a page
  // read ahead or faulted around without an access (cold). `shadow`: 0 for
  // a first touch, else what Evicted() returned when this page was last
  // evicted (a refault; cf. workingset_refault()).
  virtual void Add(PageFrame* f, bool mapped, uint32_t shadow) = 0;
  // The page of an isolated frame leaves memory by reclaim (swapped out or
  // dropped); called exactly once, just before the frame is freed. Returns
  // the shadow entry the engine keeps with the evicted page: an eviction
  // sequence number, possibly packed with a few policy bits; never 0.
  // cf. workingset_eviction().
  virtual uint32_t Evicted(PageFrame* f) = 0;
  // The frame leaves without reclaim (EvictReason::kRemoved: page
  // discarded, region unmapped). No-op when isolated. Only the thread that
  // isolated a frame may free it.
  virtual void Remove(PageFrame* f) = 0;
  // An unmapped page was touched (minor fault). cf. mark_page_accessed().
  // Returns true if the frame was activated.
  virtual bool MarkAccessed(PageFrame* f) = 0;
  // Chooses up to n mapped frames to unmap, takes them off the lists
  // (isolated: list = 0) and appends them to out. The caller unmaps them and
  // returns each with Putback(f, false) (inactive; a frame touched meanwhile
  // goes to active). Isolation is what keeps a frame from being evicted,
  // freed and recycled by another reclaimer while the caller still holds a
  // pointer to it (audit F5). cf. refill_inactive_scan() /
  // shrink_active_list() (isolate_lru_pages() onto l_hold).
  virtual size_t Deactivate(size_t n, std::vector<PageFrame*>& out) = 0;
  // Takes up to n eviction candidates off the lists (isolated: list = 0),
  // coldest first. cf. isolate_lru_pages().
  virtual size_t IsolateVictims(size_t n, std::vector<PageFrame*>& out) = 0;
  // Takes this frame off its list (isolated: list = 0), for reclaim that
  // chose the page itself (Region::PageOut). False when another reclaimer
  // holds it isolated already. cf. folio_isolate_lru().
  virtual bool Isolate(PageFrame* f) = 0;
  // Returns an isolated frame: to the hot side (`active`: it was found
  // mapped or pinned, i.e. in use) or back among the eviction candidates.
  virtual void Putback(PageFrame* f, bool active) = 0;
  // How many frames should be unmapped now for the inactive side to reach
  // its target (given the current sizes).
  virtual size_t DeactivateTarget() const = 0;
  virtual ReclaimPolicyStats Stats() const = 0;
};

// The inactive (unmapped) share of the resident frames that the list
// policies keep, in percent, unless told otherwise (Config::inactive_percent).
// The kernel keeps its inactive list at 1:1 below 1 GiB (inactive_is_low():
// inactive_ratio = sqrt(10 * GiB), at least 1), where aging is free: the
// hardware sets the accessed bit. Here each unmapped page that is touched
// again costs a minor fault and each unmapping a TLB flush, so the list is
// smaller: measured live (doc/policies.md, "The inactive share"), 10% beat
// 25% at one thread on zipf-read, mixed, rand-read and rand-write (+6% to
// +18% accesses/s) and on xz under `uswap run` (-14% wall time); at two
// threads it was even on zipf-read and 6% behind on mixed; the simulated
// misses rose by up to 12%.
inline constexpr unsigned kDefaultInactivePercent = 10;

struct ReclaimPolicyOptions {
  unsigned inactive_percent = kDefaultInactivePercent;  // see Config::inactive_percent
  // Frames the budget holds. The policies that size their lists by the cache
  // (arc, s3fifo, rdist) use the larger of this and the most frames resident
  // at once so far; 0 = learn it (exact once the budget has filled).
  size_t capacity = 0;
};

// The names CreateReclaimPolicy knows, in the order `uswap sim` lists them.
const std::vector<std::string>& ReclaimPolicyNames();

// A policy by name (ReclaimPolicyNames(); "" = "two-list", the default).
// nullptr for an unknown name.
std::unique_ptr<ReclaimPolicy> CreateReclaimPolicy(const std::string& name,
                                                   const ReclaimPolicyOptions& options);

}  // namespace uswap
