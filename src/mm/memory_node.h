// MemoryNode: the engine's memory-management core for one Space — frames
// (the budget), the reclaim policy's lists, the swap cache, and the page-out
// and swap-in paths. cf. struct pglist_data (a NUMA node: its zones'
// watermarks, lruvec and kswapd) together with mm/vmscan.c and
// mm/swap_state.c.
//
// It knows regions (MmRegion) and swap areas (SwapDevices) but not
// userfaultfd: mapping pages into the user view is fault/'s job. Everything
// here works on the memfd (page copies in and out), the page table, and
// zaps of the user view.
//
// Region lifetime: regions_mu_ is held shared by every path that works on
// pages of a region (fault handling, reclaim, swapoff) and exclusive by
// region teardown, so a region's frames are never touched after teardown.
// Methods named *Locked require the caller to hold it (shared).
//
// Lock order: regions_mu_ -> block lock -> policy lock -> swap area locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <vector>

#include "mm/frame_pool.h"
#include "mm/mm_region.h"
#include "mm/page_io.h"
#include "mm/policy/reclaim_policy.h"
#include "mm/swap_cache.h"
#include "mm/vmstat.h"
#include "swap/swap_devices.h"

namespace uswap {

struct MemoryNodeOptions {
  uint64_t budget_pages = 0;
  Watermarks watermarks;
  std::string policy = "two-list";
  unsigned inactive_percent = 25;
  unsigned writeback_batch = 64;  // pages isolated per shrink pass
  bool hard_limit = false;
};

class MemoryNode {
 public:
  MemoryNode(const MemoryNodeOptions& options, SwapDevices* devices, PageIo* page_io);
  ~MemoryNode();

  FramePool& frames() { return frames_; }
  ReclaimPolicy& policy() { return *policy_; }
  SwapCache& swap_cache() { return swap_cache_; }
  SwapDevices& devices() { return *devices_; }
  PageIo& page_io() { return *page_io_; }
  VmStat& vmstat() { return vmstat_; }
  std::shared_mutex& regions_mu() { return regions_mu_; }
  const MemoryNodeOptions& options() const { return options_; }

  // Called when free frames fall below the low watermark (kswapd wake-up).
  void set_wakeup_kswapd(std::function<void()> fn) { wakeup_kswapd_ = std::move(fn); }

  // ---- frames -----------------------------------------------------------
  // Charges n frames for pages about to materialise. Below the low
  // watermark it wakes kswapd; when the budget is exhausted it reclaims
  // directly (cf. __alloc_pages_direct_reclaim). When reclaim cannot free
  // enough: soft limit -> charges anyway and counts the overshoot; hard
  // limit -> returns false. REQUIRES: regions_mu_ held shared, no block lock.
  bool ChargeFramesLocked(uint64_t n);
  // A page became resident: takes a frame descriptor, links it to the page
  // and hands it to the policy. REQUIRES: block lock of `index`; the frame
  // was charged.
  PageFrame* InstallFrame(MmRegion* r, uint64_t index, bool mapped);
  // Releases a resident page's frame (policy, descriptor, charge).
  // REQUIRES: block lock; the memfd page was already freed.
  void ReleaseFrame(PageEntry& p);

  // ---- reclaim ----------------------------------------------------------
  // Unmaps up to n mapped pages chosen by the policy (active -> inactive).
  // cf. refill_inactive_scan(). Returns pages unmapped.
  size_t RefillInactiveLocked(size_t n);
  // Evicts up to n inactive pages: clean ones are dropped, all-zero ones
  // freed without a slot, dirty ones written to swap (contiguous slots, runs
  // in one I/O) and freed after the write completed. cf. shrink_page_list().
  // Returns frames freed.
  size_t ShrinkInactiveLocked(size_t n);
  // One reclaim round: age to the inactive target, then shrink up to n.
  size_t ReclaimLocked(size_t n);
  // kswapd's step: reclaims until free frames reach the high watermark or
  // no progress is made. Returns frames freed. cf. balance_pgdat().
  size_t BalanceOnce();
  bool NeedsBalance() const;

  // ---- swap-in ----------------------------------------------------------
  // Reads the slots of pages in kSwapIn state into their memfd pages.
  // `ok[i]` tells whether page i was read and verified.
  void ReadPages(std::span<const PageRead> reads, std::vector<bool>& ok);

  // ---- regions ----------------------------------------------------------
  // Makes a region known (fault lookup, swapoff). Takes regions_mu_ exclusive.
  void AddRegion(MmRegion* r);
  // The region whose user view contains `addr`, or nullptr.
  // REQUIRES: regions_mu_ held shared.
  MmRegion* FindRegionLocked(uintptr_t addr) const;
  std::vector<MmRegion*> RegionsLocked() const;
  // Forgets a region and frees every frame and slot of it. Takes
  // regions_mu_ exclusive, so it waits for faults and reclaim in flight;
  // `detach` runs under that lock first (unregister the user view).
  void ReleaseRegion(MmRegion* r, const std::function<void()>& detach);
  // Moves every page of `r` off swap area `type` (swapoff): swapped pages are
  // read back, clean copies lose their slot. REQUIRES: regions_mu_ shared.
  Status UnuseAreaLocked(MmRegion* r, unsigned type);

 private:
  struct WriteItem {
    MmRegion* region;
    uint64_t index;
    PageFrame* frame;
    SwapEntry entry;
    const uint8_t* copy;  // the page's bytes, copied out under its block lock
  };
  void WritePages(std::vector<WriteItem>& items, size_t& freed);

  const MemoryNodeOptions options_;
  SwapDevices* const devices_;
  PageIo* const page_io_;
  FramePool frames_;
  std::unique_ptr<ReclaimPolicy> policy_;
  SwapCache swap_cache_;
  VmStat vmstat_;
  std::shared_mutex regions_mu_;
  std::map<uintptr_t, MmRegion*> regions_;  // by user-view base; guarded by regions_mu_
  std::function<void()> wakeup_kswapd_;
  std::atomic<uint64_t> overshoot_logged_{0};
};

}  // namespace uswap
