// ZsPool: the compressed tier's allocator for variable-size objects (issue
// 12, design point 3), the twin of mm/zsmalloc.c: not malloc, so that the
// pool's memory is whole pages the budget can charge, packed densely, and
// given back by compaction.
//
// - Size classes every 16 bytes from 32 to the page size. An object takes
//   a 4-byte header (its handle id, for compaction) plus its bytes, rounded
//   up to its class. The worst internal waste is 15 bytes an object (~1% of
//   a 1.5 KiB compressed page).
// - A zspage is 1 to 4 contiguous pages (cf. zsmalloc's zspage of up to 4
//   order-0 pages), the count chosen per class to waste the least of its
//   tail; objects may straddle its pages. Free objects of a zspage are
//   chained through their first bytes.
// - Handles are stable across compaction (cf. zs_malloc()'s handle): a
//   handle names an entry of a handle table that holds the object's
//   place; compaction moves objects and updates the entries.
// - Compact() (cf. zs_compact()) moves objects from the emptiest zspages
//   of each class into the fullest, and gives the zspages left empty back.
// - Pages come from one range reserved at construction (no mmap per
//   zspage: a compressed store makes a zspage every few objects, and an
//   munmap of touched pages costs a TLB shoot-down). A freed zspage's pages
//   are kept for reuse up to `max_cached`, beyond that returned to the
//   kernel (MADV_DONTNEED). `pool_pages` counts the pages that hold memory
//   (in zspages or cached), and `on_pages` hears every change of it, so the
//   owner can charge exactly that to its budget (cf. zsmalloc's pages
//   counted in the memcg of the zswap entry's owner).
//
// Thread-safety: every method may be called concurrently. One lock per
// size class (cf. zsmalloc's class->lock) guards its zspages and the
// handle entries of its objects; the handle table's growth has its own.
// The class of a handle is encoded in it, so Load and Free take only that
// class's lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/id_table.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "uswap/status.h"

namespace uswap {

struct ZsPoolStats {
  uint64_t pool_pages = 0;     // pages holding memory: zspages + cached free pages (charged)
  uint64_t payload_bytes = 0;  // bytes stored (sum of object lengths)
  uint64_t objects = 0;
  // pool bytes / payload bytes: 1.0 is perfect packing (goal: <= 1.10).
  double fragmentation(size_t page_size) const {
    return payload_bytes ? double(pool_pages * page_size) / double(payload_bytes) : 0.0;
  }
};

class ZsPool {
 public:
  static constexpr uint64_t kMaxCachedPages = 64;
  // Reserves `max_pages` of address space (not memory) for zspages.
  // `on_pages(delta)` (may be empty) is called with every change of
  // pool_pages, under an internal lock: it must not call back into the pool.
  // `max_cached`: freed pages kept for reuse (at most kMaxCachedPages).
  explicit ZsPool(size_t page_size = 4096, uint64_t max_pages = uint64_t{1} << 22,
                  std::function<void(int64_t)> on_pages = {},
                  uint64_t max_cached = kMaxCachedPages);
  ~ZsPool();  // unmaps the whole range (handles become invalid)
  ZsPool(const ZsPool&) = delete;
  ZsPool& operator=(const ZsPool&) = delete;

  // Largest object: a page less the header (a page that compresses worse
  // is not worth storing: the caller keeps it on disk).
  size_t max_object() const { return page_size_ - kHeader; }

  // Stores `len` bytes (1..max_object()); returns a handle (never 0).
  // InvalidArgument for a bad length; NoSpace when the reserved range is full.
  Result<uint64_t> Store(const void* data, size_t len);
  // The stored length of `handle`, and its bytes copied to out (at least
  // that many bytes). REQUIRES: a live handle from Store.
  size_t Load(uint64_t handle, void* out) const;
  // Calls f(const uint8_t* bytes, size_t len) on the object in place, under
  // its class lock (no copy: a decompressor reads it directly; compaction
  // cannot move it meanwhile). f must not call into the pool.
  template <typename F>
  void Access(uint64_t handle, F&& f) const {
    const SizeClass& c = *classes_[handle & 0xff];
    MutexLock l(&c.mu);
    const Place& pl = PlaceOf(static_cast<uint32_t>(handle >> 8));
    f(static_cast<const uint8_t*>(ObjAddr(c, pl.zs, pl.obj) + kHeader), size_t{pl.len});
  }
  // Test seam (fuzzing the decompress path): f(uint8_t* bytes, size_t len)
  // may change the object's bytes in place.
  template <typename F>
  void MutateForTest(uint64_t handle, F&& f) {
    SizeClass& c = *classes_[handle & 0xff];
    MutexLock l(&c.mu);
    const Place& pl = PlaceOf(static_cast<uint32_t>(handle >> 8));
    f(ObjAddr(c, pl.zs, pl.obj) + kHeader, size_t{pl.len});
  }
  // The stored length of a live handle.
  size_t Length(uint64_t handle) const {
    const SizeClass& c = *classes_[handle & 0xff];
    MutexLock l(&c.mu);
    return PlaceOf(static_cast<uint32_t>(handle >> 8)).len;
  }
  // Frees the object. REQUIRES: a live handle; it is invalid afterwards.
  void Free(uint64_t handle);
  // Moves objects to free zspages; returns the pages unmapped.
  size_t Compact();
  // Gives the cached free pages back to the kernel (pool_pages drops).
  void TrimCache() EXCLUDES(arena_mu_);

