// SwapArea: the slot map of one swap area: which slots are free, how many
// references each used slot has, which are bad.
// cf. struct swap_info_struct: swap_map[], lowest_bit/highest_bit,
// cluster_next/cluster_nr, inuse_pages; scan_swap_map_slots(),
// swap_duplicate(), swap_free().
//
// swap_map[s] is the use count of slot s: 0 = free, 1..kSwapMapMax = that many
// references (page-table entries or swap-cache holders), kSwapMapBad = never
// to be used. Slot 0 (the header) and the header's bad pages start BAD.
//
// Allocation is clustered: slots are handed out from a current cluster of
// kClusterSlots contiguous slots, so pages reclaimed together land next to
// each other on disk and can be written in one I/O (cf. SWAPFILE_CLUSTER and
// the per-cpu cluster of mm/swapfile.c). Each cluster has its own lock; there
// is no global lock on the allocate/free path and no full-map scan there.
//
// Invariant (IsConsistent): inuse_pages == #{s : 0 < swap_map[s] < BAD}.
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "uswap/status.h"

namespace uswap {

class SwapArea {
 public:
  // Slots per cluster. 256 as the kernel's SWAPFILE_CLUSTER without THP:
  // 1 MiB of 4 KiB pages, the size at which this disk reaches its
  // sequential bandwidth (DESIGN.md §4).
  static constexpr uint32_t kClusterSlots = 256;
  static constexpr uint8_t kSwapMapMax = 0x3e;  // cf. SWAP_MAP_MAX
  static constexpr uint8_t kSwapMapBad = 0x3f;  // cf. SWAP_MAP_BAD

  // `pages` = header.last_page + 1 (slot 0 included). `bad_slots`: the
  // header's bad-page list (indices already validated to be in range).
  SwapArea(uint64_t pages, std::span<const uint32_t> bad_slots);
  ~SwapArea();
  SwapArea(const SwapArea&) = delete;
  SwapArea& operator=(const SwapArea&) = delete;

  // One free slot, count set to 1; nullopt when the area is full.
  // Slots handed out one after another by the same thread come from the
  // same cluster, in increasing order.
  std::optional<uint64_t> Allocate();

  // Exactly n contiguous free slots (1 <= n <= kClusterSlots), each count 1;
  // returns the first. nullopt when no such run exists.
  std::optional<uint64_t> AllocateRun(uint32_t n);

  // Up to `max` contiguous free slots (at least 1), each count 1: the rest of
  // the current cluster, for batched write-back. {first, n}; nullopt when full.
  std::optional<std::pair<uint64_t, uint32_t>> AllocateUpTo(uint32_t max);

  // count + 1. cf. swap_duplicate(). Errors: slot out of range, free, bad,
  // or already at kSwapMapMax (InvalidArgument / NoSpace, naming the slot).
  Status Duplicate(uint64_t slot);

  // count - 1. cf. swap_free(). Returns true when the slot became free.
  // Freeing a free or bad slot is an error, never a wrap-around.
  Result<bool> Free(uint64_t slot);

  // Marks a slot bad (e.g. after a write error). A slot in use stops
  // counting as in use. Bad slots are never handed out again.
  Status MarkBad(uint64_t slot);

  // Current swap_map value of `slot` (kSwapMapBad for out of range).
  uint8_t Count(uint64_t slot) const;

  uint64_t pages() const { return pages_; }  // slots including the header
  uint64_t usable_pages() const;             // pages - 1 - bad
  uint64_t inuse_pages() const;
  uint64_t bad_pages() const;
  uint64_t free_pages() const { return usable_pages() - inuse_pages(); }

  // Full scan; for tests and USWAP_EXPENSIVE_CHECK only.
  bool IsConsistent() const;

 private:
  struct Impl;
  const uint64_t pages_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uswap
