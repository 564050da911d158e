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
// Methods named *Locked require the caller to hold it (shared). It prefers
// writers (base/mutex.h), so teardown is not starved by faults (audit F18);
// no thread may take it shared twice.
//
// Lock order (doc/engine.md has the whole table): regions_mu_ -> block
// lock(s) -> policy lock -> swap cache shard / swap table -> swap area locks;
// progress_mu_ is a leaf.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "mm/frame_pool.h"
#include "mm/mm_region.h"
#include "mm/page_io.h"
#include "mm/policy/reclaim_policy.h"
#include "mm/pte_ops.h"
#include "mm/swap_cache.h"
#include "mm/swap_in.h"
#include "mm/vmstat.h"
#include "mm/zswap.h"
#include "swap/swap_devices.h"

namespace uswap {

struct MemoryNodeOptions {
  uint64_t budget_pages = 0;
  Watermarks watermarks;
  std::string policy = "two-list";
  unsigned inactive_percent = kDefaultInactivePercent;
  unsigned writeback_batch = 64;  // pages isolated per shrink pass
  bool hard_limit = false;
  // Most pages mlock'ed at once (MlockLocked; cf. RLIMIT_MEMLOCK).
  uint64_t mlock_limit_pages = 0;
  ZswapOptions zswap;  // the compressed tier's, when a codec is given
  // A budget shared with other Spaces (outlives the node), or null: frames
  // and metadata are charged to it too; the group's requests are reclaimed
  // by kswapd (BalanceOnce), and a charge it refuses waits for the other
  // members after reclaiming here (ChargeFramesLocked).
  MemCgroup* group = nullptr;
};

class MemoryNode {
 public:
  // `codec`: the compressed tier's (Zswap in front of the swap areas), or
  // null for none.
  MemoryNode(const MemoryNodeOptions& options, SwapDevices* devices, PageIo* page_io,
             std::unique_ptr<Compressor> codec = nullptr);
  ~MemoryNode();

  FramePool& frames() { return frames_; }
  ReclaimPolicy& policy() { return *policy_; }
  SwapCache& swap_cache() { return swap_cache_; }
  SwapDevices& devices() { return *devices_; }
  PageIo& page_io() { return *page_io_; }
  Zswap* zswap() { return zswap_.get(); }  // the compressed tier, or nullptr
  VmStat& vmstat() { return vmstat_; }
  SharedMutex& regions_mu() RETURN_CAPABILITY(regions_mu_) { return regions_mu_; }
  const MemoryNodeOptions& options() const { return options_; }

  // Called when free frames fall below the low watermark (kswapd wake-up).
  // Set once before any fault can run, cleared after the last one.
  void set_wakeup_kswapd(std::function<void()> fn) { wakeup_kswapd_ = std::move(fn); }
  void WakeKswapd() {
    if (wakeup_kswapd_) wakeup_kswapd_();
  }

  // ---- frames -----------------------------------------------------------
  enum class Charge {
    kMayOvershoot,  // the configured limit decides (soft: overshoot, hard: fail)
    kWithinBudget,  // never overshoot, even under the soft limit (swapoff)
  };
  // Charges n frames for pages about to materialise. Below the low
  // watermark it wakes kswapd; when the budget is exhausted it reclaims
  // directly (cf. __alloc_pages_direct_reclaim). While frames are in
  // flight elsewhere (isolated by another reclaimer, in write-back, being
  // swapped in) a fruitless round waits for their progress instead of
  // giving up (audit F10). Only when reclaim can free nothing at all
  // (swap full, every page pinned): soft limit -> charges a single frame
  // anyway (n > 1 returns false: callers retry with the faulting page
  // alone), counts the overshoot and wakes kswapd to pull it back; hard
  // limit or kWithinBudget -> returns false.
  // In a group (MemoryNodeOptions::group): below the group's low mark the
  // members are asked to reclaim their shares; a charge the group refuses
  // reclaims here first, then asks the members and waits for their
  // progress (bounded) before it overshoots or fails as above.
  // REQUIRES: regions_mu_ held shared, no block lock.
  bool ChargeFramesLocked(uint64_t n, Charge mode = Charge::kMayOvershoot)
      REQUIRES_SHARED(regions_mu_);
  // A page became resident: takes a frame descriptor, links it to the page
  // and hands it to the policy with the page's shadow entry (what the policy
  // said when it evicted the page last; 0 for a first touch).
  // REQUIRES: block lock of `index`; the frame was charged.
  PageFrame* InstallFrame(MmRegion* r, uint64_t index, bool mapped, uint32_t shadow);

