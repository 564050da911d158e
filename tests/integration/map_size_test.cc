// Region sizes (audit F7): Map allocated and zeroed 24 bytes of page table
// per page at once, outside the budget (Map(1 TiB) with a 1 MiB budget took
// 6.3 GiB of RSS), and Map(64 TiB) threw std::bad_alloc through the API
// (terminate) although space.h promises a Status.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "regress_util.h"

namespace uswap::testing {
namespace {

constexpr uint64_t kTiB = uint64_t{1} << 40;

class MapSizeTest : public EngineFixture {};

TEST_F(MapSizeTest, ImpossibleSizesAreInvalidArgument) {
  auto space = OpenSpace(SmallConfig(64, NewSwapFile("a.swap", 1024)));
  ASSERT_TRUE(space);
  for (size_t bytes : {size_t{0}, SIZE_MAX, SIZE_MAX - 8191}) {
    auto r = space->Map(bytes);
    ASSERT_FALSE(r.ok()) << bytes;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << bytes << ": " << r.status().ToString();
  }
  // The Space is unharmed.
  auto r = space->Map(64 * kPage);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  FillPages(static_cast<uint8_t*>((*r)->data()), 0, 64, 1);
  EXPECT_EQ(CheckPages(static_cast<uint8_t*>((*r)->data()), 0, 64, 1), 0u);
}

// Map(1 TiB) with a 64-page budget: its metadata must not be proportional
// to its size. RSS (statm field 2) grows by less than 1 MiB for the Map and
// a few touches spread over the region; the touched pages work.
TEST_F(MapSizeTest, HugeRegionCostsNoRssUntilTouched) {
  auto space = OpenSpace(SmallConfig(64, NewSwapFile("a.swap", 1024)));
  ASSERT_TRUE(space);
  const uint64_t rss0 = RssBytes();
  auto r = space->Map(kTiB);
  if (!r.ok() && kTsan)  // ThreadSanitizer's address-space layout may lack a 1 TiB hole
    GTEST_SKIP() << "Map(1 TiB) under ThreadSanitizer: " << r.status().ToString();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const uint64_t rss_map = RssBytes();
  EXPECT_LT(rss_map - std::min(rss_map, rss0), uint64_t{1} << 20)
      << "Map(1 TiB) took " << (rss_map - rss0) / 1024 << " KiB of RSS";
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  const uint64_t pages = kTiB / kPage;
  const uint64_t touch[] = {0, 1, pages / 3, pages / 2, pages - 2, pages - 1};
  for (uint64_t i : touch) ASSERT_TRUE(CheckZeroPage(base + i * kPage)) << i;
  for (uint64_t i : touch) WritePage(base + i * kPage, i, 1);
  for (uint64_t i : touch) EXPECT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
  const uint64_t rss_touched = RssBytes();
  // Under a sanitizer the first accesses also fault in its shadow memory and
  // the fault threads' trace buffers (about 1.5 MiB under ThreadSanitizer).
  const uint64_t touch_limit = kSanitized ? uint64_t{16} << 20 : uint64_t{1} << 20;
  EXPECT_LT(rss_touched - std::min(rss_touched, rss0), touch_limit)
      << "after 6 touches: " << (rss_touched - rss0) / 1024 << " KiB of RSS";
  const auto t0 = std::chrono::steady_clock::now();
  r->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5))
      << "unmapping a 1 TiB region with 6 pages touched";
}

// Map(64 TiB) returns a Status (OK or not) instead of terminating the
// process. In a child: on the audited code it aborted (std::terminate).
TEST_F(MapSizeTest, Map64TiBReturnsAStatus) {
  const std::string swap = NewSwapFile("a.swap", 1024);
  ChildResult out = RunChild(
      [&](int fd) -> int {
        auto s = Space::Open(SmallConfig(64, swap));
        if (!s.ok()) return kChildOpenFailed;
        auto r = (*s)->Map(64 * kTiB);
        ReportToParent(fd, "returned", 1);
        ReportToParent(fd, "ok", r.ok());
        std::fprintf(stderr, "Map(64 TiB): %s\n", r.ok() ? "OK" : r.status().ToString().c_str());
        ChildExit(0);  // ends here: no teardown (the Region would outlive nothing)
      },
      std::chrono::seconds(30));
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_TRUE(out.Ok()) << "Map(64 TiB) did not return: " << out.Describe();
  EXPECT_EQ(out.Get("returned"), 1u) << out.Describe();
}

}  // namespace
}  // namespace uswap::testing
