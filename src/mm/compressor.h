// Compressor: the compressed tier's codec (issue 12, design point 2), cf.
// the kernel's crypto_acomp behind zswap's `compressor` parameter.
//
//   "lz4"   Debian's liblz4, LZ4_compress_default (the default: ~2x zstd's
//           speed, zram's lz4 ratio ~2.6 on real pages)
//   "zstd"  libzstd at `level` (1..19; 0 = 1): a better ratio (~3.4), ~3x
//           slower to decompress
//
// Decompress is safe on any input (LZ4_decompress_safe, ZSTD bounds
// checks): a corrupted object gives false, never a crash or an overrun;
// the caller then reports a checksum error (the page's checksum decides
// anyway).
//
// Thread-safety: Compress/Decompress may be called concurrently; zstd keeps
// one context per thread (made on a thread's first call, kept after: the
// warm path allocates nothing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "uswap/status.h"

namespace uswap {

class Compressor {
 public:
  virtual ~Compressor() = default;
  // NotSupported when the library was not found at build time (the message
  // names the Debian package); InvalidArgument for an unknown name or level.
  static Result<std::unique_ptr<Compressor>> Create(std::string_view name, int level = 0);
  // The codecs this build has, by name ("lz4", "zstd").
  static std::vector<std::string> Available();

  virtual const char* name() const = 0;
  // Compresses n bytes into dst (capacity cap). Returns the compressed
  // length, or 0 when it does not fit in cap (the page is "poor").
  virtual size_t Compress(const uint8_t* src, size_t n, uint8_t* dst, size_t cap) = 0;
  // Decompresses exactly `out_len` bytes from src[0..n) into dst. False when
  // the input is corrupt or does not decode to exactly out_len bytes.
  virtual bool Decompress(const uint8_t* src, size_t n, uint8_t* dst, size_t out_len) = 0;
};

}  // namespace uswap
