// Zswap: the compressed RAM tier (issue 12), a SwapBackend in front of the
// swap areas. cf. mm/zswap.c (zswap_store(), zswap_load(),
// zswap_invalidate(), zswap_writeback_entry(), the shrinker's LRU walk).
//
// A page leaving memory is compressed (Compressor: lz4 or zstd) into the
// pool (ZsPool) under its slot; the slot stays reserved on disk. Pages that
// compress worse than `threshold` bytes, and pages that arrive while the
// pool is full, pass down to the disk (counted). When nearly every page
// compresses poorly (incompressible data), only one page in 16 is tried.
// A load decompresses into the page and checks the page's checksum: a
// corrupt object is EBADMSG, never data. Loads do not free: the engine frees the slot once the page
// is safe in memory (an exclusive load), which Invalidates the object.
//
// Budget: the pool's pages (ZsPool::pool_pages) and this tier's tables are
// charged to the FramePool as metadata, so resident frames + pool + tables
// stay within the RAM budget. The pool may take at most `limit_pages()`
// of the budget: a fixed share (`max_pool_percent`, cf. zswap's parameter
// of that name), or, by default, an adaptive one (below). When the pool
// reaches its limit it is full: stores pass down until it is back below
// `accept_threshold_percent` of the limit (zswap's hysteresis); kswapd
// keeps it below that mark by writing the oldest objects back to their
// slots (Writeback), in slot order so that runs of slots go out as one I/O.
// An object is written back only after its second chance: the LRU walk
// skips (and clears) the `referenced` bit that every store and load sets.
//
// Adaptive share: what a frame is worth in the resident set against in the
// pool, measured as ARC measures its ghost hits. Every page offered to
// Store takes an eviction number; every object written back (or rejected
// as the pool was full) leaves its write-back number in the slot table (a
// ghost). Per period of loads:
//   near_pool = pool hits whose eviction distance <= one step of frames:
//               they would have been resident hits with that many more
//               resident frames (each saves a fault served from the pool);
//   near_disk = disk loads of ghosts written back within the objects a
//               step of frames holds: pool hits with that much more pool
//               (each saves a disk read).
// The limit grows by a step (1/32 of the budget) when near_disk x (a disk
// read - a pool load) beats near_pool x (a fault's fixed cost + a pool
// load) by 25%, shrinks in the opposite case, within [5%, 90%] of the
// budget, starting at 75%. The disk read and pool load times are measured
// (moving averages); the fault's fixed cost is the delivery's (its
// hand-off: ~20 us for handler threads on this VM, ~3 us for SIGBUS,
// fault_bench's minor fault), given by `fault_overhead_us`.
//
// Write-back against loads and frees of the same slot: an object under
// write-back stays in the pool until its write completed. A load meanwhile
// reads it from the pool; an Invalidate marks it and waits for the write to
// complete before it returns (then the slot is freed), so a slot is never
// reallocated while an old write to it is in flight. A failed write keeps
// the object (never written back again; counted).
//
// Lock order: shard lock -> LRU lock -> ZsPool class lock -> ZsPool arena
// lock. The engine calls Invalidate under a page's block lock; Writeback
// takes no block lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "base/id_table.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "base/zeroed_array.h"
#include "mm/compressor.h"
#include "mm/frame_pool.h"
#include "mm/swap_backend.h"
#include "mm/zs_pool.h"
#include "swap/swap_entry.h"
#include "uswap/status.h"

namespace uswap {

struct ZswapOptions {
  // Compressed pages larger than this go to disk (Google's figure: a page
  // that saves less than ~27% is not worth the pool's memory and CPU).
  size_t threshold = 2990;
  // The pool's share of the budget, in percent: 0 = adaptive (above).
  unsigned max_pool_percent = 0;
  // After the pool was full, stores resume below this percentage of its
  // limit (cf. zswap's accept_threshold_percent).
  unsigned accept_threshold_percent = 90;
  bool checksums = true;  // compute and check the page checksum (Config::checksums)
  // What any fault costs beyond reading its page (the adaptive share's
  // price of a pool hit that a resident page would have saved).
  unsigned fault_overhead_us = 20;
};

struct ZswapStats {
  uint64_t stored = 0;            // pages compressed into the pool
  uint64_t loaded = 0;            // pages decompressed from it (faults served without I/O)
  uint64_t written_back = 0;      // objects written back to their slots on disk
  uint64_t rejected_poor = 0;     // pages that compressed worse than the threshold (to disk)
  uint64_t rejected_full = 0;     // pages sent to disk because the pool was full
  uint64_t writeback_errors = 0;  // write-backs that failed (the object stays)
  uint64_t corrupt = 0;           // loads whose object did not decompress (EBADMSG)
  uint64_t copied_in = 0;         // objects a fork's copy stored as they were (StoreObject)
  uint64_t objects = 0;           // objects in the pool now
  uint64_t pool_pages = 0;        // pages the pool holds now (charged)
  uint64_t payload_bytes = 0;     // compressed bytes stored now
  uint64_t limit_pages = 0;       // the pool's limit now
  uint64_t table_bytes = 0;       // the tier's own tables (charged)
};

class Zswap final : public SwapBackend {
 public:
  // `next`: the tier written back to (the disk). `frames`: charged with the
  // pool's pages and tables. `wake`: wakes kswapd (the pool passed its
  // write-back mark). `budget_pages`: the RAM budget the limit is a share of.
  Zswap(const ZswapOptions& options, std::unique_ptr<Compressor> codec, size_t page_size,
        uint64_t budget_pages, SwapBackend* next, FramePool* frames, std::function<void()> wake);
  ~Zswap() override;

