// FaultHandler: resolves the page faults of uswap regions — mm's side of a
// fault (src/mm/memory.cc, the twin of mm/memory.c). The fault layer
// (src/fault) only receives faults (handler threads, SIGBUS) and calls it;
// every change to a user PTE goes through PteOps, which that layer's
// Userfaultfd implements.
// cf. handle_mm_fault() -> do_anonymous_page() / do_swap_page() /
// do_wp_page() in mm/memory.c. The swap-in itself (read, verify, install,
// the swap cache protocol) is mm's (MemoryNode::SwapInPagesLocked, shared
// with swapoff), and so is the readahead window (mm/swap_readahead.h).
//
//   fault on          action
//   kNone             zero page (one UFFDIO_ZEROPAGE); sequential streams
//                     get the following untouched pages too (fault-around)
//   kResident,        minor fault: CONTINUE, mark accessed (activate);
//     unmapped        write-protected when the page is clean and owns a slot
//   kSwapped          do_swap_page: read the page and its readahead window
//                     (virtually adjacent swapped pages, one batch of I/O),
//                     map the page; keep the slot while the page is clean
//   kSwapIn           another thread is reading it: wait on the swap cache
//   kFilled           one 64-bit word repeated: refill and map (no I/O)
//   WP (write to a    the page becomes dirty: free its slot, unprotect
//     clean page)
//
// Read errors are retried; a page that cannot be read is poisoned (the
// access gets SIGBUS, never zeros or stale data). Under a hard RAM limit a
// fault that gets no frame is poisoned too. A failure to fill the memfd
// (UFFDIO_ZEROPAGE/UFFDIO_COPY/pwrite: ENOMEM, ENOSPC in a cgroup) loses nothing:
// the page keeps its slot (or stays untouched), the thread is woken and its
// access faults again (audit F12).
//
// A fault on a page the page table calls mapped means its PTE was removed
// by someone else (madvise(MADV_DONTNEED/MADV_PAGEOUT) by the program, the
// kernel reclaiming the memfd) or that a racing fault mapped it first: the
// page is mapped again; the kernel answers EEXIST in the second case
// (audit F4: this used to wake the thread without mapping, forever).
//
// Two deliveries share this code: handler threads reading the userfaultfd
// (FaultThreads), and SIGBUS self-service (sigbus_delivery.h).
//
// Thread-safety: Handle() may run concurrently on any number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "mm/fault_trace.h"
#include "mm/memory_node.h"
#include "mm/pte_ops.h"
#include "mm/swap_readahead.h"

namespace uswap {

struct FaultOptions {
  unsigned readahead_pages = 8;        // base window (random access)
  unsigned max_readahead_pages = 128;  // sequential streams grow up to this
  unsigned fault_around_pages = 16;    // zero pages mapped ahead in a stream
  unsigned read_retries = 2;           // extra attempts before a page is poisoned
  FaultTrace* trace = nullptr;         // records every fault (Config::record_faults)
};

enum class FaultResult {
  kResolved,  // the page is mapped (or the faulting thread was woken to retry)
  kPoisoned,  // the page is poisoned: the access must get SIGBUS
  kNoFrame,   // Populate only: the hard limit (or budget) had no frame
};

class FaultHandler {
 public:
  FaultHandler(MemoryNode* node, PteOps* pte, const FaultOptions& options);

  // Resolves one fault at `address` (a write when `write`; `wp`: a write to
  // a page mapped write-protected). Takes regions_mu_ shared itself.
  FaultResult Handle(uintptr_t address, bool write, bool wp);
  // Pages the calling thread read from the disk so far (not the faults the
  // compressed tier served). A handler thread polls only while the faults
  // it resolves need no disk I/O.
  uint64_t disk_reads() const;
  // A SIGBUS (UFFD_FEATURE_SIGBUS) at `addr`: true when it was a uswap
  // fault and is resolved. The write flag is unknown, so a mapped
  // write-protected page is first mapped again (in case its PTE was
  // removed) and only treated as a write-protect fault when the kernel says
  // the PTE is there. Takes regions_mu_ shared itself.
  bool HandleSigbus(uintptr_t addr);
  // Same as Handle, with regions_mu_ already held shared and the region
  // known. `populate`: not a fault but Region::Pin making the page resident
  // and writable; a refused frame returns kNoFrame instead of poisoning.
  FaultResult HandleLocked(MmRegion* r, uint64_t index, bool write, bool wp, bool populate = false)
      REQUIRES_SHARED(node_->regions_mu());
  // Makes pages [first, end) resident, mapped and writable (Region::Pin).
  // kResolved, or kPoisoned (a page cannot be read back) / kNoFrame with
  // *failed the page. Takes regions_mu_ shared itself.
  FaultResult Populate(MmRegion* r, uint64_t first, uint64_t end, uint64_t* failed);

 private:
  FaultResult PopulateOne(MmRegion* r, uint64_t index) REQUIRES_SHARED(node_->regions_mu());
  FaultResult DoResident(MmRegion* r, uint64_t index, bool write);  // REQUIRES block lock
  FaultResult DoWpPage(MmRegion* r, uint64_t index);
  FaultResult DoAnonymousPage(MmRegion* r, uint64_t index, bool populate)
      REQUIRES_SHARED(node_->regions_mu());
  FaultResult DoSwapPage(MmRegion* r, uint64_t index, bool write, bool populate)
      REQUIRES_SHARED(node_->regions_mu());
  // A same-filled page (kFilled) is touched: refilled from its word.
  FaultResult DoFilledPage(MmRegion* r, uint64_t index, bool populate)
      REQUIRES_SHARED(node_->regions_mu());
  FaultResult PoisonLocked(MmRegion* r, uint64_t index, const char* why);  // REQUIRES block lock
  // The hard limit refused a frame: the access gets SIGBUS (a populate
  // gets kNoFrame and the page stays as it was).
  FaultResult NoFrame(MmRegion* r, uint64_t index, bool populate);
  // The memfd could not be filled: nothing is lost, the thread retries.
  FaultResult RetryLater(MmRegion* r, uint64_t index, const Status& why);

  MemoryNode* const node_;
  PteOps* const pte_;
  const FaultOptions options_;
  const size_t page_size_;
  SwapReadahead readahead_;
};

}  // namespace uswap
