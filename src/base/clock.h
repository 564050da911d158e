// MonotonicNs: nanoseconds of the monotonic clock (std::chrono::steady_clock,
// CLOCK_MONOTONIC), for intervals: poll windows, I/O and decompression times.
#pragma once

#include <chrono>
#include <cstdint>

namespace uswap {

inline int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace uswap
