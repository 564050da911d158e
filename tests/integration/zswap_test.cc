// The compressed tier (issue 12) through the public API: compressible pages
// leave RAM into the pool and come back from it without disk I/O;
// incompressible ones bypass it; a small fixed share writes the oldest
// objects back to their slots; resident frames + pool + metadata stay
// within the budget; a failed write-back keeps the object; bad options are
// refused.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "engine_test_util.h"
#include "mm/compressor.h"
#include "regress_util.h"

namespace uswap::testing {
namespace {

class ZswapTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    if (Compressor::Available().empty()) GTEST_SKIP() << "built without liblz4 / libzstd";
  }
};

constexpr uint64_t kWords = kPage / 8;

// Version v of page i, compressible about 2:1 with lz4: a quarter of its
// words vary, the rest repeat a few values.
uint64_t CompressibleWord(uint64_t i, uint32_t v, uint64_t k) {
  if (k % 4 == 0) return PageWord(i, v, k);
  return (i << 20) + v + (k % 7);
}
void WriteCompressible(uint8_t* p, uint64_t i, uint32_t v) {
  auto* w = reinterpret_cast<uint64_t*>(p);
  for (uint64_t k = 0; k < kWords; k++) w[k] = CompressibleWord(i, v, k);
}
bool CheckCompressible(const uint8_t* p, uint64_t i, uint32_t v) {
  auto* w = reinterpret_cast<const uint64_t*>(p);
  for (uint64_t k = 0; k < kWords; k++)
    if (w[k] != CompressibleWord(i, v, k)) return false;
  return true;
}

// The budget holds frames, the pool and the tables: the pool's pages and
// the tables shrink the frames that fit (frame_limit), and the frames in
// use stay within that (a few in flight while kswapd catches up).
void ExpectWithinBudget(const Stats& s, uint64_t budget) {
  EXPECT_LE(s.resident_pages, s.frame_limit + 8) << s.ToText();
  EXPECT_LE(s.frame_limit + s.zswap_pool_pages, budget) << s.ToText();
}

TEST_F(ZswapTest, CompressiblePagesComeBackFromThePoolWithoutDiskIo) {
  constexpr uint64_t kBudget = 512, kPages = 2048;
  Config cfg = SmallConfig(kBudget, NewSwapFile("z.swap", 2 * kPages));
  cfg.compress = "lz4";
  cfg.compress_max_pool_percent = 60;  // 307 pages hold ~600 objects of ~2 KiB
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  for (uint64_t i = 0; i < kPages; i++) WriteCompressible(base + i * kPage, i, 1);
  ASSERT_TRUE(SettleReclaim(*space));  // no batch half counted
  const Stats s1 = space->stats();
  // Every dirty page that left went to the pool, or to disk while the pool
  // was full (how many depends on when kswapd wrote back: a burst of
  // evictions may fill it first, as zswap's does).
  EXPECT_GT(s1.zswap_stored, kPages / 8) << s1.ToText();
  EXPECT_EQ(s1.zswap_rejected_full, s1.pswpout) << s1.ToText();
  EXPECT_EQ(s1.zswap_rejected_poor, 0u) << s1.ToText();
  EXPECT_GT(s1.zswap_objects, 0u);
  EXPECT_GT(s1.zswap_pool_pages, 0u);
  // Compressed about 2:1 (lz4 on this content): under 60% of a page each.
  EXPECT_LT(s1.zswap_payload_bytes, s1.zswap_objects * kPage * 6 / 10) << s1.ToText();
  EXPECT_LE(s1.zswap_pool_pages, s1.zswap_limit_pages + 4) << s1.ToText();
  ExpectWithinBudget(s1, kBudget);
  // From the kernel's side: the memfd's blocks and the pool's resident
  // pages (every zspage page is written, so resident) fit in the budget.
  const uint64_t memfd = ImplOf(**r)->mm()->ResidentBytes();
  const uint64_t pool = ImplOf(*space)->node().zswap()->KernelPoolPages() * kPage;
  EXPECT_EQ(pool, s1.zswap_pool_pages * kPage);
  EXPECT_LE(memfd + pool, kBudget * kPage) << "memfd " << memfd << " pool " << pool;

  // Read back newest first: the pool holds the pages evicted last. In the
  // order they were written, the read is a loop larger than the pool: each
  // page that comes back displaces another into the pool, whose oldest
  // objects go to disk first, so whether any page is still in the pool
  // when its turn comes depends on when kswapd wrote back (under load it
  // was none: the pool is an LRU, as zswap's is).
  uint64_t bad = 0;
  for (uint64_t i = kPages; i-- > 0;) bad += !CheckCompressible(base + i * kPage, i, 1);
  EXPECT_EQ(bad, 0u);
  const Stats s2 = space->stats();
  EXPECT_GT(s2.zswap_loaded, 0u) << s2.ToText();
  // Every swapped page came back, from the pool or the disk.
  EXPECT_EQ(s2.checksum_errors, 0u);
  EXPECT_EQ(s2.read_errors, 0u);
  EXPECT_EQ(s2.zswap_corrupt, 0u);
  // A page loaded from the pool is dirty (an exclusive load): its object
  // and its slot are gone until it leaves again.
  EXPECT_LE(s2.zswap_objects + s2.resident_pages, kPages) << s2.ToText();

  // Written again, evicted again, read again: versions never mix.
  for (uint64_t i = 0; i < kPages; i += 3) WriteCompressible(base + i * kPage, i, 2);
  for (uint64_t i = 0; i < kPages; i++)
    bad += !CheckCompressible(base + i * kPage, i, i % 3 == 0 ? 2 : 1);
  EXPECT_EQ(bad, 0u);
  r->reset();
  const Stats s3 = space->stats();
  EXPECT_EQ(s3.zswap_objects, 0u) << "teardown invalidates every object";
  EXPECT_EQ(s3.areas[0].inuse_pages, 0u);
}

