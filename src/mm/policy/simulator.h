// The policy simulator behind `uswap sim` (doc/policies.md): replays a page
// trace through a ReclaimPolicy — the very object the engine runs — with
// one PageFrame per cached page, modelling the engine's reclaim loop
// (MemoryNode::ReclaimLocked), and computes Belady's OPT for comparison.
//
// Definitions (exact, so results are comparable): the cache holds N pages; a
// reference to a page not in the cache is a miss (first references
// included). A miss with a full cache evicts one page first:
//   1. keep the policy's DeactivateTarget: Deactivate(min(max(target,1),4))
//      then Putback(f, false) for each (the engine unmaps them);
//   2. IsolateVictims(1); a victim that is mapped is put back active
//      (rotated, as shrink_page_list does) and one more frame is aged
//      (Deactivate(1), Putback); otherwise Evicted() gives its shadow, kept
//      for the page's next Add; when the policy has no victim, Deactivate(1)
//      and try again.
// Observe::kAll reports every reference to a resident page (MarkAccessed),
// as a cache simulator does. Observe::kFaults reports what a live uswap
// sees: a reference to a mapped resident page is invisible, one to an
// unmapped resident page is a minor fault (MarkAccessed, and the page is
// mapped again), a miss maps the page (Add(f, true, shadow)).
//
// Thread-safety: pure functions over their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mm/policy/reclaim_policy.h"
#include "mm/policy/trace.h"

namespace uswap {

enum class Observe { kAll, kFaults };

struct SimResult {
  std::string policy;
  uint64_t references = 0;
  uint64_t distinct = 0;
  uint64_t misses = 0;
  uint64_t minor_faults = 0;  // Observe::kFaults only
  double miss_ratio() const { return references ? double(misses) / double(references) : 0; }
};

// Belady's MIN: on a miss with a full cache, evict the cached page whose
// next reference is farthest in the future (never referenced again first;
// ties by lowest page number). `miss_at`, when given, gets 1 per missed
// reference and 0 per hit.
SimResult SimulateOpt(const Trace& trace, size_t cache_pages,
                      std::vector<uint8_t>* miss_at = nullptr);

// The trace through `policy` (fresh: nothing added yet). REQUIRES:
// cache_pages >= 1.
SimResult Simulate(const Trace& trace, size_t cache_pages, ReclaimPolicy& policy, Observe observe,
                   std::vector<uint8_t>* miss_at = nullptr);

}  // namespace uswap
