// PteOps: how mm installs pages in the user's view of a region — the twin
// of set_pte_at() at the end of do_swap_page(). mm owns the page life cycle
// (states, frames, slots, the swap cache); the fault layer owns the
// userfaultfd and implements this seam (Userfaultfd), so that the arrows
// keep pointing down (fault -> mm).
//
// Thread-safety: implementations may be called from any thread at once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uswap/status.h"

namespace uswap {

class PteOps {
 public:
  virtual ~PteOps() = default;
  // Puts `len` bytes from `src` into the pages of the user view at `addr`
  // (their memfd pages are holes) and maps them, write-protected when
  // `write_protect`; wakes the threads faulting on them. On an error
  // `*done` says how many bytes were installed first (those pages are in
  // the memfd and mapped).
  virtual Status CopyPages(uintptr_t addr, const void* src, size_t len, bool write_protect,
                           size_t* done) = 0;
};

}  // namespace uswap
