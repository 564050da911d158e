#include "mm/policy/simulator.h"

#include <algorithm>
#include <limits>
#include <queue>
#include <tuple>

#include "base/check.h"

namespace uswap {

SimResult SimulateOpt(const Trace& trace, size_t cache_pages, std::vector<uint8_t>* miss_at) {
  USWAP_CHECK(cache_pages >= 1);
  constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
  const size_t n = trace.refs.size();
  // next[i]: the position of the next reference to the page of reference i.
  std::vector<uint64_t> next(n);
  std::vector<uint64_t> upcoming(trace.distinct(), kNever);
  for (size_t i = n; i-- > 0;) {
    next[i] = upcoming[trace.refs[i]];
    upcoming[trace.refs[i]] = i;
  }
  // Max-heap of (next use, ~page, id): the top is the farthest next use and,
  // among pages never used again, the lowest page number. An entry is stale
  // once its page was referenced again or evicted (due[id] differs).
  using Key = std::tuple<uint64_t, uint64_t, uint32_t>;
  std::priority_queue<Key> heap;
  std::vector<uint64_t> due(trace.distinct(), 0);
  std::vector<uint8_t> resident(trace.distinct(), 0);
  size_t used = 0;
  SimResult r;
  r.policy = "opt";
  r.references = n;
  r.distinct = trace.distinct();
  if (miss_at) miss_at->assign(n, 0);
  for (size_t i = 0; i < n; i++) {
    const uint32_t id = trace.refs[i];
    if (!resident[id]) {
      r.misses++;
      if (miss_at) (*miss_at)[i] = 1;
      if (used == cache_pages) {
        for (;;) {
          auto [when, neg_page, victim] = heap.top();
          heap.pop();
          if (!resident[victim] || due[victim] != when) continue;
          resident[victim] = 0;
          used--;
          break;
        }
      }
      resident[id] = 1;
      used++;
    }
    due[id] = next[i];
    heap.emplace(next[i], ~trace.pages[id], id);
  }
  return r;
}

namespace {

// The engine's reclaim loop over one policy (see simulator.h).
class Replay {
 public:
  Replay(const Trace& trace, size_t cache_pages, ReclaimPolicy& policy, Observe observe)
      : trace_(trace),
        policy_(policy),
        all_(observe == Observe::kAll),
        pool_(cache_pages),
        id_of_(cache_pages),
        frame_of_(trace.distinct(), nullptr),
        shadow_(trace.distinct(), 0),
        mapped_(trace.distinct(), 0) {
    free_.reserve(cache_pages);
    for (size_t k = cache_pages; k-- > 0;) free_.push_back(&pool_[k]);
  }

  SimResult Run(std::vector<uint8_t>* miss_at) {
    SimResult r;
    r.policy = policy_.name();
    r.references = trace_.refs.size();
    r.distinct = trace_.distinct();
    if (miss_at) miss_at->assign(trace_.refs.size(), 0);
    for (size_t i = 0; i < trace_.refs.size(); i++) {
      const uint32_t id = trace_.refs[i];
      if (PageFrame* f = frame_of_[id]) {
        if (all_) {
          policy_.MarkAccessed(f);
        } else if (!mapped_[id]) {  // a minor fault maps the page again
          r.minor_faults++;
          policy_.MarkAccessed(f);
          mapped_[id] = 1;
        }
        continue;
      }
      r.misses++;
      if (miss_at) (*miss_at)[i] = 1;
      if (free_.empty()) ReclaimOne();
      PageFrame* f = free_.back();
      free_.pop_back();
      *f = PageFrame{};
      f->index = trace_.pages[id];
      id_of_[f - pool_.data()] = id;
      frame_of_[id] = f;
      mapped_[id] = 1;
      policy_.Add(f, true, shadow_[id]);
    }
    return r;
  }

 private:
  uint32_t IdOf(const PageFrame* f) const { return id_of_[f - pool_.data()]; }

  // Deactivate + unmap + Putback(inactive): cf. RefillInactiveLocked.
  size_t Refill(size_t n) {
    batch_.clear();
    policy_.Deactivate(n, batch_);
    for (PageFrame* f : batch_) {
      mapped_[IdOf(f)] = 0;
      policy_.Putback(f, false);
    }
    return batch_.size();
  }

  // cf. MemoryNode::ReclaimLocked(1): frees exactly one frame.
  void ReclaimOne() {
    size_t target = policy_.DeactivateTarget();
    if (target) Refill(std::min<size_t>(std::max<size_t>(target, 1), 4));
    // Each round rotates or evicts, or deactivates; a policy that can give
    // no victim at all with a full cache is broken.
    for (size_t round = 0; round < 4 * pool_.size() + 16; round++) {
      batch_.clear();
      if (policy_.IsolateVictims(1, batch_) == 0) {
        USWAP_CHECK_MSG(Refill(1) != 0, "reclaim policy gives no victim with a full cache");
        continue;
      }
      PageFrame* f = batch_[0];
      const uint32_t id = IdOf(f);
      if (!all_ && mapped_[id]) {
        // In use: shrink_page_list rotates it; a pass that freed nothing
        // ages more (ReclaimLocked).
        policy_.Putback(f, true);
        Refill(1);
        continue;
      }
      shadow_[id] = policy_.Evicted(f);
      frame_of_[id] = nullptr;
      free_.push_back(f);
      return;
    }
    USWAP_CHECK_MSG(false, "reclaim policy never gives an unmapped victim");
  }

  const Trace& trace_;
  ReclaimPolicy& policy_;
  const bool all_;
  std::vector<PageFrame> pool_;
  std::vector<uint32_t> id_of_;  // frame slot -> page id
  std::vector<PageFrame*> free_;
  std::vector<PageFrame*> frame_of_;  // page id -> frame, nullptr when not cached
  std::vector<uint32_t> shadow_;      // page id -> shadow of its last eviction
  std::vector<uint8_t> mapped_;       // page id -> PTE present (kFaults)
  std::vector<PageFrame*> batch_;
};

}  // namespace

SimResult Simulate(const Trace& trace, size_t cache_pages, ReclaimPolicy& policy, Observe observe,
                   std::vector<uint8_t>* miss_at) {
  USWAP_CHECK(cache_pages >= 1);
  return Replay(trace, cache_pages, policy, observe).Run(miss_at);
}

}  // namespace uswap
