// SwapDevices: the table of active swap areas of one uswap Space.
// cf. swap_info[MAX_SWAPFILES], swap_active_head / swap_avail_heads ordered
// by priority, sys_swapon(), sys_swapoff(), get_swap_pages().
//
// Up to kMaxSwapFiles (32) areas. Allocation takes the highest-priority area
// with free slots, round-robin among areas of equal priority. Priorities not
// given are assigned -1, -2, ... in swapon order, as the kernel does.
//
// Swapon opens and validates the area: a missing or invalid header, a file
// with holes (as swapon(8) refuses), a symlink, an area the kernel uses
// (listed in /proc/swaps), or one another uswap process holds (exclusive
// flock) is refused with an error naming the path and the reason. A file
// readable by group or others gets a warning (Log).
//
// Swapoff is two-phase because only the engine knows which pages use an
// area: BeginSwapoff() stops allocation from it (cf. clearing SWP_WRITEOK);
// the engine then reads every page back or moves it; FinishSwapoff()
// removes the area, and requires it to have no slot in use.
//
// Thread-safety: all methods may be called concurrently. Allocate/Free/
// Duplicate take only a shared lock on the table plus the area's cluster lock.
// Lock order: table lock before any SwapArea lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "io/block_store.h"
#include "swap/swap_area.h"
#include "swap/swap_entry.h"
#include "swap/swap_header.h"
#include "uswap/status.h"

namespace uswap {

struct SwapDeviceInfo {
  std::string path;
  unsigned type = 0;  // index in the table (SwapEntry::type())
  int prio = 0;
  size_t page_size = 0;
  uint64_t pages = 0;  // slots including the header
  uint64_t usable_pages = 0;
  uint64_t inuse_pages = 0;
  uint64_t bad_pages = 0;
  bool writable = true;  // false once BeginSwapoff() was called
  std::string store;     // block store kind
};

class SwapDevices {
 public:
  static constexpr int kNoPriority = INT32_MIN;  // "assign -1, -2, ..."

  // `page_size`: the page size every area must have (the engine's).
  explicit SwapDevices(size_t page_size, BlockStoreOptions store_options = {});
  ~SwapDevices();  // closes every area (releases the flocks); files stay.
  SwapDevices(const SwapDevices&) = delete;
  SwapDevices& operator=(const SwapDevices&) = delete;

  // Adds an area; returns its type. prio in [-32768, 32767] or kNoPriority.
  Result<unsigned> Swapon(const std::string& path, int prio = kNoPriority);
  Status BeginSwapoff(unsigned type);
  // Undoes BeginSwapoff (the engine could not empty the area).
  Status CancelSwapoff(unsigned type);
  // REQUIRES: the area's inuse_pages() == 0 (else Busy).
  Status FinishSwapoff(unsigned type);
  // The type of the active area opened from `path` (compared by device and
  // inode), or NotFound.
  Result<unsigned> Find(const std::string& path) const;

  // One slot from the best area; nullopt when every writable area is full.
  std::optional<SwapEntry> Allocate();
  // Up to `max` contiguous slots from the best area: {first entry, n}.
  std::optional<std::pair<SwapEntry, uint32_t>> AllocateUpTo(uint32_t max);
  Status Duplicate(SwapEntry e);
  Result<bool> Free(SwapEntry e);
  Status MarkBad(SwapEntry e);

  // The store of an active area (stable until FinishSwapoff), or nullptr.
  BlockStore* store(unsigned type) const;
  // The slot map of an active area, or nullptr.
  SwapArea* area(unsigned type) const;

  std::vector<SwapDeviceInfo> List() const;
  size_t page_size() const { return page_size_; }
  // Total free slots over writable areas.
  uint64_t free_slots() const;

  // Test seam (cf. LevelDB's EnvWrapper): every store Swapon opens from
  // now on is handed to `wrap`, and the area does its I/O through the store
  // it returns (non-null; e.g. a FaultInjectionStore owning the opened
  // one). A test that needs the wrapper keeps a pointer to it from inside
  // `wrap`. Null, the default, uses opened stores as they are. Areas
  // already on keep their stores.
  using StoreWrapper = std::function<std::unique_ptr<BlockStore>(std::unique_ptr<BlockStore>)>;
  void SetStoreWrapper(StoreWrapper wrap);

  // Called by Swapon for a new area after it was validated and before any
  // slot of it can be allocated (under the table lock, so the hook must not
  // call back into SwapDevices): the owner sets up per-area state (page
  // checksums) that I/O on the area needs. A failure fails the swapon.
  using AttachHook = std::function<Status(unsigned type, uint64_t pages)>;
  void SetAttachHook(AttachHook hook);
  // Called by FinishSwapoff under the table lock, in the same critical
  // section that frees the type, so that the owner's per-area state is gone
  // before a Swapon can reuse the type (audit F6: a swapon in between got
  // its fresh checksum table destroyed). Must not call back into SwapDevices.
  using DetachHook = std::function<void(unsigned type)>;
  void SetDetachHook(DetachHook hook);

 private:
  struct Device;
  // Up to `max` slots (exactly one unless `up_to`) from the best writable
  // area, as Allocate()/AllocateUpTo() promise.
  std::optional<std::pair<SwapEntry, uint32_t>> AllocateFromBest(uint32_t max, bool up_to);
  SwapArea* AreaOfLocked(SwapEntry e) const REQUIRES_SHARED(mu_);
  Status SetWritable(unsigned type, bool writable);

  const size_t page_size_;
  const BlockStoreOptions store_options_;
  mutable SharedMutex mu_{SharedMutex::Prefer::kReaders};  // guards the table below
  std::unique_ptr<Device> devices_[kMaxSwapFiles] GUARDED_BY(mu_);
  int next_default_prio_ GUARDED_BY(mu_) = -1;
  StoreWrapper store_wrapper_ GUARDED_BY(mu_);
  AttachHook attach_hook_ GUARDED_BY(mu_);
  DetachHook detach_hook_ GUARDED_BY(mu_);
  unsigned rr_cursor_ = 0;  // round-robin among equal priorities (atomic use inside)
};

}  // namespace uswap
