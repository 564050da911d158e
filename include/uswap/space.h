// Space and Region: the public face of the paging engine.
//
// A Space owns a RAM budget, swap areas and the threads that serve page
// faults (kHandlerThreads mode) and reclaim (kswapd). Space::Map() returns
// a Region: memory that behaves like zero-initialised anonymous memory of
// any size; its cold pages go to swap and come back on the next touch.
//
//   uswap::Config cfg;
//   cfg.ram_budget_bytes = 64 << 20;
//   cfg.swap_areas.push_back({"/var/tmp/app.swap"});
//   auto space = uswap::Space::Open(cfg);
//   if (!space.ok()) { report(space.status()); return; }
//   auto region = (*space)->Map(1 << 30);
//   char* p = static_cast<char*>((*region)->data());   // use as memory
//
// Budget: every frame is charged before its page materialises and
// uncharged after its memory went back to the kernel, so resident region
// memory (as the kernel measures it) never exceeds the budget, with these
// exceptions, both counted:
//  - soft limit (the default): when reclaim can free nothing at all (swap
//    full, or every resident page pinned), a fault is served past the
//    budget (stats().budget_overshoot_pages); kswapd pulls resident memory
//    back under the budget as soon as it can (e.g. after a Swapon).
//    Reclaim racing other reclaimers never overshoots: it waits for them.
//  - the hard limit never overshoots: such an access gets SIGBUS instead.
// uswap's own per-page metadata is inside the budget, as a memory cgroup
// charges page tables: each resident frame counts its 40-byte descriptor,
// and the page table (lazy: 14.75 bytes per touched page including the
// checksum, nothing for untouched ones) is charged as it grows, so
// resident_pages x (page + 40) + page tables <= budget; stats().frame_limit
// is what the budget holds now, stats().metadata_bytes what uswap spends.
// Outside it, fixed or per swap area: descriptors allocated ahead of use
// (< 4096, 160 KiB), 1 byte per swap slot (swap_map; +24 with encryption),
// one reclaim buffer per thread that reclaimed.
//
// Thread-safety: Space and Region methods may be called from any thread
// (none is async-signal-safe: never call them from a signal handler).
// Region memory may be read and written by any thread concurrently.
// A Region must be destroyed before its Space (destroying a Space with live
// Regions aborts with a message saying so).
//
// fork(): regions are not inherited by children (MADV_DONTFORK): in a
// child, region memory is unmapped. A child may destroy its copies of
// Space and Region objects (or exit() with them alive): that touches
// nothing of the parent's. Every other call in a child fails with Busy.
//
// Memory the kernel writes through a pin: O_DIRECT reads, AIO, io_uring
// (registered/fixed buffers above all), RDMA and vmsplice take references
// to the pages and write to them without a page fault, possibly long after
// the system call started. uswap cannot see such pins; a page evicted
// meanwhile would lose those bytes. Pin() the buffer for as long as such
// I/O may use it (Pin keeps the pages resident, mapped and writable).
//
// madvise() on region memory: MADV_DONTNEED and MADV_PAGEOUT only drop the
// mappings (regions are shared memory): the contents stay and come back on
// the next touch. Discard() is the region's MADV_DONTNEED: its pages read
// as zeros afterwards. MADV_FREE fails with EINVAL (the kernel refuses it
// on shared memory) and changes nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "uswap/options.h"
#include "uswap/stats.h"
#include "uswap/status.h"

namespace uswap {

class Region;
class SpaceImpl;

// A RAM budget of `bytes` that several Spaces share — in one process or in
// many, as the processes of a memory cgroup share its limit
// (Config::shared_budget_fd). Returns a memfd (close-on-exec unless
// `inheritable`) that the caller owns: hand it to other processes by
// inheritance or over a UNIX socket, and close it when no more Space will
// join (joined Spaces keep the budget alive). `uswap run` puts a program's
// whole process tree in one. InvalidArgument below 64 pages.
Result<int> CreateSharedBudget(size_t bytes, bool inheritable = false);

class Space {
 public:
  // Probes userfaultfd features, opens the swap areas and starts the
  // threads. Fails (never crashes) when userfaultfd is unavailable or lacks
  // a feature, when an area is invalid or held, or when the budget is too
  // small; the message names the problem.
  static Result<std::unique_ptr<Space>> Open(const Config& config);
  ~Space();  // stops threads, closes fds and mappings, releases area locks
  Space(const Space&) = delete;
  Space& operator=(const Space&) = delete;

  // A new region of `bytes` (rounded up to pages) of zeroed memory. Costs
  // address space only; RAM is used per page touched. InvalidArgument for
  // 0 or more than 128 TiB; NoSpace when address space or memory for the
  // page-table directory (8 bytes per 128 MiB) runs out. Never throws.
  Result<std::unique_ptr<Region>> Map(size_t bytes);

