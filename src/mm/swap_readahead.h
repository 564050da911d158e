// SwapReadahead: how many pages a swap-in reads with the faulting one.
// cf. swapin_readahead() / __swapin_nr_pages() in mm/swap_state.c and
// ondemand_readahead() in mm/readahead.c.
//
// - A sequential stream (a fault just after the previous fault's window in
//   the same region, or a few pages on: a scan that skips pages still
//   streams) reads ahead of the fault, the window doubling per fault up to
//   max_pages (Config::stream_readahead_pages) and ending at a page-table
//   block's end, so that it may span blocks; its pages are mapped at once
//   (fault-around). A descending stream (just before the previous window)
//   reads behind the fault the same way, its window starting at a block's
//   start: CPython frees a list from its end (list_dealloc), and a
//   descending scan of swapped memory otherwise costs a fault per page
//   (cf. the kernel's swap_vma_ra_win, which reads in either direction).
// - Random access reads an aligned window around the fault whose size
//   follows recent readahead hits: every 256 pages read ahead it halves when
//   under a quarter were used and doubles (up to base_pages) when over half
//   were; at 1 page it probes with base_pages one fault in 64, so that it
//   can grow back. On uniform random access it therefore costs nothing.
//
// The per-region stream slots live in MmRegion (cf. file_ra_state).
// Thread-safety: every method may be called concurrently (relaxed atomics:
// the windows are heuristics, a lost update only sizes one window).
#pragma once

#include <atomic>
#include <cstdint>

#include "mm/mm_region.h"

namespace uswap {

struct ReadaheadOptions {
  unsigned base_pages = 8;   // random-access window (Config::readahead_pages)
  unsigned max_pages = 128;  // sequential streams grow up to this (may span blocks)
};

class SwapReadahead {
 public:
  explicit SwapReadahead(const ReadaheadOptions& options);

  // The stream a fault at `index` continues: its next window's size (0:
  // none) and direction.
  struct StreamWindow {
    unsigned pages = 0;
    bool descending = false;
  };
  StreamWindow Stream(MmRegion* r, uint64_t index) const;
  // After a fault at `index` resolved [lo, hi) (index in it) with a window
  // of `window` pages: the stream it continues moves on past the window in
  // its direction, or `index` starts a candidate one.
  void StreamAdvance(MmRegion* r, uint64_t index, uint64_t lo, uint64_t hi, unsigned window);
  // The random-access window; `hits` is the node's readahead_hits counter.
  unsigned RandomWindow(uint64_t hits);
  // `n` pages were read ahead (not faulted on).
  void NoteIssued(uint64_t n) { issued_.fetch_add(n, std::memory_order_relaxed); }

 private:
  const ReadaheadOptions options_;
  std::atomic<uint64_t> issued_{0}, hits_seen_{0};
  std::atomic<unsigned> window_;
};

}  // namespace uswap
