// FaultHandler: resolves the page faults of uswap regions.
// cf. handle_mm_fault() -> do_anonymous_page() / do_swap_page() /
// do_wp_page() in mm/memory.c, and swapin_readahead() in mm/swap_state.c.
//
//   fault on          action
//   kNone             zero page (fallocate + CONTINUE); sequential streams
//                     get the following untouched pages too (fault-around)
//   kResident,        minor fault: CONTINUE, mark accessed (activate);
//     unmapped        write-protected when the page is clean and owns a slot
//   kSwapped          do_swap_page: read the page and its readahead window
//                     (virtually adjacent swapped pages, one batch of I/O),
//                     map the page; keep the slot while the page is clean
//   kSwapIn           another thread is reading it: wait on the swap cache
//   WP (write to a    the page becomes dirty: free its slot, unprotect
//     clean page)
//
// Read errors are retried; a page that cannot be read is poisoned (the
// access gets SIGBUS, never zeros or stale data). Under a hard RAM limit a
// fault that gets no frame is poisoned too.
//
// Two deliveries share this code: handler threads reading the userfaultfd
// (FaultThreads), and SIGBUS self-service (sigbus_delivery.h).
//
// Thread-safety: Handle() may run concurrently on any number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "fault/uffd.h"
#include "mm/memory_node.h"

namespace uswap {

struct FaultOptions {
  unsigned readahead_pages = 8;       // base window (random access)
  unsigned max_readahead_pages = 64;  // sequential streams grow up to this
  unsigned fault_around_pages = 16;   // zero pages mapped ahead in a stream
  unsigned read_retries = 2;          // extra attempts before a page is poisoned
};

enum class FaultResult {
  kResolved,  // the page is mapped (or the faulting thread was woken to retry)
  kPoisoned,  // the page is poisoned: the access must get SIGBUS
};

class FaultHandler {
 public:
  FaultHandler(MemoryNode* node, Userfaultfd* uffd, const FaultOptions& options);

  // Resolves one fault. Takes regions_mu_ shared itself.
  FaultResult Handle(const UffdFault& fault);
  // Same, with regions_mu_ already held shared and the region known.
  FaultResult HandleLocked(MmRegion* r, uint64_t index, bool write, bool wp);

 private:
  FaultResult DoResident(MmRegion* r, uint64_t index, bool write);  // REQUIRES block lock
  FaultResult DoWpPage(MmRegion* r, uint64_t index);
  FaultResult DoAnonymousPage(MmRegion* r, uint64_t index);
  FaultResult DoSwapPage(MmRegion* r, uint64_t index, bool write);
  FaultResult PoisonLocked(MmRegion* r, uint64_t index, const char* why);  // REQUIRES block lock
  // The hard limit refused a frame: the access gets SIGBUS.
  FaultResult NoFrame(MmRegion* r, uint64_t index);

  // Sequential stream detection (cf. ondemand_readahead()): returns the
  // window to use at `index` (0 = not a stream) and advances the stream.
  unsigned StreamWindow(MmRegion* r, uint64_t index);
  void StreamAdvance(MmRegion* r, uint64_t index, uint64_t next, unsigned window);
  // Random-access readahead window from recent hit rates (cf. __swapin_nr_pages()).
  unsigned RandomWindow();

  MemoryNode* const node_;
  Userfaultfd* const uffd_;
  const FaultOptions options_;
  const size_t page_size_;
  std::atomic<uint64_t> ra_issued_{0}, ra_hits_seen_{0};
  std::atomic<unsigned> ra_window_;
};

}  // namespace uswap