  // Adds a swap area at run time (and wakes kswapd: an overshoot of the
  // soft limit is reclaimed into it). Errors: the area's problem (see
  // SwapDevices), NoSpace with 32 areas on.
  Status Swapon(const std::string& path, int priority = INT32_MIN);
  // Removes an area: every page in it is read back (or moved to another area
  // when the budget is short); nothing is lost. Fails with NoSpace, leaving
  // the area on, when the pages fit nowhere (never goes past the budget,
  // under either limit); IOError, leaving the area on, when a page cannot
  // be read back. Swapon, Swapoff, Map and Region destruction are
  // serialised with each other; faults go on meanwhile.
  Status Swapoff(const std::string& path);

  Stats stats() const;
  const Config& config() const;

 private:
  friend class SpaceImpl;
  friend SpaceImpl* ImplOf(Space& space);  // the engine's side (src/api), in-tree only
  explicit Space(std::unique_ptr<SpaceImpl> impl);
  std::unique_ptr<SpaceImpl> impl_;
};

class RegionImpl;

class Region {
 public:
  ~Region();  // returns every frame and swap slot of the region
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  void* data() const;
  size_t size() const;

  // Pinned pages are made resident, mapped writable, and never unmapped or
  // reclaimed (the seeds' unreclaimable pages). Ranges are rounded out to
  // pages. Pins nest. Required for buffers of I/O the kernel writes through
  // a pin (see above). Errors (nothing is pinned then): InvalidArgument for
  // a range outside the region, IOError for a page that cannot be read back
  // from swap, NoSpace when the hard limit has no frame for a page.
  Status Pin(size_t offset, size_t len);
  Status Unpin(size_t offset, size_t len);
  // mlock(2) on region memory: the pages of [offset, offset + len)
  // (rounded out to pages) in `scope` are mlock'ed — kept resident and
  // mapped, never reclaimed — until Munlock. Unlike pins, mlocks do not
  // nest (a page is locked or not) and are limited: the Space locks at most
  // Config::mlock_limit_bytes (cf. RLIMIT_MEMLOCK). Scopes:
  //  - kAll: every page, brought in (zero-filled if never touched): mlock();
  //  - kTouched: pages with contents (resident, on swap, compressed), brought
  //    in; never-touched ones stay so: mlockall(MCL_CURRENT) over memory an
  //    allocator reserved but did not use;
  //  - kResident: the resident pages only, nothing read in:
  //    mlockall(MCL_CURRENT | MCL_ONFAULT).
  // Errors (pages this call locked are unlocked again): InvalidArgument for
  // a range outside the region; NoSpace past the mlock limit, or under the
  // hard limit with no frame; IOError for a page that cannot be read back.
  enum class MlockScope { kAll, kTouched, kResident };
  Status Mlock(size_t offset, size_t len, MlockScope scope = MlockScope::kAll);
  // Unlocks the mlock'ed pages of the range (munlock(); others unchanged):
  // reclaim may take them again. InvalidArgument for a range outside the region.
  Status Munlock(size_t offset, size_t len);
  // mlockall()'s lock on fault (cf. VM_LOCKONFAULT): from now on every page
  // of [offset, offset + len) (rounded out to pages) that a fault brings in,
  // or maps again, is mlock'ed too; past the mlock limit it stays unlocked
  // (stats().mlock_limit_refusals, logged once). One range per region: a
  // call replaces the last; len 0 turns it off (pages stay locked: Munlock).
  // InvalidArgument for a range outside the region.
  Status SetMlockOnFault(size_t offset, size_t len);
  // Discards the contents of the pages in [offset, offset + len) (offset
  // page-aligned, len rounded up to pages): they read as zeros afterwards,
  // and their swap slots are freed. cf. MADV_DONTNEED on anonymous memory.
  // InvalidArgument for a misaligned or out-of-range request or a pinned
  // or mlock'ed page (nothing discarded); IOError if a page could not be
  // zeroed.
  Status Discard(size_t offset, size_t len);
  // Pushes the pages of [offset, offset + len) (rounded out to pages) out
  // of RAM now, as reclaim would, and returns when they are on swap: clean
  // pages (their slot still holds them) are dropped, all-zero pages freed
  // without a slot, dirty ones written. Their contents come back on the
  // next touch. cf. madvise(MADV_PAGEOUT) on anonymous memory. Best effort
  // as the kernel's: pinned pages, pages with I/O in flight and pages
  // touched meanwhile stay resident, and that is not an error.
  // InvalidArgument for a range outside the region; NoSpace when swap had
  // no room for a dirty page (it stays in RAM; nothing is lost).
  Status PageOut(size_t offset, size_t len);

 private:
  friend class SpaceImpl;
  friend RegionImpl* ImplOf(Region& region);  // the engine's side (src/api), in-tree only
  explicit Region(std::unique_ptr<RegionImpl> impl);
  std::unique_ptr<RegionImpl> impl_;
};

}  // namespace uswap
