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
//   kFilled     hole         none; the word kept   MISSING fault -> refill
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
// cache. Lock order: block lock -> policy lock -> swap area locks; only
// RefillInactive holds several block locks, taken in address order.
//
// The page table is lazy (cf. the kernel's page tables, allocated on first
// fault): a block (its lock and 64 entries, ~1.6 KiB) is allocated the
// first time a page of it is touched, under a two-level directory (8 bytes
// per 128 MiB of region, calloc'd so that untouched parts cost no RAM). An
// untouched block reads as 64 kNone pages. Map(1 TiB) therefore costs
// 64 KiB of directory, and metadata grows with the pages really used.
//
// Foreign PTE removal: the invariant "PTE present => kMapped" holds (only
// uswap installs PTEs: MINOR/MISSING registration disables the kernel's
// fault-around). The converse may be broken from outside — the program's
// madvise(MADV_DONTNEED/MADV_PAGEOUT), or the kernel reclaiming the memfd —
// leaving kMapped on a page with no PTE; its next access is a MINOR fault
// that the handler answers by mapping it again (the memfd kept the page).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/mutex.h"
#include "base/unique_fd.h"
#include "base/zeroed_array.h"
#include "mm/frame_pool.h"
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
  kFilled,    // every 64-bit word of the page is the same non-zero word,
              // kept in the entry: no slot, no frame, no I/O (cf. zswap's
              // same-filled pages, zram's ZRAM_SAME); a fault refills it
};

enum PageFlag : uint8_t {
  kMapped = 1 << 0,          // U PTE present
  kDirty = 1 << 1,           // differs from any slot copy (or has none)
  kWriteback = 1 << 2,       // being written to `entry`
  kReadahead = 1 << 3,       // read ahead, not yet touched
  kWriteProtected = 1 << 4,  // mapped write-protected (clean with slot)
};

// One page's entry in the page table: 14 bytes, the checksum included; with
// its share of the block's lock and pin pointer, 14.75 bytes per touched
// page (issue 13: <= 16); untouched pages cost nothing (lazy blocks, below).
// cf. the kernel's pte_t, plus the checksum uswap adds. Packed to 2-byte
// alignment (x86-64 loads unaligned words at no cost); never take the
// address of a field.
//
//   frame / shadow  kResident, kSwapIn (once installed): the frame's id in
//                   the FramePool (0 = none yet). kSwapped: the shadow
//                   entry the reclaim policy gave at eviction (0 = none),
//                   handed back when the page refaults (cf. the shadow
//                   entries mm/workingset.c leaves in the page cache).
//   slot, type      the slot owned by the page (slot 0 = none: slot 0 of
//                   every area is its header); SWAPSPACE2's last_page is a
//                   u32, so every slot number fits.
//   sum             32-bit checksum of the slot's copy (PageIo), kept here
//                   rather than per slot: the page is the slot's only owner.
#pragma pack(push, 2)
struct PageEntry {
  union {
    uint32_t frame = 0;
    uint32_t shadow;
  };
  uint32_t slot = 0;
  uint32_t sum = 0;
  PageState state : 3 = PageState::kNone;
  uint8_t type : 5 = 0;  // swap area of `slot`
  uint8_t flags = 0;

  SwapEntry entry() const {
    return slot && state != PageState::kFilled ? SwapEntry(type, slot) : SwapEntry();
  }
  // kFilled: the page's repeated word, in the slot and sum fields (a
  // same-filled page owns no slot).
  uint64_t fill() const { return slot | uint64_t{sum} << 32; }
  void set_fill(uint64_t word) {
    type = 0;
    slot = static_cast<uint32_t>(word);
    sum = static_cast<uint32_t>(word >> 32);
  }
  // REQUIRES: e.offset() fits in 32 bits (always: see `slot`).
  void set_entry(SwapEntry e) {
    type = static_cast<uint8_t>(e.type());
    slot = static_cast<uint32_t>(e.offset());
  }
  void clear_entry() { type = 0, slot = 0, sum = 0; }
};
#pragma pack(pop)
static_assert(sizeof(PageEntry) == 14, "a page's metadata is 14 bytes (doc/engine.md)");

class MmRegion {
 public:
  static constexpr uint64_t kBlockPages = 64;          // pages per page-table lock (256 KiB)
  static constexpr uint16_t kMlockBit = 0x8000;        // in Block::pins
  static constexpr uint16_t kMaxPins = kMlockBit - 1;  // Region::Pin nesting limit
  // Largest region: the x86-64 user address space (47 bits).
  static constexpr uint64_t kMaxBytes = uint64_t{1} << 47;