  ZsPoolStats stats() const;
  // The pool's own bookkeeping in the heap: the handle table and the
  // zspage descriptors (malloc'd), for its owner to charge as metadata.
  uint64_t metadata_bytes() const {
    return places_.allocated_bytes() + zspage_count_.load(std::memory_order_relaxed) * kZsPageCost;
  }
  // Pages of the reserved range the kernel holds in memory now (mincore):
  // the pool's real footprint, for tests that check the budget from the
  // kernel's side. Should equal stats().pool_pages.
  uint64_t KernelResidentPages() const EXCLUDES(arena_mu_);

 private:
  static constexpr size_t kHeader = 4;  // handle id of the object
  static constexpr size_t kMinClass = 32, kClassStep = 16;
  static constexpr uint32_t kNoObj = UINT32_MAX;

  struct ZsPage {
    uint8_t* mem = nullptr;
    uint32_t inuse = 0;
    uint32_t free_head = kNoObj;  // first free object; each free one holds the next's index
    ZsPage* prev = nullptr;
    ZsPage* next = nullptr;
  };
  struct SizeClass {
    size_t size = 0;     // bytes an object takes (header included)
    uint32_t pages = 1;  // pages per zspage
    uint32_t objs_per_zspage = 0;
    mutable Mutex mu;
    ZsPage* partial GUARDED_BY(mu) = nullptr;  // zspages with a free object
    ZsPage* full GUARDED_BY(mu) = nullptr;
    uint64_t zspages GUARDED_BY(mu) = 0;
    uint64_t objects GUARDED_BY(mu) = 0;
    uint64_t payload GUARDED_BY(mu) = 0;
  };
  // Where an object lives: its zspage and index. Written under its class's lock.
  struct Place {
    ZsPage* zs = nullptr;
    uint32_t obj = 0;
    uint32_t len = 0;
  };

  static void Unlink(ZsPage*& head, ZsPage* z);
  static void Push(ZsPage*& head, ZsPage* z);
  uint8_t* ObjAddr(const SizeClass& c, const ZsPage* z, uint32_t obj) const {
    return z->mem + size_t{obj} * c.size;
  }
  // Takes a free object of z (REQUIRES: one exists and the class lock).
  uint32_t TakeObj(SizeClass& c, ZsPage* z) REQUIRES(c.mu);
  // Returns object `obj` of z to its free list (REQUIRES: the class lock).
  void PutObj(SizeClass& c, ZsPage* z, uint32_t obj) REQUIRES(c.mu);
  ZsPage* NewZsPage(SizeClass& c) REQUIRES(c.mu);
  void FreeZsPage(SizeClass& c, ZsPage* z) REQUIRES(c.mu);
  size_t CompactClass(SizeClass& c);
  // Pages for zspages (runs of 1..4 pages of the reserved range).
  uint8_t* TakeRun(uint32_t pages) EXCLUDES(arena_mu_);
  void GiveRun(uint8_t* mem, uint32_t pages) EXCLUDES(arena_mu_);

  // Handle table: a handle's id names its Place (2^28 ids at most).
  Place& PlaceOf(uint32_t id) const { return *places_.Get(id); }
  static uint64_t MakeHandle(uint32_t id, size_t cls) { return (uint64_t{id} << 8) | cls; }

  // A ZsPage descriptor as the heap holds it (malloc's header and rounding).
  static constexpr uint64_t kZsPageCost = sizeof(ZsPage) + 16;
  std::atomic<uint64_t> zspage_count_{0};

  const size_t page_size_;
  const uint64_t max_pages_;
  const std::function<void(int64_t)> on_pages_;
  const uint64_t max_cached_;
  uint8_t* arena_ = nullptr;  // max_pages_ reserved (MAP_NORESERVE)
  mutable Mutex arena_mu_;
  uint64_t arena_next_ GUARDED_BY(arena_mu_) = 0;    // first page never handed out
  uint64_t backed_pages_ GUARDED_BY(arena_mu_) = 0;  // pool_pages
  uint64_t cached_pages_ GUARDED_BY(arena_mu_) = 0;
  // First page index of freed runs, by length: still holding memory
  // (cached) or given back to the kernel (clean).
  std::vector<uint32_t> cached_runs_[5] GUARDED_BY(arena_mu_);
  std::vector<uint32_t> clean_runs_[5] GUARDED_BY(arena_mu_);
  std::vector<std::unique_ptr<SizeClass>> classes_;
  IdTable<Place, 4096, 1u << 16> places_;
};

}  // namespace uswap
