// MakeSwapArea: the library's mkswap(8). Sets up a Linux swap area
// (SWAPSPACE2, version 1) on a file or block device, byte-compatible with
// util-linux mkswap: what `uswap mkswap` runs, for programs that make their
// own swap files.
//
//   auto made = uswap::MakeSwapArea("/var/tmp/app.swap", 1ull << 30);
//   if (!made.ok()) { report(made.status()); return; }
//   config.swap_areas.push_back({"/var/tmp/app.swap"});
//
// Thread-safety: may be called from any thread; two calls on one path at
// once are the caller's race (as two mkswap runs would be).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "uswap/status.h"

namespace uswap {

struct SwapAreaOptions {
  // Volume label: at most 15 bytes, no NUL (util-linux truncates; uswap
  // refuses). Empty: no label.
  std::string label;
  // UUID as 16 bytes (all zero: no UUID). Unset: a random one (version 4).
  std::optional<std::array<uint8_t, 16>> uuid;
  // Page size of the area: a power of two from 4096 to 65536; 0: this
  // system's. A swap area is usable only on systems of its page size.
  size_t page_size = 0;
  // Format over existing data or a signature, and (with a size) resize an
  // existing regular file. Without it such a target is refused (Busy).
  bool force = false;
};

struct SwapAreaInfo {
  uint64_t pages = 0;         // slots, including the header page
  uint64_t usable_bytes = 0;  // (pages - 1) * page_size: what swapon(8) reports
  size_t page_size = 0;
  std::array<uint8_t, 16> uuid{};
  std::string label;
  // Conditions worth telling a person that did not stop the format: a file
  // with holes (swapon(2) will refuse it), an area cut to the 32-bit
  // last_page limit.
  std::vector<std::string> warnings;
};

// With `size` > 0: creates `path` (O_EXCL, no symlink followed, mode 0600)
// with `size` bytes fully allocated (no holes, so swapon(2) takes it too),
// or with options.force resizes an existing regular file; a file this call
// created is removed again if it fails. With `size` == 0: formats the
// existing regular file or block device at `path` whole (rounded down to
// pages). Writes page 0 (the header) and zeroes stale swap signatures of
// larger page sizes in the first 64 KiB, as util-linux does; nothing else.
// The header, and a created file's directory entry, are fsync'ed.
//
// Errors (nothing changed on the target, except a created file removed):
// InvalidArgument for a bad label, UUID, page size, a size under 10 pages,
// a target that is not a regular file or block device, or a size larger
// than a block device; NotFound when `path` does not exist and `size` is
// 0; Busy when the target exists (with `size`) or holds data or a
// signature and !options.force (the message says what it holds); IOError
// (with the errno text) when the system refuses a call.
Result<SwapAreaInfo> MakeSwapArea(const std::string& path, uint64_t size,
                                  const SwapAreaOptions& options = {});

}  // namespace uswap