  // ---- mlock (cf. mm/mlock.c) ----------------------------------------------
  // Marks page index of r mlock'ed: from then on reclaim leaves it resident
  // and mapped (it goes back to the active list, cf. the unevictable list)
  // until MunlockLocked. Returns false, changing nothing, when the node has
  // options().mlock_limit_pages mlock'ed already (cf. RLIMIT_MEMLOCK); true
  // when the page is mlock'ed now (or was). The caller brings the page in.
  // REQUIRES: the block lock of index.
  bool MlockLocked(MmRegion* r, uint64_t index);
  void MunlockLocked(MmRegion* r, uint64_t index);
  // The fault path's mlock (cf. VM_LOCKONFAULT): the pages of [first, end)
  // in r's lock-on-fault range are mlock'ed, just before a fault maps them
  // (so that a thread the mapping wakes sees them locked in stats()); over
  // the limit a page stays unlocked, counted (mlock_limit_refusals) and
  // logged once. REQUIRES: the block lock of the pages (one block).
  void MlockOnFaultLocked(MmRegion* r, uint64_t first, uint64_t end);
  uint64_t mlocked_pages() const { return mlocked_pages_.load(std::memory_order_relaxed); }
  // Gives a never-touched (kNone) page of `r` the contents `data` (8-byte
  // aligned): put in the memfd, resident, unmapped and dirty, on the
  // policy's lists; its next access maps it (a MINOR fault). A same-filled
  // page takes no frame: all zero stays kNone, another word becomes kFilled. The frame is charged
  // as a fault's (ChargeFramesLocked: the caller's thread reclaims when the budget is full), so
  // this works before any of the Space's threads run. cf. copy_page_range() copying a page into a
  // fork child. InvalidArgument if the page is not kNone; NoSpace under a hard limit with no frame.
  // REQUIRES: regions_mu_ held shared, no block lock.
  Status AddPageLocked(MmRegion* r, uint64_t index, const void* data) REQUIRES_SHARED(regions_mu_);
  // Reads the contents of pages [first, first + n) of `r` into `out` (n
  // pages, page-aligned) and changes nothing: no fault, no frame charged,
  // nothing mapped, the lists untouched. Swapped pages are read from their
  // tier in one batch per block and kept only if they match the checksum
  // the page had when it was looked at; a slot freed and reused meanwhile
  // does not, and the page is looked at again. cf. copy_page_range(): the
  // kernel hands a fork child the parent's swap entry (swap_duplicate());
  // a child here is another process with a swap area of its own, so it gets
  // the bytes, read without bringing them into the parent's memory.
  // NotSupported without checksums (a reused slot could not be told
  // apart); IOError for a poisoned page or one that stays unreadable.
  // REQUIRES: regions_mu_ held shared, no block lock.
  //
  // With `objects`, a page the compressed tier holds is not decompressed:
  // its object is appended there instead (Zswap::CopyObject, under the
  // page's block lock, so that the slot is still the page's) and its place
  // in `out` is left as it was.
  struct CompressedPages {
    struct Page {
      uint32_t index;  // within the copy
      uint32_t len;    // of its object
      uint32_t sum;    // the page's checksum
    };
    std::vector<Page> pages;     // in order
    std::vector<uint8_t> bytes;  // the objects, one after another
    void clear() { pages.clear(), bytes.clear(); }
  };
  Status CopyPagesLocked(MmRegion* r, uint64_t first, uint64_t n, uint8_t* out,
                         CompressedPages* objects = nullptr) REQUIRES_SHARED(regions_mu_);
  // The other side of a compressed copy: the never-touched page `index`
  // becomes swapped, its object in this node's compressed tier under a
  // slot of its own, with checksum `sum` (checked when it is loaded). When
  // the tier takes no more or no slot is free, the page is decompressed
  // and added as AddPageLocked adds it. Corruption if the object does not
  // decompress to `sum`; otherwise AddPageLocked's errors.
  // REQUIRES: regions_mu_ held shared, no block lock; a compressed tier
  // with the codec that made the object.
  Status AddObjectLocked(MmRegion* r, uint64_t index, const uint8_t* obj, size_t n, uint32_t sum)
      REQUIRES_SHARED(regions_mu_);
  // Releases a resident page's frame (policy, descriptor, charge).
  // REQUIRES: block lock; the memfd page was already freed.
  void ReleaseFrame(PageEntry& p);
  // Reclaim evicted the page (now kSwapped, kFilled or kNone): the policy
  // hears of it (ReclaimPolicy::Evicted) and the shadow entry it returns
  // takes the frame id's place in the entry, for InstallFrame when the page
  // refaults (cf. workingset_eviction() storing a shadow in the page
  // cache). Frees the descriptor and the charge as ReleaseFrame does.
  // REQUIRES: block lock; the frame isolated by this reclaimer; the memfd
  // page already freed.
  void EvictFrame(PageEntry& p);
  // The frame of a resident (or installed kSwapIn) page.
  PageFrame* FrameOf(const PageEntry& p) const { return frames_.Get(p.frame); }
  // Frees the slot the page owns, if any (cf. swap_free() when a PTE drops
  // its swap entry). REQUIRES: block lock; no I/O in flight on the slot.
  void FreeSlotLocked(PageEntry& p);
  // Drops a slot's last use: every tier forgets it first (cf.
  // swap_entry_free() -> zswap_invalidate()), then its swap_map count goes.
  void FreeSwapEntry(SwapEntry e);

