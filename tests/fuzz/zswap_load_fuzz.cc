// libFuzzer target for the compressed tier's load path (issue 12): a page
// is stored in the pool, its compressed object is damaged as the input
// says, and the page is loaded back. Zswap::Load must give EBADMSG (the
// checksum, or a decoder that refuses) or exactly the page stored — never
// a crash, an overrun (ASan), other bytes, or any other status.
//
// Input: byte 0 picks the codec (even: lz4, odd: zstd when built) and how
// the object is damaged (bit 1 clear: XOR the rest of the input into it
// from the offset in bytes 1-2; set: overwrite it with the rest, which may
// be shorter or longer: garbage of any length); bytes 3-10 seed the page.
//
// Also linked into mm_zswap_test, which replays tests/fuzz/corpus and
// tests/fuzz/regress through it in every normal build.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "mm/compressor.h"
#include "mm/frame_pool.h"
#include "mm/zswap.h"

namespace {

constexpr size_t kPage = 4096;

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "zswap_load_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

// The tier below: never reached (every page here compresses).
class NoDisk final : public uswap::SwapBackend {
 public:
  const char* name() const override { return "none"; }
  void Store(std::span<uswap::SwapPage>) override {}
  void Load(std::span<uswap::SwapPage>) override {}
  void Invalidate(uswap::SwapEntry) override {}
};

struct Tier {
  explicit Tier(const char* codec) : frames(1024, kPage, uswap::Watermarks{16, 20, 24}) {
    auto c = uswap::Compressor::Create(codec);
    if (!c.ok()) return;
    z = std::make_unique<uswap::Zswap>(uswap::ZswapOptions{}, std::move(*c), kPage, 1024, &disk,
                                       &frames, nullptr);
    Require(z->AttachArea(0, 16).ok(), "attach");
  }
  uswap::FramePool frames;
  NoDisk disk;
  std::unique_ptr<uswap::Zswap> z;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 11) return 0;
  static Tier lz4("lz4"), zstd("zstd");
  Tier& t = (data[0] & 1) && zstd.z ? zstd : lz4;
  if (!t.z) return 0;  // built without the codec
  const bool overwrite = data[0] & 2;
  uint16_t offset;
  std::memcpy(&offset, data + 1, sizeof offset);
  uint64_t seed;
  std::memcpy(&seed, data + 3, sizeof seed);
  const std::span<const uint8_t> rest(data + 11, size - 11);

  // A compressible page: runs of a few values with some noise.
  alignas(64) static uint8_t page[kPage], back[kPage];
  uint64_t x = seed | 1;
  for (size_t i = 0; i < kPage / 8; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const uint64_t w = i % 4 == 0 ? x : seed + i % 5;
    std::memcpy(page + i * 8, &w, 8);
  }
  const uswap::SwapEntry e(0, 1);
  uswap::SwapPage p;
  p.entry = e;
  p.buf = page;
  t.z->Store(std::span<uswap::SwapPage>(&p, 1));
  Require(p.status == 0, "a compressible page is stored");
  t.z->MutateObjectForTest(e, [&](uint8_t* obj, size_t len) {
    if (overwrite) {
      std::memcpy(obj, rest.data(), std::min(len, rest.size()));
    } else {
      for (size_t i = 0; i < rest.size(); i++) obj[(offset + i) % len] ^= rest[i];
    }
  });
  uswap::SwapPage l;
  l.entry = e;
  l.buf = back;
  l.sum = p.sum;
  t.z->Load(std::span<uswap::SwapPage>(&l, 1));
  Require(l.status == 0 || l.status == EBADMSG, "a load gives the page or EBADMSG");
  if (l.status == 0) Require(std::memcmp(page, back, kPage) == 0, "a load that succeeds is exact");
  t.z->Invalidate(e);
  return 0;
}
