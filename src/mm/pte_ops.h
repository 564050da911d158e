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

  // Memfd pages present (page cache), PTEs missing: maps the pages of
  // [addr, addr+len), write-protected when `write_protect`, and wakes the
  // threads faulting on them (UFFDIO_CONTINUE). Returns the bytes mapped;
  // a page mapped already (a racing fault) counts as mapped, its waiters
  // woken.
  virtual Result<size_t> Continue(uintptr_t addr, size_t len, bool write_protect) = 0;
  // One such call on [addr, addr+len): true when it mapped, false when a
  // PTE was there already (nobody is woken).
  virtual Result<bool> TryContinue(uintptr_t addr, size_t len, bool write_protect) = 0;
  // Memfd pages are holes: allocates zeroed pages and maps them writable
  // (UFFDIO_ZEROPAGE; do_anonymous_page), or puts `len` bytes from `src`
  // there and maps them, write-protected when `write_protect` (UFFDIO_COPY;
  // the end of do_swap_page). Both wake the threads faulting on them. On an
  // error `*done` says how many bytes were installed first (those pages are
  // in the memfd and mapped).
  virtual Status ZeroPage(uintptr_t addr, size_t len, size_t* done) = 0;
  virtual Status CopyPages(uintptr_t addr, const void* src, size_t len, bool write_protect,
                           size_t* done) = 0;
  // Makes a write-protected mapping writable and wakes the writers (do_wp_page).
  virtual Status Unprotect(uintptr_t addr, size_t len) = 0;
  // Wakes the threads faulting in the range without resolving anything:
  // their access faults again.
  virtual Status Wake(uintptr_t addr, size_t len) = 0;
  // Marks the range poisoned: the next access raises SIGBUS (VM_FAULT_HWPOISON).
  virtual Status Poison(uintptr_t addr, size_t len) = 0;
};

}  // namespace uswap
