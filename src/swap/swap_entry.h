// SwapEntry: names one slot of one swap area, packed in a 64-bit word.
// cf. the kernel's swp_entry_t, swp_type(), swp_offset(), swp_entry().
//
//   bit 63      62..58        57..0
//   [ 0 ][ type (5 bits) ][ offset (58 bits) ]
//
// type indexes SwapDevices' table of up to kMaxSwapFiles (32) areas; offset
// is the slot number within the area. Slot 0 of every area holds the header
// and is never allocated, so the all-zero word (type 0, offset 0) never names
// a real slot: it means "no entry", as in the kernel.
#pragma once

#include <cstdint>

namespace uswap {

inline constexpr unsigned kSwapTypeBits = 5;
inline constexpr unsigned kMaxSwapFiles = 1u << kSwapTypeBits;  // 32, cf. MAX_SWAPFILES
inline constexpr unsigned kSwapOffsetBits = 58;
inline constexpr uint64_t kSwapOffsetMask = (uint64_t{1} << kSwapOffsetBits) - 1;

class SwapEntry {
 public:
  constexpr SwapEntry() = default;  // "no entry"
  // REQUIRES: type < kMaxSwapFiles, offset <= kSwapOffsetMask.
  constexpr SwapEntry(unsigned type, uint64_t offset)
      : val_((uint64_t{type} << kSwapOffsetBits) | (offset & kSwapOffsetMask)) {}
  static constexpr SwapEntry FromValue(uint64_t v) {
    SwapEntry e;
    e.val_ = v & ((uint64_t{1} << 63) - 1);
    return e;
  }

  constexpr unsigned type() const { return static_cast<unsigned>(val_ >> kSwapOffsetBits); }
  constexpr uint64_t offset() const { return val_ & kSwapOffsetMask; }
  constexpr uint64_t value() const { return val_; }
  constexpr bool empty() const { return val_ == 0; }
  constexpr explicit operator bool() const { return val_ != 0; }

  friend constexpr bool operator==(SwapEntry a, SwapEntry b) { return a.val_ == b.val_; }

 private:
  uint64_t val_ = 0;
};

static_assert(sizeof(SwapEntry) == 8);

}  // namespace uswap
