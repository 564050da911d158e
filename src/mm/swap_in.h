// SwapInPage: one page of a swap-in batch (MemoryNode::SwapInPagesLocked,
// the twin of read_swap_cache_async() + swap_read_folio() + the install at
// the end of do_swap_page()). The one swap-in routine: do_swap_page with
// its readahead window (src/fault) and swapoff's try_to_unuse
// (MemoryNode::UnuseAreaLocked) both go through it.
#pragma once

#include <cstdint>

#include "swap/swap_entry.h"

namespace uswap {

struct SwapInPage {
  // Set by MemoryNode::MarkSwapInLocked.
  uint64_t index = 0;   // page of the region, now kSwapIn
  SwapEntry entry;      // its slot, registered in the swap cache
  uint32_t sum = 0;     // the slot's checksum (PageEntry::sum)
  uint32_t shadow = 0;  // the policy's shadow entry left at eviction (0: none)

  // Chosen by the caller.
  bool map = false;        // map it in the user view now (else the memfd only)
  bool dirty = false;      // about to be written: free its slot, map it writable
  bool readahead = false;  // not asked for: counts a readahead hit when touched

  // Out.
  enum class Result : uint8_t { kOk, kReadFailed, kInstallFailed };
  Result result = Result::kOk;
};

}  // namespace uswap
