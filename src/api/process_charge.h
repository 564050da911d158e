// ProcessCharge: how much memory a process holds outside uswap's accounting
// — the program's own anonymous memory, the allocator's, libraries' — for a
// shared budget that holds whole processes (Config::shared_budget_counts_process),
// as a memory cgroup charges every page its tasks touch.
//
// Measured from the kernel: /proc/self/statm (resident less shared: the
// private pages; the regions' frames are shared memfd pages) at every
// sample, ~10 µs; and every kPssEvery-th sample /proc/self/smaps_rollup's
// Pss_Anon (~2.6 ms with a few hundred MiB mapped), the process's
// proportional share of its anonymous pages: after fork() a child shares
// its parent's pages copy-on-write, and statm alone would count them in
// both. Between two Pss reads, the statm figure is scaled by the last
// Pss_Anon / statm ratio. cf. the kernel charging a COW-shared page once.
//
// Thread-safety: one sampling thread (the MemCgroup listener).
#pragma once

#include <cstddef>
#include <cstdint>

namespace uswap {

class ProcessCharge {
 public:
  static constexpr unsigned kPssEvery = 10;
  explicit ProcessCharge(size_t page_size) : page_size_(page_size) {}
  // Bytes to charge now: the process's share of its private anonymous
  // memory, less `metadata_bytes` (uswap's own, charged by the frame pool).
  // The last figure again when /proc cannot be read.
  uint64_t Sample(uint64_t metadata_bytes);

 private:
  const size_t page_size_;
  unsigned samples_ = 0;
  double share_ = 1.0;  // Pss_Anon / statm's private pages, at the last Pss read
  uint64_t last_ = 0;
};

}  // namespace uswap