  // Per-area slot table (SwapDevices' attach/detach hooks, as PageIo's).
  Status AttachArea(unsigned type, uint64_t pages);
  // REQUIRES: no object of the area left (swapoff read every page back).
  void DetachArea(unsigned type);

  const char* name() const override { return "zswap"; }
  const char* codec() const { return codec_->name(); }
  void Store(std::span<SwapPage> pages) override { StoreImpl(pages, false); }
  // Clean pages whose slots on disk hold the same bytes: the pool keeps a
  // copy of those it takes (status 0); the others stay kPassDown (they need
  // nothing: the disk has them). Writing such a copy back is dropping it.
  // Read-mostly pages that came from the disk reach the pool this way.
  void StoreCopies(std::span<SwapPage> pages) { StoreImpl(pages, true); }
  // Whether reclaim should offer a clean page of slot `e` (StoreCopies):
  // the pool is 10 points below its write-back mark, does not hold `e`,
  // `e`'s page did not compress poorly last time, and most pages lately
  // compressed.
  bool WantsCopy(SwapEntry e) const;
  void Load(std::span<SwapPage> pages) override;
  void Invalidate(SwapEntry e) override;

  // True when the slot's page is in the pool (a racy hint: readahead uses
  // it not to pull disk pages into a fault served from the pool).
  bool Holds(SwapEntry e) const;
  // A fork's copy of the pool (cf. copy_page_range, which shares the
  // parent's swap entry; a `uswap run` child is another process with a
  // pool of its own, so it gets the object, still compressed):
  // CopyObject copies the object of slot `e` into `out` (at most `cap`
  // bytes) and returns its size, or 0 when the pool does not hold `e`.
  // StoreObject stores such an object, made by a pool with the same
  // codec(), for slot `e` of this pool, as Store would have stored the
  // page; false when the pool takes no more (the caller stores the page
  // another way). Decompress: one object of this codec into a page; false
  // when it is corrupt.
  size_t CopyObject(SwapEntry e, uint8_t* out, size_t cap);
  bool StoreObject(SwapEntry e, const uint8_t* obj, size_t n);
  bool Decompress(const uint8_t* obj, size_t n, uint8_t* page) const;
  size_t max_object() const { return pool_.max_object(); }
  // A disk read of a batch of `pages` pages (a fault and its readahead)
  // took `ns`: the adaptive share's price of a disk load.
  void NoteDiskRead(uint64_t ns, size_t pages);
  // The pool is above its write-back mark (kswapd should call Writeback).
  bool NeedsWriteback() const;
  // Writes up to n of the oldest objects back to their slots through
  // `next`, in one batch in slot order. Returns the objects written back.
  size_t Writeback(size_t n);
  // Compacts the pool when it holds more than 1.1 pool bytes per payload
  // byte. Returns the pages given back.
  size_t MaybeCompact();
  // The last resort of a charge that reclaim could not satisfy (every
  // resident page pinned, or swap full so that no page can leave): writes
  // up to n objects back (their slots are reserved, so this needs no free
  // slot), compacts, and returns the pool's cached free pages. Returns the
  // pool pages given back to the budget.
  size_t Shrink(size_t n);

  uint64_t limit_pages() const { return limit_pages_.load(std::memory_order_relaxed); }
  // Test seam (tests and the decompress fuzzer): f(uint8_t* bytes, size_t
  // len) may change the compressed object of `e` in place. False when the
  // pool does not hold `e`.
  template <typename F>
  bool MutateObjectForTest(SwapEntry e, F&& f) {
    std::atomic<uint32_t>* cell = Cell(e, false);
    if (!cell) return false;
    MutexLock l(&ShardOf(e).mu);
    const uint32_t v = cell->load(std::memory_order_relaxed);
    if (v == 0 || (v & kGhost)) return false;
    pool_.MutateForTest(entries_.Get(v)->handle, f);
    return true;
  }
  ZswapStats stats() const;
  // The pool's pages as the kernel counts them (ZsPool::KernelResidentPages).
  uint64_t KernelPoolPages() const { return pool_.KernelResidentPages(); }

