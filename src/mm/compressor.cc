#include "mm/compressor.h"

#include "uswap/config.h"

#if HAVE_LZ4
#include <lz4.h>
#endif
#if HAVE_ZSTD
#include <zstd.h>
#endif

namespace uswap {

namespace {

#if HAVE_LZ4
class Lz4 final : public Compressor {
 public:
  const char* name() const override { return "lz4"; }
  size_t Compress(const uint8_t* src, size_t n, uint8_t* dst, size_t cap) override {
    const int r =
        LZ4_compress_default(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(dst),
                             static_cast<int>(n), static_cast<int>(cap));
    return r > 0 ? static_cast<size_t>(r) : 0;
  }
  bool Decompress(const uint8_t* src, size_t n, uint8_t* dst, size_t out_len) override {
    const int r =
        LZ4_decompress_safe(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(dst),
                            static_cast<int>(n), static_cast<int>(out_len));
    return r >= 0 && static_cast<size_t>(r) == out_len;
  }
};
#endif

#if HAVE_ZSTD
class Zstd final : public Compressor {
 public:
  explicit Zstd(int level) : level_(level) {}
  const char* name() const override { return "zstd"; }
  size_t Compress(const uint8_t* src, size_t n, uint8_t* dst, size_t cap) override {
    const size_t r = ZSTD_compressCCtx(Contexts().c.get(), dst, cap, src, n, level_);
    return ZSTD_isError(r) ? 0 : r;
  }
  bool Decompress(const uint8_t* src, size_t n, uint8_t* dst, size_t out_len) override {
    const size_t r = ZSTD_decompressDCtx(Contexts().d.get(), dst, out_len, src, n);
    return !ZSTD_isError(r) && r == out_len;
  }

 private:
  struct CDel {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  struct DDel {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
  };
  struct Ctx {
    std::unique_ptr<ZSTD_CCtx, CDel> c{ZSTD_createCCtx()};
    std::unique_ptr<ZSTD_DCtx, DDel> d{ZSTD_createDCtx()};
  };
  // One pair per thread, for every Zstd instance (contexts hold no level).
  static Ctx& Contexts() {
    thread_local Ctx ctx;
    return ctx;
  }
  const int level_;
};
#endif

}  // namespace

std::vector<std::string> Compressor::Available() {
  std::vector<std::string> out;
#if HAVE_LZ4
  out.emplace_back("lz4");
#endif
#if HAVE_ZSTD
  out.emplace_back("zstd");
#endif
  return out;
}

Result<std::unique_ptr<Compressor>> Compressor::Create(std::string_view name, int level) {
  if (name == "lz4") {
    if (level != 0) return Status::InvalidArgument("lz4 takes no compression level");
#if HAVE_LZ4
    return std::unique_ptr<Compressor>(new Lz4);
#else
    return Status::NotSupported("lz4 compression needs liblz4 (Debian: liblz4-dev) at build time");
#endif
  }
  if (name == "zstd") {
    if (level < 0 || level > 19)
      return Status::InvalidArgument("zstd level " + std::to_string(level) + " not in 0..19");
#if HAVE_ZSTD
    return std::unique_ptr<Compressor>(new Zstd(level == 0 ? 1 : level));
#else
    return Status::NotSupported(
        "zstd compression needs libzstd (Debian: libzstd-dev) at build time");
#endif
  }
  return Status::InvalidArgument("unknown compressor '" + std::string(name) + "' (lz4 or zstd)");
}

}  // namespace uswap
