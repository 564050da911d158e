// SwapHeader: page 0 of a Linux swap area (SWAPSPACE2, version 1), read and
// written byte-exact with util-linux mkswap. Format: swap_format.h.
// cf. the kernel's read_swap_header() (mm/swapfile.c) and mkswap.c.
//
// Thread-safety: a value type.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "swap/swap_format.h"
#include "uswap/status.h"

namespace uswap {

struct SwapHeader {
  size_t page_size = 4096;  // 4096..65536, a power of two
  uint32_t version = swap_format::kVersion;
  uint32_t last_page = 0;           // index of the last usable slot (pages - 1)
  std::array<uint8_t, 16> uuid{};   // all-zero = no UUID
  std::string label;                // written: at most 15 bytes; read: up to 16
  std::vector<uint32_t> bad_pages;  // slot indices, each in [1, last_page]
  bool foreign_byte_order = false;  // fields were stored in the other byte order

  uint64_t pages() const { return uint64_t{last_page} + 1; }

  // Parses page 0. `page` must hold at least the header page (callers pass
  // kMaxPageSize bytes or the whole file if smaller); the page size is found
  // from where the magic sits. `file_size` is the size of the file or device
  // in bytes. Validates as read_swap_header() does; each failure is
  // Corruption (or InvalidArgument) naming the field and its value.
  static Result<SwapHeader> Parse(std::span<const uint8_t> page, uint64_t file_size);

  // Validates this header's fields (without a file).
  Status Validate(uint64_t file_size) const;

  // Page 0 bytes (page_size of them) exactly as mkswap writes them, in host
  // byte order (or foreign, if foreign_byte_order). bootbits zeroed.
  std::vector<uint8_t> Serialize() const;
};

// Reads and parses the header of an open file or block device: the first
// min(size, kMaxPageSize) bytes (pread) and the size (SwapTargetSize).
Result<SwapHeader> ReadSwapHeader(int fd);

// A header decoded without being judged, for tools that must show a damaged
// area (`uswap inspect`). `header` holds the fields as stored (byte order
// undone); `nr_badpages` is the count as stored, of which `header.bad_pages`
// keeps at most MaxBadpages(page_size); `validity` is exactly what Parse
// would have returned (OK or the first failed check).
struct SwapHeaderProbe {
  SwapHeader header;
  uint32_t nr_badpages = 0;
  Status validity;
};

// Fails only when there is no header to decode: the bytes are shorter than
// the smallest page or hold no SWAPSPACE2 signature (the same messages Parse
// gives for those cases).
Result<SwapHeaderProbe> ProbeSwapHeader(std::span<const uint8_t> page, uint64_t file_size);
Result<SwapHeaderProbe> ProbeSwapHeader(int fd);

// Up to `n` bytes from offset 0 of `fd` (fewer when the file is shorter),
// read with pread and retried on short reads and EINTR.
Result<std::vector<uint8_t>> ReadHeaderBytes(int fd, size_t n);

// Size in bytes of an open regular file (st_size) or block device
// (BLKGETSIZE64); InvalidArgument for any other kind of file.
Result<uint64_t> SwapTargetSize(int fd);

// Writes all `n` bytes at `offset`, retrying short writes and EINTR.
Status PwriteAll(int fd, const void* data, size_t n, uint64_t offset);

// `n` bytes from getrandom(2), retried on EINTR and short reads.
Status FillRandom(uint8_t* buf, size_t n);
// A random UUID (RFC 4122 §4.4: version 4, variant 10), as mkswap makes.
Result<std::array<uint8_t, 16>> RandomUuid();
// Lower-case 8-4-4-4-12, as libuuid's uuid_unparse() and blkid print it.
std::string FormatUuid(const std::array<uint8_t, 16>& uuid);

}  // namespace uswap
