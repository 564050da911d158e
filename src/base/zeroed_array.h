// ZeroedArray<T>: a fixed array of n objects of T in fresh anonymous pages
// of its own, which read as zeros and take memory only where they are
// written. Kernel twin: the vzalloc'd per-area tables of swapon
// (p->swap_map, p->cluster_info in mm/swapfile.c).
//
// Why not new T[n]() or std::vector: value-initialisation writes every
// byte, so a table sized by a swap area is resident in full from the start
// (a 1-byte swap_map over 8 GiB is 2 MiB; encryption's 24 bytes per slot,
// 48 MiB), and calloc does not help either: mimalloc zeroes reused blocks
// by writing. Under `uswap run` every process of a tree opens such an
// area, a fork child too. Here a slot that was never used costs nothing;
// a page of the table is touched when a slot on it is.
//
// A fork child does not inherit the contents: the pages are
// MADV_WIPEONFORK, and read as zeros there. These tables belong to the
// Space of the process that made them; a child's copy of that Space is
// inert (uswap/space.h) and never reads them. Inherited copy-on-write,
// every page the parent wrote after the fork — and the engine rewrites its
// tables on every fault and eviction — would stay behind in each child as
// a private copy nobody uses (under `uswap run`, megabytes per forked
// worker outside any budget).
//
// T must be valid as all-zero bytes and trivially destructible: integers,
// and atomics of integers or of pointers (nullptr). The pages are not
// constructed object by object (that would touch them); as for IdTable's
// directory, zero bytes are the objects' initial state.
//
// Not thread-safe itself: the elements' own types say how they may be
// shared. Move-only; the pages are unmapped when it is destroyed.
//
// MapZeroedPages/UnmapZeroedPages give the same pages to tables that
// manage their own objects (IdTable's chunks, the page table's blocks).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "base/check.h"

namespace uswap {

// `bytes` (rounded up to whole pages) of fresh anonymous memory that reads
// as zeros, takes memory only where written and is wiped in a fork child
// (above); nullptr when the address space is exhausted (MAP_NORESERVE: no
// memory is committed, so only address space can run out).
inline void* TryMapZeroedPages(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // Fails only on kernels before 4.14; the pages are then inherited as before.
  (void)::madvise(p, bytes, MADV_WIPEONFORK);
  return p;
}
// Same, for tables that cannot do without: aborts with a message instead.
inline void* MapZeroedPages(size_t bytes) {
  void* p = TryMapZeroedPages(bytes);
  USWAP_CHECK_MSG(p != nullptr, "no address space for a table");
  return p;
}
inline void UnmapZeroedPages(void* p, size_t bytes) {
  if (p) ::munmap(p, bytes);
}

template <typename T>
class ZeroedArray {
  static_assert(std::is_trivially_destructible_v<T>, "unmapped, never destroyed one by one");

 public:
  ZeroedArray() = default;
  // Aborts when the address space cannot hold n objects (MapZeroedPages).
  explicit ZeroedArray(size_t n) : n_(n) {
    if (n > 0) data_ = static_cast<T*>(MapZeroedPages(n * sizeof(T)));
  }
  // n objects, or nullopt when the address space cannot hold them (for a
  // caller that reports it: a region's directory is sized by the user).
  static std::optional<ZeroedArray> TryMake(size_t n) {
    ZeroedArray a;
    if (n == 0) return a;
    a.data_ = static_cast<T*>(TryMapZeroedPages(n * sizeof(T)));
    if (!a.data_) return std::nullopt;
    a.n_ = n;
    return a;
  }
  ~ZeroedArray() { UnmapZeroedPages(data_, n_ * sizeof(T)); }
  ZeroedArray(ZeroedArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  ZeroedArray& operator=(ZeroedArray&& o) noexcept {
    if (this != &o) {
      this->~ZeroedArray();
      data_ = std::exchange(o.data_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ZeroedArray(const ZeroedArray&) = delete;
  ZeroedArray& operator=(const ZeroedArray&) = delete;

  T& operator[](size_t i) {
    USWAP_DCHECK(i < n_);
    return data_[i];
  }
  const T& operator[](size_t i) const {
    USWAP_DCHECK(i < n_);
    return data_[i];
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return n_; }

 private:
  T* data_ = nullptr;
  size_t n_ = 0;
};

}  // namespace uswap
