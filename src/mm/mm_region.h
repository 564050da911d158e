// MmRegion: the memory of one region and its software page table.
//
// A region is a memfd mapped once, as the user view U that the application
// touches and userfaultfd watches; uswap reads and fills page contents with
// pread/pwrite on the memfd, never through a mapping. The memfd's page
// cache is the frame store:
//
//   PageState   memfd page   U PTE                 next access
//   kNone       hole         none                  MISSING fault -> zero page
//   kResident   present      present (kMapped)     none
//               present      zapped                MINOR fault -> CONTINUE
//   kSwapIn     filling      none                  waits on the swap cache
//   kSwapped    hole         none; entry = slot    MISSING fault -> do_swap_page
//   kPoisoned   hole         poison marker         SIGBUS (read error)
//
// A resident page may also own a slot (entry) holding a copy of it. Clean
// (no kDirty) means the slot's copy equals the page, so reclaim can drop
// the frame without I/O; such a page is mapped write-protected, and the
// first write faults (WP) so that uswap marks it dirty and frees the slot.
//
// Locking: the page table is split in blocks of kBlockPages pages, each with
// its own mutex; every read or write of a PageEntry, and every change to the
// U view of its pages (CONTINUE, zap), happens under that block's lock, so
// state and PTEs never disagree. I/O is never done under a block lock: the
// page is marked kSwapIn / kWriteback instead, and waiters wait on the swap
// cache. Lock order: block lock -> policy lock -> swap area locks; at most
// one block lock at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "base/unique_fd.h"
#include "mm/page_frame.h"
#include "swap/swap_entry.h"
#include "uswap/status.h"

struct iovec;

namespace uswap {

// Zaps the user PTEs of every range with one process_madvise(MADV_DONTNEED)
// call per 1024 ranges, so the kernel flushes TLBs once per batch instead
// of once per range (kernel >= 6.16 batches the flush; older kernels, or
// ones that refuse the call, get one madvise per range).
Status ZapRanges(std::span<const struct iovec> ranges);

enum class PageState : uint8_t {
  kNone = 0,  // never touched, or dropped as all-zero
  kResident,  // in the memfd (frame charged)
  kSwapIn,    // being read from swap (frame charged)
  kSwapped,   // only copy in the slot `entry`
  kPoisoned,  // could not be read back; accesses get SIGBUS
};

enum PageFlag : uint8_t {
  kMapped = 1 << 0,          // U PTE present
  kDirty = 1 << 1,           // differs from any slot copy (or has none)
  kWriteback = 1 << 2,       // being written to `entry`
  kReadahead = 1 << 3,       // read ahead, not yet touched
  kWriteProtected = 1 << 4,  // mapped write-protected (clean with slot)
};

struct PageEntry {
  PageState state = PageState::kNone;
  uint8_t flags = 0;
  uint16_t pins = 0;           // Region::Pin nesting count
  PageFrame* frame = nullptr;  // when kResident / kSwapIn
  SwapEntry entry;             // slot reference owned by this page (if any)
};

class MmRegion {
 public:
  static constexpr uint64_t kBlockPages = 64;  // pages per page-table lock (256 KiB)

  // Creates the memfd and both views. `id` names the memfd (debugging).
  static Result<std::unique_ptr<MmRegion>> Create(size_t bytes, size_t page_size, uint64_t id);
  ~MmRegion();  // unmaps both views, closes the memfd

  uint8_t* user_base() const { return user_; }  // U
  size_t size() const { return size_; }
  uint64_t pages() const { return pages_; }
  size_t page_size() const { return page_size_; }
  int memfd() const { return memfd_.get(); }

  uintptr_t user_addr(uint64_t index) const {
    return reinterpret_cast<uintptr_t>(user_) + index * page_size_;
  }
  bool Contains(uintptr_t addr) const {
    return addr >= reinterpret_cast<uintptr_t>(user_) &&
           addr < reinterpret_cast<uintptr_t>(user_) + size_;
  }
  uint64_t IndexOf(uintptr_t addr) const {
    return (addr - reinterpret_cast<uintptr_t>(user_)) / page_size_;
  }

  std::mutex& block_lock(uint64_t index) { return locks_[index / kBlockPages]; }
  uint64_t block_start(uint64_t index) const { return index - index % kBlockPages; }
  uint64_t block_end(uint64_t index) const {
    uint64_t e = block_start(index) + kBlockPages;
    return e < pages_ ? e : pages_;
  }
  // REQUIRES: block_lock(index) held.
  PageEntry& pte(uint64_t index) { return ptes_[index]; }

  // Memory operations on [index, index + n). REQUIRES: block lock(s) held.
  // Zaps U PTEs (MADV_DONTNEED): the next touch is a minor fault.
  Status Zap(uint64_t index, uint64_t n);
  // Frees the memfd pages (FALLOC_FL_PUNCH_HOLE): memory goes back to the OS.
  Status PunchHole(uint64_t index, uint64_t n);
  // Materialises zeroed memfd pages (fallocate), so that CONTINUE can map them.
  Status AllocateZeroed(uint64_t index, uint64_t n);
  // Copies n pages out of / into the memfd (pread/pwrite; writing
  // materialises the pages). buf holds n * page_size bytes.
  Status CopyOut(uint64_t index, uint64_t n, void* buf) const;
  Status CopyIn(uint64_t index, uint64_t n, const void* buf);
  // True when `bytes` bytes at p (a multiple of 64) are all zero.
  static bool IsZero(const void* p, size_t bytes);

  // Bytes the kernel holds for the memfd (st_blocks * 512): the measured
  // resident size of the region.
  uint64_t ResidentBytes() const;

  // Readahead state: a few sequential streams (cf. file_ra_state).
  struct Stream {
    std::atomic<uint64_t> next{UINT64_MAX};  // page expected next
    std::atomic<uint32_t> window{0};
  };
  static constexpr int kStreams = 4;
  Stream streams[kStreams];
  std::atomic<uint32_t> stream_victim{0};

  std::atomic<bool> dying{false};  // set when the Region is being destroyed

 private:
  MmRegion() = default;
  size_t size_ = 0, page_size_ = 0;
  uint64_t pages_ = 0;
  UniqueFd memfd_;
  uint8_t* user_ = nullptr;
  std::unique_ptr<PageEntry[]> ptes_;
  std::unique_ptr<std::mutex[]> locks_;
};

}  // namespace uswap