 private:
  struct Entry {
    uint64_t handle = 0;          // the object in pool_
    SwapEntry entry;              // its slot
    uint32_t seq = 0;             // eviction number at store (refault distance)
    uint32_t prev = 0, next = 0;  // LRU list, oldest at lru_head_ (under lru_mu_)
    // kReferenced is set by loads (shard lock) and cleared by the LRU walk
    // (lru_mu_), hence atomic; the other bits change under the shard lock.
    std::atomic<uint8_t> flags{0};
  };
  static constexpr uint8_t kReferenced = 1, kWriteback = 2, kInvalid = 4, kNoWriteback = 8,
                           kOnDisk = 16;  // the slot on disk holds the same bytes
  // Slot table values: 0 (nothing), an entry id (< 2^31), a ghost, or
  // kPoor (the slot's page compressed worse than the threshold).
  static constexpr uint32_t kGhost = 1u << 31;
  static constexpr uint32_t kPoor = ~0u;
  void StoreImpl(std::span<SwapPage> pages, bool on_disk);
  // Puts object `obj` (n bytes) in the pool for slot `entry`, on the LRU;
  // false when the pool refuses it.
  bool Insert(SwapEntry entry, const uint8_t* obj, size_t n, uint32_t seq, uint32_t flags);
  static constexpr uint32_t kChunk = 1024;  // slots per table chunk (one page)
  static constexpr size_t kChunkBytes = kChunk * sizeof(std::atomic<uint32_t>);  // one page
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  struct Area {
    uint64_t slots = 0;
    ZeroedArray<std::atomic<std::atomic<uint32_t>*>> chunks;  // null until a slot is stored
  };
  struct alignas(64) Shard {
    Mutex mu;
    CondVar cv{&mu};  // write-backs completing (for Invalidate)
  };
  static constexpr int kShards = 64;
  Shard& ShardOf(SwapEntry e) const { return shards_[(e.value() * 0x9E3779B97F4A7C15ull) >> 58]; }
  // The slot's table cell; nullptr when the area or its chunk does not
  // exist (and `create` is false).
  std::atomic<uint32_t>* Cell(SwapEntry e, bool create);
  const std::atomic<uint32_t>* Cell(SwapEntry e) const;
  void LruAppend(uint32_t id) REQUIRES(lru_mu_);
  void LruUnlink(uint32_t id) REQUIRES(lru_mu_);
  bool OnLru(uint32_t id) REQUIRES(lru_mu_);
  // Frees a live entry's object and id. REQUIRES: its shard lock, off the LRU.
  void Drop(uint32_t id);
  uint32_t NextGhost() {
    return kGhost | (wb_seq_.fetch_add(1, std::memory_order_relaxed) & ~kGhost);
  }
  void SyncTableCharge();
  // The pool is full (hysteresis), updating the flag from pool_pages.
  bool PoolFull();
  void NoteLoad(bool near_pool, bool near_disk);
  void Adapt();

  const ZswapOptions options_;
  const std::unique_ptr<Compressor> codec_;
  const size_t page_size_;
  const uint64_t budget_pages_;
  SwapBackend* const next_;
  FramePool* const frames_;
  const std::function<void()> wake_;
  std::unique_ptr<Area> areas_[kMaxSwapFiles];
  std::unique_ptr<Shard[]> shards_;
  Mutex lru_mu_;
  uint32_t lru_head_ GUARDED_BY(lru_mu_) = 0;  // oldest
  uint32_t lru_tail_ GUARDED_BY(lru_mu_) = 0;  // newest
  std::atomic<uint64_t> pool_pages_{0};        // mirror of pool_.stats().pool_pages
  std::atomic<uint64_t> limit_pages_{0};
  std::atomic<bool> full_{false};
  std::atomic<uint32_t> evict_seq_{0};
  std::atomic<uint32_t> wb_seq_{0};
  std::atomic<uint64_t> table_bytes_{0};      // charged for entries_ and the slot tables
  Mutex charge_mu_;                           // SyncTableCharge
  std::atomic<uint64_t> entries_charged_{0};  // entries_ + pool_ bookkeeping, in table_bytes_
  std::atomic<uint64_t> objects_{0};          // live entries
  std::atomic<uint32_t> poor_share_{0};       // moving share of poor pages, in 1/1024ths
  std::atomic<uint32_t> probe_{0};            // stores seen while probing
  // Adaptive share: the current period's samples (relaxed; Adapt runs in
  // the thread that ends the period).
  std::atomic<uint32_t> period_loads_{0}, near_pool_{0}, near_disk_{0};
  // Moving averages (1/16 weight) in nanoseconds: a disk read (one batch),
  // a pool load (decompress + checksum).
  std::atomic<uint64_t> disk_read_ns_{50000}, pool_load_ns_{3000};
  // Counters (ZswapStats).
  std::atomic<uint64_t> stored_{0}, loaded_{0}, written_back_{0}, rejected_poor_{0},
      rejected_full_{0}, writeback_errors_{0}, corrupt_{0}, copied_in_{0};
  // Last: the pool's destructor reports its pages through the members above.
  // Chunks of 256 entries (8 KiB): the tier's metadata grows in small
  // steps, which small budgets feel.
  IdTable<Entry, 256, 1u << 20> entries_;
  ZsPool pool_;
};

}  // namespace uswap
