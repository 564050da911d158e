#include "mm/swap_readahead.h"

#include <algorithm>

namespace uswap {

SwapReadahead::SwapReadahead(const ReadaheadOptions& options)
    : options_(options), window_(std::max(1u, options.base_pages)) {}

unsigned SwapReadahead::StreamWindow(MmRegion* r, uint64_t index) const {
  for (auto& s : r->streams) {
    if (s.next.load(std::memory_order_relaxed) == index) {
      unsigned w = s.window.load(std::memory_order_relaxed);
      return std::clamp(w * 2, std::max(2u, options_.base_pages), options_.max_pages);
    }
  }
  return 0;
}

void SwapReadahead::StreamAdvance(MmRegion* r, uint64_t index, uint64_t next, unsigned window) {
  for (auto& s : r->streams) {
    if (s.next.load(std::memory_order_relaxed) == index) {
      s.next.store(next, std::memory_order_relaxed);
      s.window.store(window, std::memory_order_relaxed);
      return;
    }
  }
  // A new candidate stream replaces the oldest slot; it becomes a stream
  // when the next fault lands right after this one.
  unsigned v = r->stream_victim.fetch_add(1, std::memory_order_relaxed) % MmRegion::kStreams;
  r->streams[v].next.store(index + 1, std::memory_order_relaxed);
  r->streams[v].window.store(0, std::memory_order_relaxed);
}

unsigned SwapReadahead::RandomWindow(uint64_t hits) {
  const unsigned base = std::max(1u, options_.base_pages);
  uint64_t issued = issued_.load(std::memory_order_relaxed);
  if (issued >= 256) {
    uint64_t seen = hits_seen_.exchange(hits, std::memory_order_relaxed);
    issued_.store(0, std::memory_order_relaxed);
    uint64_t new_hits = hits - seen;
    unsigned w = window_.load(std::memory_order_relaxed);
    if (new_hits * 4 < issued)
      w = std::max(1u, w / 2);
    else if (new_hits * 2 > issued)
      w = std::min(base, w * 2);
    window_.store(w, std::memory_order_relaxed);
  }
  unsigned w = window_.load(std::memory_order_relaxed);
  if (w == 1 && issued == 0) {
    // With no readahead there is nothing to measure: probe with the base
    // window now and then (1 fault in 64) so the window can grow back.
    static thread_local unsigned probe = 0;
    if (++probe % 64 == 0) return base;
  }
  return w;
}

}  // namespace uswap
