// FramePool: the RAM budget. Counts frames in use against the budget and
// hands out PageFrame descriptors.
// cf. the zone's free page count and watermarks (min/low/high).
//
// The budget covers uswap's own per-page memory as a memory cgroup covers
// page tables (memcg's kmem accounting): a frame costs its page plus its
// descriptor (sizeof(PageFrame)), and the page tables of the regions
// (ChargeMetadata) are charged as they grow. So resident frames x (page +
// descriptor) + page-table bytes <= budget x page; what stays outside is
// fixed: the descriptor chunk not yet handed out (< 4096 descriptors), the
// swap areas' swap_map (1 byte per slot, as the kernel's swapon allocates
// it) and per-thread buffers (doc/engine.md, "Memory accounting").
//
// A frame is charged BEFORE the page materialises in the memfd and
// uncharged only AFTER its memory was released (hole punched), so the
// kernel-measured resident memory never exceeds the charged count.
//
// A pool may also belong to a group (MemCgroup, a budget shared with other
// Spaces, in other processes too): every charge then goes to the group's
// counter as well, and a charge either fits in both or is refused (cf.
// page_counter_try_charge() walking up to the parent). The group sees
// bytes: frames at their cost (page + descriptor) and metadata.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/id_table.h"
#include "base/thread_annotations.h"
#include "mm/mem_cgroup.h"
#include "mm/page_frame.h"
#include "uswap/status.h"

namespace uswap {

struct Watermarks {
  uint64_t min = 0, low = 0, high = 0;  // free frames
};

// The watermarks of a `budget`-page pool in the kernel's shape: min ~
// budget/64 (at least 16), low = 5/4 min, high = 3/2 min (cf.
// __setup_per_zone_wmarks()); a non-zero `asked` field is taken as given.
// InvalidArgument unless min < low < high <= budget/2.
Result<Watermarks> ComputeWatermarks(uint64_t budget, const Watermarks& asked);

class FramePool {
 public:
  // `group`: the shared budget this pool also charges (outlives the pool),
  // or null.
  FramePool(uint64_t budget_pages, size_t page_size, Watermarks wm, MemCgroup* group = nullptr);
  ~FramePool();

  MemCgroup* group() const { return group_; }
  // Takes n frames if they fit in the budget (and in the group's); false
  // otherwise.
  bool TryCharge(uint64_t n);
  // True when n frames do not fit in the group's budget now: a refused
  // charge was the group's doing, not this pool's.
  bool GroupShort(uint64_t n) const { return group_ && group_->free_bytes() < n * frame_cost_; }
  uint64_t frame_cost() const { return frame_cost_; }
  // Page-table memory charged / released (bytes): it takes room from the
  // frames. Never fails: a page table that outgrows the budget leaves no
  // room for frames, and faults then reclaim or overshoot as usual.
  void ChargeMetadata(uint64_t bytes) {
    metadata_.fetch_add(bytes, std::memory_order_relaxed);
    if (group_) group_->ForceCharge(bytes);
  }
  void UnchargeMetadata(uint64_t bytes) {
    metadata_.fetch_sub(bytes, std::memory_order_relaxed);
    if (group_) group_->Uncharge(bytes);
  }
  uint64_t charged_metadata() const { return metadata_.load(std::memory_order_relaxed); }
  // Takes n frames regardless of the budget (soft-limit overshoot).
  void ForceCharge(uint64_t n);
  void Uncharge(uint64_t n);
  // Frames uncharged since the pool was made, by any thread: a reclaimer
  // that freed nothing itself compares it before and after its pass to
  // learn whether another thread (kswapd, a concurrent charge, Discard)
  // made room meanwhile.
  uint64_t uncharged_total() const { return uncharged_total_.load(std::memory_order_relaxed); }

  uint64_t budget() const { return budget_; }
  uint64_t charged() const { return charged_.load(std::memory_order_relaxed); }
  // Frames that still fit: what the budget leaves after the charged
  // frames (with their descriptors) and the page tables.
  uint64_t free_frames() const { return FramesFitting() - std::min(FramesFitting(), charged()); }
  // Frames that would fit in the budget with nothing else charged but the
  // page tables: the budget in frames, net of metadata.
  uint64_t FramesFitting() const {
    const uint64_t room = budget_ * page_size_, meta = charged_metadata();
    return meta >= room ? 0 : (room - meta) / frame_cost_;
  }
  const Watermarks& watermarks() const { return wm_; }

  // Descriptor allocation (independent of charging). A frame is named by
  // its id, 32 bits (never 0), so that the page table spends 4 bytes on it
  // (cf. the kernel's pfn in a PTE). Get is lock-free: descriptors never
  // move and the chunk table is fixed, so a page-table entry can be turned
  // into its frame on the fault path without the pool's lock.
  uint32_t AllocFrame();
  void FreeFrame(uint32_t id);
  PageFrame* Get(uint32_t id) const { return descriptors_.Get(id); }
  // Bytes of frame descriptors allocated (metadata, outside the frames).
  uint64_t descriptor_bytes() const { return descriptors_.allocated_bytes(); }

 private:
  const uint64_t budget_;
  const uint64_t page_size_;
  const uint64_t frame_cost_;  // page + descriptor, bytes
  const Watermarks wm_;
  MemCgroup* const group_;
  std::atomic<uint64_t> metadata_{0};
  std::atomic<uint64_t> charged_{0};
  std::atomic<uint64_t> uncharged_total_{0};
  // 4096 descriptors (160 KiB) a chunk, up to 2^32 frames.
  IdTable<PageFrame, 4096, (uint64_t{1} << 32) / 4096> descriptors_;
};

}  // namespace uswap
