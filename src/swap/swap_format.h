// On-disk format of a Linux swap area header, version 1 ("SWAPSPACE2").
// These numbers are part of the persistent format shared with the kernel and
// util-linux: never change them. See doc/swap_format.md.
// cf. include/linux/swap.h `union swap_header` and util-linux mkswap.c.
//
// Page 0 of the area:
//   0      .. 1023   bootbits (zeroed by mkswap; may hold a disk label)
//   1024   u32 version (1)
//   1028   u32 last_page      (number of pages in the area - 1)
//   1032   u32 nr_badpages
//   1036   u8  sws_uuid[16]
//   1052   u8  sws_volume[16] (label, NUL-padded, at most 15 bytes used)
//   1068   u32 padding[117]   (zero)
//   1536   u32 badpages[]     (up to (pagesize - 1536 - 10) / 4 entries)
//   pagesize-10 "SWAPSPACE2"
// Multi-byte fields are in the byte order of the machine that wrote them; a
// reader recognises a foreign order by version == 0x01000000 (swab32(1)).
#pragma once

#include <cstddef>
#include <cstdint>

namespace uswap::swap_format {

inline constexpr size_t kBootbitsSize = 1024;
inline constexpr size_t kVersionOffset = 1024;
inline constexpr size_t kLastPageOffset = 1028;
inline constexpr size_t kNrBadpagesOffset = 1032;
inline constexpr size_t kUuidOffset = 1036;
inline constexpr size_t kUuidSize = 16;
inline constexpr size_t kLabelOffset = 1052;
inline constexpr size_t kLabelSize = 16;  // 15 bytes + NUL
inline constexpr size_t kBadpagesOffset = 1536;
inline constexpr char kMagic[] = "SWAPSPACE2";
inline constexpr size_t kMagicSize = 10;
inline constexpr uint32_t kVersion = 1;

inline constexpr size_t kMinPageSize = 4096;
inline constexpr size_t kMaxPageSize = 65536;

// The kernel refuses areas with fewer than this many usable pages; mkswap(8)
// refuses to make them (it needs at least 10 pages).
inline constexpr uint64_t kMinPages = 10;

// Maximum number of bad-page entries that fit in a header page.
constexpr size_t MaxBadpages(size_t page_size) {
  return (page_size - kBadpagesOffset - kMagicSize) / sizeof(uint32_t);
}

}  // namespace uswap::swap_format