  // One block of the page table: its lock, its pin counts and its entries.
  struct Block {
    Mutex lock;
    // Per page of the block: the Region::Pin nesting count (bits 0-14) and
    // the mlock bit (kMlockBit), allocated at the first pin or mlock in the
    // block: both are rare (buffers of pinned I/O, mlock'ed memory), so the
    // entries do not pay for them. cf. the kernel keeping mlock state out
    // of the PTE (VM_LOCKED on the vma, PG_mlocked and the mlock count on
    // the folio).
    std::unique_ptr<uint16_t[]> pins;
    PageEntry ptes[kBlockPages];
  };

  // Creates the memfd and the user view. `id` names the memfd (debugging).
  // The page table's memory is charged to `budget` (if not null) as it
  // grows, and released when the region is destroyed (cf. memcg charging
  // page tables); `budget` must outlive the region.
  // InvalidArgument for 0 bytes or more than kMaxBytes; NoSpace when the
  // directory cannot be allocated or the address space is exhausted.
  // `at` (page-aligned) places the view there with MAP_FIXED, replacing
  // what is mapped there. REQUIRES: [at, at + bytes) is the caller's own
  // reservation (a fork child re-creating its parent's layout: run/fork.h).
  static Result<std::unique_ptr<MmRegion>> Create(size_t bytes, size_t page_size, uint64_t id,
                                                  FramePool* budget = nullptr, void* at = nullptr);
  ~MmRegion();  // unmaps the view, frees the page table, closes the memfd

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

  // The lock of index's block; allocates the block on first use (aborts
  // with a message if even 1.6 KiB cannot be had).
  Mutex& block_lock(uint64_t index) { return GetBlock(index / kBlockPages)->lock; }
  // True when index's block was ever allocated (else all its pages are kNone).
  bool block_exists(uint64_t index) const { return FindBlock(index / kBlockPages) != nullptr; }
  uint64_t block_start(uint64_t index) const { return index - index % kBlockPages; }
  uint64_t block_end(uint64_t index) const {
    uint64_t e = block_start(index) + kBlockPages;
    return e < pages_ ? e : pages_;
  }
  // REQUIRES: block_lock(index) held (so the block exists).
  PageEntry& pte(uint64_t index) {
    return FindBlock(index / kBlockPages)->ptes[index % kBlockPages];
  }
  // Non-zero when page index is unevictable: pinned (Region::Pin) or
  // mlock'ed (cf. the unevictable list). REQUIRES: its block lock.
  uint16_t pins(uint64_t index) const {
    const Block* b = FindBlock(index / kBlockPages);
    return b->pins ? b->pins[index % kBlockPages] : 0;
  }
  // Region::Pin's nesting count of page index. REQUIRES: its block lock.
  uint16_t pin_count(uint64_t index) const { return pins(index) & ~kMlockBit; }
  // Adds one pin (false: already pinned kMaxPins times) / drops one.
  // REQUIRES: the block lock of index; Unpin: pin_count(index) > 0.
  bool Pin(uint64_t index);
  void Unpin(uint64_t index);
  // mlock state of page index (cf. PG_mlocked): set once, whatever the
  // pins; Mlock returns false when it was set already, Munlock when it was
  // not (MemoryNode::MlockLocked counts and limits). REQUIRES: the block lock.
  bool mlocked(uint64_t index) const { return pins(index) & kMlockBit; }
  bool Mlock(uint64_t index);
  bool Munlock(uint64_t index);
  // mlockall() on this region: every page of [begin, end) that a fault
  // makes resident and maps is mlock'ed (cf. VM_LOCKONFAULT on the vmas);
  // one range per region, empty = off. Read by the fault path without a
  // lock: a fault racing the change may go either way, as a fault racing
  // mlockall in the kernel.
  bool mlock_on_fault(uint64_t index) const {
    return index >= mlock_on_fault_begin_.load(std::memory_order_relaxed) &&
           index < mlock_on_fault_end_.load(std::memory_order_relaxed);
  }
  void set_mlock_on_fault(uint64_t begin, uint64_t end) {
    mlock_on_fault_end_.store(0, std::memory_order_relaxed);
    mlock_on_fault_begin_.store(begin, std::memory_order_relaxed);
    mlock_on_fault_end_.store(end, std::memory_order_relaxed);
  }
  // Bytes of page-table metadata allocated so far (directory + blocks).
  uint64_t metadata_bytes() const { return metadata_bytes_.load(std::memory_order_relaxed); }