TEST_F(ZswapTest, IncompressiblePagesBypassThePool) {
  constexpr uint64_t kBudget = 256, kPages = 1024;
  Config cfg = SmallConfig(kBudget, NewSwapFile("r.swap", 2 * kPages));
  cfg.compress = "lz4";
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  for (uint64_t i = 0; i < kPages; i++) WritePage(base + i * kPage, i, 1);
  ASSERT_TRUE(SettleReclaim(*space));
  const Stats s = space->stats();
  EXPECT_GT(s.zswap_rejected_poor, kPages / 2) << s.ToText();
  EXPECT_EQ(s.zswap_stored, 0u) << s.ToText();
  EXPECT_EQ(s.zswap_pool_pages, 0u) << s.ToText();
  EXPECT_GE(s.pswpout, s.zswap_rejected_poor) << s.ToText();
  EXPECT_EQ(CheckPages(base, 0, kPages, 1), 0u);
}

TEST_F(ZswapTest, OffMeansNoTier) {
  constexpr uint64_t kBudget = 128, kPages = 512;
  Config cfg = SmallConfig(kBudget, NewSwapFile("o.swap", 2 * kPages));
  cfg.compress = "off";
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  for (uint64_t i = 0; i < kPages; i++) WriteCompressible(base + i * kPage, i, 1);
  for (uint64_t i = 0; i < kPages; i++) EXPECT_TRUE(CheckCompressible(base + i * kPage, i, 1));
  const Stats s = space->stats();
  EXPECT_EQ(s.zswap_stored + s.zswap_rejected_poor + s.zswap_limit_pages, 0u) << s.ToText();
  EXPECT_GT(s.pswpout, 0u);
}

// A small fixed share: the pool fills, kswapd writes the oldest objects to
// their reserved slots, and every page still comes back right.
TEST_F(ZswapTest, FullPoolWritesTheOldestBackAndLosesNothing) {
  constexpr uint64_t kBudget = 256, kPages = 4096;
  Config cfg = SmallConfig(kBudget, NewSwapFile("w.swap", 2 * kPages));
  cfg.compress = "lz4";
  cfg.compress_max_pool_percent = 10;  // 25 pages: ~100 objects
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  for (int pass = 1; pass <= 2; pass++) {
    for (uint64_t i = 0; i < kPages; i++) WriteCompressible(base + i * kPage, i, pass);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < kPages; i += 7) bad += !CheckCompressible(base + i * kPage, i, pass);
    EXPECT_EQ(bad, 0u) << "pass " << pass;
  }
  uint64_t bad = 0;
  for (uint64_t i = 0; i < kPages; i++) bad += !CheckCompressible(base + i * kPage, i, 2);
  EXPECT_EQ(bad, 0u);
  const Stats s = space->stats();
  EXPECT_GT(s.zswap_written_back + s.zswap_rejected_full, 0u) << s.ToText();
  EXPECT_GT(s.zswap_stored, 0u);
  EXPECT_EQ(s.zswap_limit_pages, kBudget / 10);
  EXPECT_LE(s.zswap_pool_pages, s.zswap_limit_pages + 8) << s.ToText();
  EXPECT_EQ(s.checksum_errors + s.read_errors, 0u) << s.ToText();
}

TEST_F(ZswapTest, BadOptionsAreRefused) {
  Config cfg = SmallConfig(128, "");
  cfg.compress = "brotli";
  auto s = Space::Open(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().IsInvalidArgument()) << s.status().ToString();
  EXPECT_NE(s.status().ToString().find("brotli"), std::string::npos) << s.status().ToString();
  cfg.compress = "lz4";
  cfg.compress_level = 3;
  EXPECT_FALSE(Space::Open(cfg).ok()) << "lz4 has no level";
  cfg.compress_level = 0;
  cfg.compress_max_pool_percent = 95;
  EXPECT_FALSE(Space::Open(cfg).ok());
  cfg.compress_max_pool_percent = 0;
  cfg.compress_threshold_bytes = 4096;
  EXPECT_FALSE(Space::Open(cfg).ok());
  cfg.compress_threshold_bytes = 2990;
  cfg.compress = "zstd";
  cfg.compress_level = 25;
  EXPECT_FALSE(Space::Open(cfg).ok());
}

}  // namespace
}  // namespace uswap::testing