  // ---- reclaim ----------------------------------------------------------
  // What a reclaim round looked at (cf. struct scan_control's nr_scanned).
  struct ScanCount {
    uint64_t aged = 0;     // frames taken off the active list
    uint64_t scanned = 0;  // inactive frames isolated as victims
  };
  // Unmaps up to n mapped pages chosen by the policy (active -> inactive).
  // cf. refill_inactive_scan(). Returns pages unmapped.
  size_t RefillInactiveLocked(size_t n, ScanCount* count = nullptr) REQUIRES_SHARED(regions_mu_);
  // Evicts up to n inactive pages: clean ones are dropped, all-zero ones
  // freed without a slot, dirty ones written to swap (contiguous slots, runs
  // in one I/O) and freed after the write completed. cf. shrink_page_list().
  // Returns frames freed.
  size_t ShrinkInactiveLocked(size_t n, ScanCount* count = nullptr) REQUIRES_SHARED(regions_mu_);
  // ShrinkInactiveLocked's work on victims the caller isolated (and
  // unmapped): pages mapped, pinned or under write-back meanwhile go back
  // to the active list; dirty pages with no free slot go back to the
  // inactive list and set *swap_full. Returns frames freed.
  // cf. shrink_page_list() / shrink_folio_list().
  size_t ShrinkPageListLocked(std::vector<PageFrame*>& victims, bool* swap_full)
      REQUIRES_SHARED(regions_mu_);
  // Pushes the resident pages of [first, end) of `r` to swap now
  // (Region::PageOut): unmapped, then dropped (clean), freed (all zero) or
  // written and freed (dirty), as reclaim would. Pinned pages, pages under
  // I/O or held by another reclaimer, and pages touched meanwhile stay.
  // NoSpace when a dirty page found no free slot (it stays resident,
  // unmapped, on the inactive list). cf. madvise_pageout() ->
  // reclaim_pages().
  Status PageOutLocked(MmRegion* r, uint64_t first, uint64_t end) REQUIRES_SHARED(regions_mu_);
  // One reclaim round: age to the inactive target, then shrink up to n.
  size_t ReclaimLocked(size_t n, ScanCount* count = nullptr) REQUIRES_SHARED(regions_mu_);
  // kswapd's step: writes the compressed pool's oldest objects back while
  // it is above its mark, then reclaims until free frames reach the high
  // watermark or no progress is made, then what the group asked of this
  // member (MemCgroup::TakeRequest). Returns frames freed. cf.
  // balance_pgdat(), zswap's shrink worker and, for the group's share,
  // shrink_node_memcgs().
  size_t BalanceOnce() EXCLUDES(regions_mu_);
  bool NeedsBalance() const;

