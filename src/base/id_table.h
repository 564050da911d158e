// IdTable: objects named by a 32-bit id (never 0) instead of a pointer, so
// that whoever refers to one spends 4 bytes (cf. a pfn in a PTE instead of
// a struct page pointer). Objects live in chunks of kChunk that never move,
// under a fixed directory of kMaxChunks chunk pointers: Get(id) is
// lock-free, Alloc/Free take one mutex. The directory is a ZeroedArray
// (fresh zero pages, as vmalloc'd tables are), so only the entries of
// chunks really made are ever touched (8 bytes per chunk), whatever
// allocator the process runs (calloc may zero a whole block: mimalloc
// does under `uswap run`, which cost 8 MiB per table).
// Used by FramePool (frame descriptors), ZsPool (object handles) and
// Zswap (its entries).
//
// The chunks are ZeroedArray pages (MapZeroedPages), not the heap: a new
// object is all-zero bytes (T must be valid as such and trivially
// destructible, as for ZeroedArray), and a fork child does not inherit
// them — a Space's descriptors are rewritten on every fault and eviction,
// and each page of them rewritten after a fork would otherwise stay in
// every child as a private copy nobody reads (zeroed_array.h).
//
// Thread-safety: Alloc/Free may be called concurrently; Get(id) may race
// them for ids that are live (allocated and not freed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <vector>

#include "base/check.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "base/zeroed_array.h"

namespace uswap {

template <typename T, uint32_t kChunk, uint64_t kMaxChunks>
class IdTable {
  static_assert(std::is_trivially_destructible_v<T>, "chunks are unmapped, not destroyed");

 public:
  IdTable() : chunks_(kMaxChunks) {}
  ~IdTable() {
    for (uint64_t c = 0; c < kMaxChunks; c++) {
      T* chunk = chunks_[c].load(std::memory_order_relaxed);
      if (!chunk) break;  // chunks are made in order
      UnmapZeroedPages(chunk, kChunkBytes);
    }
  }
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;

  // A free id (its object as the last Free left it, or new: all zero bytes); aborts past
  // kChunk * kMaxChunks - 1 live ids.
  uint32_t Alloc() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    if (free_.empty()) {
      USWAP_CHECK_MSG(nchunks_ < kMaxChunks, "id table full");
      const uint64_t base = nchunks_ * kChunk;
      chunks_[nchunks_++].store(static_cast<T*>(MapZeroedPages(kChunkBytes)),
                                std::memory_order_release);
      free_.reserve(free_.size() + kChunk);
      // Id 0 means "none": the first chunk's first object is never handed out.
      for (uint64_t i = kChunk; i-- > (base == 0 ? 1 : 0);)
        free_.push_back(static_cast<uint32_t>(base + i));
    }
    const uint32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  void Free(uint32_t id) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    free_.push_back(id);
  }
  T* Get(uint32_t id) const {
    USWAP_DCHECK(id != 0);
    return chunks_[id / kChunk].load(std::memory_order_acquire) + id % kChunk;
  }
  // Bytes of objects allocated (live or free), and of the free-id list
  // (reserved for every id made).
  uint64_t allocated_bytes() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return nchunks_ * kChunk * (sizeof(T) + sizeof(uint32_t));
  }

 private:
  static constexpr size_t kChunkBytes = size_t{kChunk} * sizeof(T);
  ZeroedArray<std::atomic<T*>> chunks_;  // zero pages: every pointer null
  mutable Mutex mu_;
  uint64_t nchunks_ GUARDED_BY(mu_) = 0;
  std::vector<uint32_t> free_ GUARDED_BY(mu_);
};

}  // namespace uswap
