// RangeSet: a set of disjoint, coalesced address ranges [begin, end), the
// bookkeeping of `uswap run`'s address space (free ranges, fork advice and
// ranges covered by foreign mappings). The kernel keeps these as
// VMAs in a maple tree (mm/mmap.c); one ordered map per property is enough
// here because a process holds few of them.
//
// Thread-safety: none; the owner (AnonSpace) serialises every call.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace uswap {

struct AddrRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;  // exclusive
  uintptr_t size() const { return end - begin; }
  bool operator==(const AddrRange&) const = default;
};

class RangeSet {
 public:
  // Adds [begin, end); returns the parts that were not in the set before
  // (in address order), so that a caller can act on what changed only.
  std::vector<AddrRange> Add(uintptr_t begin, uintptr_t end);
  // Removes [begin, end); returns the parts that were in the set.
  std::vector<AddrRange> Remove(uintptr_t begin, uintptr_t end);
  // The parts of [begin, end) in the set, in address order.
  std::vector<AddrRange> Intersect(uintptr_t begin, uintptr_t end) const;
  // The parts of [begin, end) not in the set, in address order.
  std::vector<AddrRange> Gaps(uintptr_t begin, uintptr_t end) const;
  bool Contains(uintptr_t begin, uintptr_t end) const;  // all of [begin, end)
  // Lowest-addressed range of `size` bytes in the set (first fit, as
  // get_unmapped_area searches bottom-up); removes and returns its start.
  std::optional<uintptr_t> TakeFirstFit(uintptr_t size);
  uintptr_t bytes() const { return bytes_; }
  bool empty() const { return ranges_.empty(); }

 private:
  std::map<uintptr_t, uintptr_t> ranges_;  // begin -> end, disjoint, not adjacent
  uintptr_t bytes_ = 0;
};

}  // namespace uswap