  // Memory operations on [index, index + n). REQUIRES: block lock(s) held.
  // Zaps U PTEs (MADV_DONTNEED): the next touch is a minor fault.
  Status Zap(uint64_t index, uint64_t n);
  // Frees the memfd pages (FALLOC_FL_PUNCH_HOLE): memory goes back to the OS.
  Status PunchHole(uint64_t index, uint64_t n);
  // Copies n pages out of / into the memfd (pread/pwrite; writing
  // materialises the pages). buf holds n * page_size bytes.
  Status CopyOut(uint64_t index, uint64_t n, void* buf) const;
  Status CopyIn(uint64_t index, uint64_t n, const void* buf);
  // Overwrites n pages with zeros through the memfd (mappings stay).
  Status ZeroFill(uint64_t index, uint64_t n);
  // True when the `bytes` bytes at p (a multiple of 64, 8-byte aligned) are
  // one 64-bit word repeated; *word = that word. cf. zswap_is_page_same_filled().
  static bool IsSameFilled(const void* p, size_t bytes, uint64_t* word);

  // Bytes the kernel holds for the memfd (st_blocks * 512): the measured
  // resident size of the region.
  uint64_t ResidentBytes() const;

  // Readahead state: a few sequential streams (cf. file_ra_state).
  struct Stream {
    // dir +1 / -1: the page expected next (ascending: the one after the
    // last window; descending: the one before it). dir 0: a candidate, the
    // page that started it.
    std::atomic<uint64_t> next{UINT64_MAX};
    std::atomic<uint32_t> window{0};
    std::atomic<int8_t> dir{0};
  };
  static constexpr int kStreams = 4;
  Stream streams[kStreams];
  std::atomic<uint32_t> stream_victim{0};

  // Set when ReleaseRegion starts. Nothing in the engine reads it: it lets
  // a test see that a destructor has begun (engine_race_test).
  std::atomic<bool> dying{false};

 private:
  // The block's pin/mlock array, allocated (and charged as metadata) on
  // first use. REQUIRES: the block lock of index.
  uint16_t& PinWord(uint64_t index);
  std::atomic<uint64_t> mlock_on_fault_begin_{0}, mlock_on_fault_end_{0};
  MmRegion() = default;
  size_t size_ = 0, page_size_ = 0;
  uint64_t pages_ = 0;
  UniqueFd memfd_;
  uint8_t* user_ = nullptr;

  // Directory (made by Create) -> groups of kGroupBlocks block pointers ->
  // blocks; groups and blocks allocated on demand (under grow_mu_) and
  // published with a release store (readers never lock). All three live in
  // zeroed pages (ZeroedArray, MapZeroedPages), not the heap: touched only
  // where used, and a fork child does not inherit them
  // (the page table is rewritten on every fault and eviction; see
  // base/zeroed_array.h). Blocks are carved in the order they are made from
  // slabs of kSlabBytes, so that they are as dense as heap objects whatever
  // order the region is touched in.
  static constexpr uint64_t kGroupBlocks = 512;
  static constexpr size_t kSlabBytes = 64u << 10;
  struct Group {
    std::atomic<Block*> blocks[kGroupBlocks];
  };
  Block* FindBlock(uint64_t block) const {
    Group* g = dir_[block / kGroupBlocks].load(std::memory_order_acquire);
    return g ? g->blocks[block % kGroupBlocks].load(std::memory_order_acquire) : nullptr;
  }
  Block* GetBlock(uint64_t block) {
    Block* b = FindBlock(block);
    return b ? b : AllocBlock(block);
  }
  Block* AllocBlock(uint64_t block) EXCLUDES(grow_mu_);
  ZeroedArray<std::atomic<Group*>> dir_;  // one entry per kGroupBlocks blocks
  Mutex grow_mu_;                         // a leaf: nothing is locked under it
  std::vector<uint8_t*> slabs_ GUARDED_BY(grow_mu_);
  size_t slab_used_ GUARDED_BY(grow_mu_) = kSlabBytes;  // of slabs_.back()
  void AddMetadata(uint64_t bytes);
  std::atomic<uint64_t> metadata_bytes_{0};
  FramePool* budget_ = nullptr;
};

}  // namespace uswap