  // ---- swap-in (src/mm/swap_in.cc) ---------------------------------------
  // Marks the swapped page `index` kSwapIn and registers its slot in the
  // swap cache (cf. add_to_swap_cache()); fills out->index and out->entry.
  // REQUIRES: the page's block lock; the page is kSwapped.
  void MarkSwapInLocked(MmRegion* r, uint64_t index, SwapInPage* out);
  // Reads `pages` back — pages of `r` in ascending order (a stream's window
  // may span blocks), each marked by MarkSwapInLocked and charged — through
  // `bufs` (one page per entry, page-aligned), retrying the read of
  // pages[must] up to `retries` times (must >= pages.size(): none). Pages
  // with `map` are installed in the user view through `pte` (one CopyPages
  // per run of adjacent pages with the same protection), the others enter
  // the memfd only; a window is installed block by block. Afterwards
  // every page is kResident, or back to kSwapped with its slot (its frame
  // uncharged) with result kReadFailed / kInstallFailed; waiters in the
  // swap cache are woken either way. Returns the first install error.
  // Counts pswpin (and checksum_errors); the caller counts the fault.
  Status SwapInPagesLocked(MmRegion* r, std::span<SwapInPage> pages, uint8_t* bufs, size_t must,
                           unsigned retries, PteOps* pte) REQUIRES_SHARED(regions_mu_);
  // SwapInPagesLocked's end for the pages of one block, under its lock:
  // maps the pages with `map`, then makes every page kResident (or
  // kSwapped again) and wakes its swap-cache waiters.
  void InstallBlockLocked(MmRegion* r, std::span<SwapInPage> pages, uint8_t* bufs, PteOps* pte,
                          Status* install_error) REQUIRES_SHARED(regions_mu_);

  // Pages the calling thread read from the disk so far (not the ones the
  // compressed tier served).
  static uint64_t ThreadDiskReads() { return thread_disk_reads_; }

  // ---- regions ----------------------------------------------------------
  // Makes a region known (fault lookup, swapoff). Takes regions_mu_ exclusive.
  void AddRegion(MmRegion* r) EXCLUDES(regions_mu_);
  // The region whose user view contains `addr`, or nullptr.
  MmRegion* FindRegionLocked(uintptr_t addr) const REQUIRES_SHARED(regions_mu_);
  std::vector<MmRegion*> RegionsLocked() const REQUIRES_SHARED(regions_mu_);
  // Forgets a region and frees every frame and slot of it. Takes
  // regions_mu_ exclusive, so it waits for faults and reclaim in flight;
  // `detach` runs under that lock first (unregister the user view).
  void ReleaseRegion(MmRegion* r, const std::function<void()>& detach) EXCLUDES(regions_mu_);
  // Moves every page of `r` off swap area `type` (swapoff): swapped pages are
  // read back, clean copies lose their slot. NoSpace when the pages coming
  // back do not fit in the budget (never overshoots, even under the soft
  // limit). cf. try_to_unuse() / unuse_pte_range().
  Status UnuseAreaLocked(MmRegion* r, unsigned type) REQUIRES_SHARED(regions_mu_);
  // Discards the contents of pages [first, end) of `r`: afterwards they read
  // as zeros (cf. MADV_DONTNEED on anonymous memory). Slots are freed;
  // resident pages are zero-filled in place and stay resident as dirty
  // pages (their frames stay charged until reclaim drops them as zero
  // pages: another reclaimer may hold them isolated). Waits for I/O in
  // flight on them. IOError if a page could not be zeroed (it keeps its
  // contents). REQUIRES: no pinned page in the range (the caller checks).
  Status DiscardLocked(MmRegion* r, uint64_t first, uint64_t end) REQUIRES_SHARED(regions_mu_);

