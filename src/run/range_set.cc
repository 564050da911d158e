#include "run/range_set.h"

#include <algorithm>

namespace uswap {

std::vector<AddrRange> RangeSet::Intersect(uintptr_t begin, uintptr_t end) const {
  std::vector<AddrRange> out;
  if (begin >= end) return out;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin()) --it;
  for (; it != ranges_.end() && it->first < end; ++it) {
    uintptr_t b = std::max(begin, it->first), e = std::min(end, it->second);
    if (b < e) out.push_back({b, e});
  }
  return out;
}

std::vector<AddrRange> RangeSet::Gaps(uintptr_t begin, uintptr_t end) const {
  std::vector<AddrRange> gaps;
  uintptr_t cursor = begin;
  for (const AddrRange& r : Intersect(begin, end)) {
    if (cursor < r.begin) gaps.push_back({cursor, r.begin});
    cursor = r.end;
  }
  if (cursor < end) gaps.push_back({cursor, end});
  return gaps;
}

bool RangeSet::Contains(uintptr_t begin, uintptr_t end) const {
  if (begin >= end) return true;
  auto it = ranges_.upper_bound(begin);
  if (it == ranges_.begin()) return false;
  --it;
  return it->first <= begin && end <= it->second;
}

std::vector<AddrRange> RangeSet::Add(uintptr_t begin, uintptr_t end) {
  if (begin >= end) return {};
  // The gaps of [begin, end) between the present ranges are what is new.
  std::vector<AddrRange> added = Gaps(begin, end);
  for (const AddrRange& a : added) bytes_ += a.size();
  // Merge with every range that overlaps or touches [begin, end).
  uintptr_t b = begin, e = end;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin() && std::prev(it)->second >= begin) --it;
  while (it != ranges_.end() && it->first <= end) {
    b = std::min(b, it->first);
    e = std::max(e, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace(b, e);
  return added;
}

std::vector<AddrRange> RangeSet::Remove(uintptr_t begin, uintptr_t end) {
  std::vector<AddrRange> removed = Intersect(begin, end);
  for (const AddrRange& r : removed) {
    auto it = std::prev(ranges_.upper_bound(r.begin));
    uintptr_t b = it->first, e = it->second;
    ranges_.erase(it);
    if (b < r.begin) ranges_.emplace(b, r.begin);
    if (r.end < e) ranges_.emplace(r.end, e);
    bytes_ -= r.size();
  }
  return removed;
}

std::optional<uintptr_t> RangeSet::TakeFirstFit(uintptr_t size) {
  if (size == 0) return std::nullopt;
  for (const auto& [b, e] : ranges_) {
    if (e - b < size) continue;
    const uintptr_t at = b;
    Remove(at, at + size);
    return at;
  }
  return std::nullopt;
}

}  // namespace uswap
