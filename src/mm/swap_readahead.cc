#include "mm/swap_readahead.h"

#include <algorithm>

namespace uswap {

SwapReadahead::SwapReadahead(const ReadaheadOptions& options)
    : options_(options), window_(std::max(1u, options.base_pages)) {}

namespace {

// The direction in which a fault at `index` continues stream `s` (+1, -1),
// or 0. A candidate (one fault so far) becomes a stream only with the page
// right after or right before it: random access with some locality (a
// tree, a hash table) must not read windows it never uses. A stream then
// continues at the page it expects next, or a few pages on: a scan that
// skips pages (a stride; objects larger than a page visited by their
// headers, as a garbage collector does) still streams. The gap allowed
// grows with the window (the kernel's swap readahead sizes its window by
// readahead hits rather than strict adjacency: __swapin_nr_pages()).
int Continues(const MmRegion::Stream& s, uint64_t index) {
  const uint64_t next = s.next.load(std::memory_order_relaxed);
  if (next == UINT64_MAX) return 0;
  const uint64_t gap = 4 + s.window.load(std::memory_order_relaxed) / 4;
  switch (s.dir.load(std::memory_order_relaxed)) {
    case 1:
      return index >= next && index - next <= gap ? 1 : 0;
    case -1:
      return index <= next && next - index <= gap ? -1 : 0;
    default:  // a candidate started at `next`
      return index == next + 1 ? 1 : (index + 1 == next ? -1 : 0);
  }
}

}  // namespace

SwapReadahead::StreamWindow SwapReadahead::Stream(MmRegion* r, uint64_t index) const {
  for (auto& s : r->streams) {
    if (int dir = Continues(s, index)) {
      unsigned w = s.window.load(std::memory_order_relaxed);
      return {std::clamp(w * 2, std::max(2u, options_.base_pages), options_.max_pages), dir < 0};
    }
  }
  return {};
}

void SwapReadahead::StreamAdvance(MmRegion* r, uint64_t index, uint64_t lo, uint64_t hi,
                                  unsigned window) {
  for (auto& s : r->streams) {
    if (int dir = Continues(s, index)) {
      s.next.store(dir > 0 ? hi : (lo > 0 ? lo - 1 : UINT64_MAX), std::memory_order_relaxed);
      s.window.store(window, std::memory_order_relaxed);
      s.dir.store(static_cast<int8_t>(dir), std::memory_order_relaxed);
      return;
    }
  }
  // A new candidate stream replaces the oldest slot; it becomes a stream
  // when a later fault lands just after or just before this one.
  unsigned v = r->stream_victim.fetch_add(1, std::memory_order_relaxed) % MmRegion::kStreams;
  r->streams[v].next.store(index, std::memory_order_relaxed);
  r->streams[v].window.store(0, std::memory_order_relaxed);
  r->streams[v].dir.store(0, std::memory_order_relaxed);
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