  // ---- consistency (USWAP_DEBUG_FULL) -------------------------------------
  // Checks every page of `r`'s block containing `index` against its frame,
  // the policy, the swap cache, the slot counts and the kernel's page table
  // (/proc/self/pagemap: a present PTE implies kMapped). Aborts with a
  // message on the first violation. REQUIRES: that block's lock.
  void VerifyBlockLocked(MmRegion* r, uint64_t index);
  // Whole-node check for a quiescent node (regions_mu_ held exclusive):
  // charged frames == resident pages == frames on the policy's lists,
  // no swap-cache entry, slots in use == pages owning a slot.
  void VerifyQuiescent() REQUIRES(regions_mu_);
  uint64_t metadata_bytes() EXCLUDES(regions_mu_);

 private:
  // Reads the slots of pages in kSwapIn state into `pages[i].buf` down the
  // tiers (status 0: read and verified; `tier`: which one had it). Only
  // SwapInPagesLocked reads pages back: every swap-in goes through it.
  void ReadPages(std::span<SwapPage> pages);
  // Writes pages leaving memory down the tiers (status, sum, tier).
  void StorePages(std::span<SwapPage> pages);
  // Index in tiers_ of the compressed tier (if any) and of the disk.
  bool FromRamTier(const SwapPage& p) const { return zswap_ && p.tier == 0; }
  struct WriteItem {
    MmRegion* region;
    uint64_t index;
    PageFrame* frame;
    SwapEntry entry;
    const uint8_t* copy;  // the page's bytes, copied out under its block lock
    // A clean page offered to the compressed tier as a copy of its slot
    // (Zswap::StoreCopies); `sum` is its checksum, kept if the tier passes.
    bool clean = false;
    uint32_t sum = 0;
  };
  void WritePages(std::vector<WriteItem>& items, size_t& freed);
  // Frames in flight: charged but on no policy list (isolated by a
  // reclaimer, in write-back, being swapped in or installed). Reclaim that
  // finds nothing to do while some are in flight waits for them.
  uint64_t FramesInFlight() const;
  // The last resort of a charge that may fail: reclaim over every resident
  // page once. Returns the frames freed (0: nothing on the lists can be).
  size_t ScanAllLocked() REQUIRES_SHARED(regions_mu_);
  void WaitForReclaimProgress(uint64_t seen_gen, std::chrono::milliseconds timeout)
      EXCLUDES(progress_mu_);
  void NotifyReclaimProgress() EXCLUDES(progress_mu_);

  static thread_local uint64_t thread_disk_reads_;
  const MemoryNodeOptions options_;
  SwapDevices* const devices_;
  PageIo* const page_io_;
  FramePool frames_;
  std::unique_ptr<Zswap> zswap_;  // after frames_: it uncharges there when destroyed
  SwapBackend* tiers_[2] = {};    // top first; the disk is last
  unsigned ntiers_ = 0;
  std::unique_ptr<ReclaimPolicy> policy_;
  SwapCache swap_cache_;
  VmStat vmstat_;
  SharedMutex regions_mu_;
  std::map<uintptr_t, MmRegion*> regions_ GUARDED_BY(regions_mu_);  // by user-view base
  std::function<void()> wakeup_kswapd_;
  std::atomic<uint64_t> overshoot_logged_{0};
  std::atomic<uint64_t> mlocked_pages_{0};  // over every region (MlockLocked)
  std::atomic<bool> mlock_limit_logged_{false};
  // Reclaim progress (frames freed or returned to the lists), for charges
  // waiting on frames in flight elsewhere.
  Mutex progress_mu_;
  CondVar progress_cv_{&progress_mu_};
  std::atomic<uint64_t> progress_gen_{0};
  std::atomic<uint32_t> progress_waiters_{0};
};

}  // namespace uswap
