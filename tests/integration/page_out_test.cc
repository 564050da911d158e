// Region::PageOut (cf. madvise(MADV_PAGEOUT)): the pages of a range leave
// RAM now, each the way reclaim would send it — dirty pages written to
// swap, clean pages (their slot still holds them) dropped without I/O,
// all-zero pages freed without a slot — and come back intact on the next
// touch. Pinned pages stay; a full swap area is NoSpace with nothing lost.
#include <gtest/gtest.h>

#include "regress_util.h"

namespace uswap::testing {
namespace {

class PageOutTest : public EngineFixture, public ::testing::WithParamInterface<FaultDelivery> {
 protected:
  // A budget far above what the tests touch: nothing leaves RAM unless
  // PageOut sends it.
  std::unique_ptr<Space> Open(uint64_t swap_pages) {
    Config cfg = SmallConfig(1024, NewSwapFile("a.swap", swap_pages));
    cfg.fault_delivery = GetParam();
    return OpenSpace(cfg);
  }
};

uint64_t CountState(Region& r, uint64_t first, uint64_t end, PageState state) {
  return CountPages(r, first, end, [state](const PteSnapshot& s) { return s.state == state; });
}

TEST_P(PageOutTest, DirtyPagesAreWrittenAndComeBack) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(1024);
  ASSERT_TRUE(space);
  auto r = space->Map(256 * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, 256, 1);
  const Stats s0 = space->stats();
  ASSERT_EQ(s0.pswpout, 0u) << "reclaim ran although the budget holds everything";
  ASSERT_EQ(s0.resident_pages, 256u);

  // Pages [64, 192), one byte past 191 rounds out to page 192.
  Status st = (*r)->PageOut(64 * kPage, 128 * kPage + 1);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const Stats s1 = space->stats().Since(s0);
  EXPECT_EQ(s1.pswpout, 129u);
  EXPECT_EQ(s1.resident_pages, 256u - 129);
  EXPECT_EQ(CountState(**r, 64, 193, PageState::kSwapped), 129u);
  EXPECT_EQ(CountState(**r, 0, 64, PageState::kResident), 64u) << "outside the range";
  EXPECT_EQ(CountState(**r, 193, 256, PageState::kResident), 63u) << "outside the range";

  EXPECT_EQ(CheckPages(base, 0, 256, 1), 0u);
  EXPECT_GE(space->stats().Since(s0).pswpin, 129u);
}

TEST_P(PageOutTest, CleanPagesAreDroppedAndZeroPagesFreedWithoutIo) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(1024);
  ASSERT_TRUE(space);
  auto r = space->Map(128 * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, 64, 1);
  ASSERT_TRUE((*r)->PageOut(0, 64 * kPage).ok());
  ASSERT_EQ(CheckPages(base, 0, 64, 1), 0u);      // read back: clean, each owns its slot
  ASSERT_EQ(CheckZeroPages(base, 64, 128), 64u);  // touched, all zero
  const Stats s0 = space->stats();

  Status st = (*r)->PageOut(0, 128 * kPage);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const Stats d = space->stats().Since(s0);
  EXPECT_EQ(d.pswpout, 0u) << "clean or zero pages were written";
  EXPECT_EQ(d.clean_drops, 64u);
  EXPECT_EQ(d.zero_drops, 64u);
  EXPECT_EQ(space->stats().resident_pages, 0u);
  EXPECT_EQ(CountState(**r, 64, 128, PageState::kNone), 64u);
  EXPECT_EQ(CheckPages(base, 0, 64, 1), 0u);
  EXPECT_EQ(CheckZeroPages(base, 64, 128), 64u);
}

TEST_P(PageOutTest, PinnedPagesStay) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(1024);
  ASSERT_TRUE(space);
  auto r = space->Map(64 * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, 64, 1);
  ASSERT_TRUE((*r)->Pin(10 * kPage, 2 * kPage).ok());
  ASSERT_TRUE((*r)->PageOut(0, 64 * kPage).ok());
  for (uint64_t i : {10, 11}) {
    PteSnapshot p = SnapshotPte(**r, i);
    EXPECT_TRUE(p.state == PageState::kResident && (p.flags & kMapped)) << i << ": " << Describe(p);
  }
  EXPECT_EQ(CountState(**r, 0, 64, PageState::kSwapped), 62u);
  EXPECT_EQ(CheckPages(base, 0, 64, 1), 0u);
  ASSERT_TRUE((*r)->Unpin(10 * kPage, 2 * kPage).ok());
}

TEST_P(PageOutTest, FullSwapIsNoSpaceAndLosesNothing) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(33);  // 32 usable slots
  ASSERT_TRUE(space);
  auto r = space->Map(64 * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, 64, 1);
  Status st = (*r)->PageOut(0, 64 * kPage);
  EXPECT_TRUE(st.IsNoSpace()) << st.ToString();
  EXPECT_EQ(CountState(**r, 0, 64, PageState::kSwapped), 32u);
  EXPECT_EQ(CheckPages(base, 0, 64, 1), 0u);
}

TEST_P(PageOutTest, OutOfRangeIsInvalidArgument) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(1024);
  ASSERT_TRUE(space);
  auto r = space->Map(16 * kPage);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->PageOut(16 * kPage, 1).IsInvalidArgument());
  EXPECT_TRUE((*r)->PageOut(0, 17 * kPage).IsInvalidArgument());
  EXPECT_TRUE((*r)->PageOut(0, 0).IsInvalidArgument());
  // Never touched: nothing to do.
  EXPECT_TRUE((*r)->PageOut(0, 16 * kPage).ok());
}

INSTANTIATE_TEST_SUITE_P(Delivery, PageOutTest,
                         ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus),
                         [](const auto& info) { return std::string(DeliveryName(info.param)); });

}  // namespace
}  // namespace uswap::testing
