// Region::Discard (audit F4's remedy for programs that free memory with
// madvise(MADV_DONTNEED), cf. MADV_DONTNEED on private anonymous memory):
// afterwards the pages read as zeros, whatever state they were in
// (resident and mapped, resident but unmapped on the inactive list, swapped
// out), their swap slots are freed, a pinned page is refused
// (InvalidArgument, nothing discarded) and so is a range outside the region.
#include <gtest/gtest.h>

#include <string>

#include "regress_util.h"

namespace uswap::testing {
namespace {

class DiscardTest : public EngineFixture, public ::testing::WithParamInterface<FaultDelivery> {
 protected:
  std::unique_ptr<Space> Open(uint64_t budget, uint64_t swap_pages) {
    Config cfg = SmallConfig(budget, NewSwapFile("a.swap", swap_pages));
    cfg.fault_delivery = GetParam();
    return OpenSpace(cfg);
  }
};

bool IsUnmappedResident(const PteSnapshot& s) {
  return s.state == PageState::kResident && !(s.flags & (kMapped | kWriteback));
}

// Resident, mapped pages (nothing swapped): zeros afterwards, frames given
// back, the pages around them untouched, and the discarded pages usable.
TEST_P(DiscardTest, ResidentPagesReadAsZeros) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(256, 1024);
  ASSERT_TRUE(space);
  auto r = space->Map(64 * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, 64, 1);
  ASSERT_EQ(SnapshotPte(**r, 8).state, PageState::kResident);
  Status st = (*r)->Discard(8 * kPage, 4 * kPage);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(CheckZeroPages(base, 8, 12), 4u);
  EXPECT_EQ(CheckPages(base, 0, 8, 1), 0u);
  EXPECT_EQ(CheckPages(base, 12, 64, 1), 0u);
  // len is rounded up to pages: one byte discards page 20.
  ASSERT_TRUE((*r)->Discard(20 * kPage, 1).ok());
  EXPECT_TRUE(CheckZeroPage(base + 20 * kPage));
  EXPECT_TRUE(CheckPage(base + 21 * kPage, 21, 1));
  // Ordinary memory again.
  FillPages(base, 8, 12, 2);
  EXPECT_EQ(CheckPages(base, 8, 12, 2), 0u);
}

// Swapped-out pages: zeros afterwards, and their slots are freed (the
// area's in-use count drops by the slots the range held).
TEST_P(DiscardTest, SwappedPagesReadAsZerosAndFreeTheirSlots) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(256, 4096);
  ASSERT_TRUE(space);
  constexpr uint64_t kPages = 1024;
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);
  // Pages [0, 256) are mostly swapped out by now. Nothing else may move
  // slots while the range's are counted and freed.
  ASSERT_TRUE(SettleReclaim(*space));
  uint64_t swapped = 0, slots = 0;
  for (uint64_t i = 0; i < 256; i++) {
    PteSnapshot p = SnapshotPte(**r, i);
    swapped += p.state == PageState::kSwapped;
    slots += p.has_slot;
  }
  ASSERT_GT(swapped, 128u);
  const uint64_t inuse_before = space->stats().areas.at(0).inuse_pages;
  Status st = (*r)->Discard(0, 256 * kPage);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const uint64_t inuse_after = space->stats().areas.at(0).inuse_pages;
  EXPECT_EQ(inuse_before - inuse_after, slots)
      << "in use " << inuse_before << " -> " << inuse_after << ", the range held " << slots;
  for (uint64_t i = 0; i < 256; i++) EXPECT_FALSE(SnapshotPte(**r, i).has_slot) << i;
  EXPECT_EQ(CheckZeroPages(base, 0, 256), 256u);
  EXPECT_EQ(CheckPages(base, 256, kPages, 1), 0u);
  // Zero pages take no slot, even after they went through reclaim again.
  FillPages(base, 256, kPages, 2);
  EXPECT_EQ(CheckZeroPages(base, 0, 256), 256u);
  EXPECT_EQ(CheckPages(base, 256, kPages, 2), 0u);
}

// Resident pages that reclaim unmapped (inactive list): zeros afterwards.
TEST_P(DiscardTest, UnmappedInactivePagesReadAsZeros) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(256, 4096);
  ASSERT_TRUE(space);
  constexpr uint64_t kPages = 1024;
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);
  // Let reclaim settle (kswapd stops at the high watermark), then find a
  // page it aged to the inactive list.
  ASSERT_TRUE(SettleReclaim(*space));
  const uint64_t target = FindPage(**r, 0, kPages, IsUnmappedResident);
  ASSERT_LT(target, kPages) << "no resident, unmapped page";
  Status st = (*r)->Discard(target * kPage, kPage);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(CheckZeroPage(base + target * kPage)) << Describe(SnapshotPte(**r, target));
  EXPECT_EQ(CheckPages(base, 0, target, 1) + CheckPages(base, target + 1, kPages, 1), 0u);
}

INSTANTIATE_TEST_SUITE_P(Delivery, DiscardTest,
                         ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus),
                         [](const auto& info) { return std::string(DeliveryName(info.param)); });

class DiscardArgsTest : public EngineFixture {};

// A pinned page in the range: InvalidArgument, and nothing of the range is
// discarded (the unpinned pages around it included).
TEST_F(DiscardArgsTest, PinnedPageIsRefusedAndNothingIsDiscarded) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 1024)));
  ASSERT_TRUE(space);
  auto r = space->Map(64 * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, 64, 1);
  ASSERT_TRUE((*r)->Pin(3 * kPage, kPage).ok());
  Status st = (*r)->Discard(0, 8 * kPage);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_EQ(CheckPages(base, 0, 64, 1), 0u);
  EXPECT_EQ(SnapshotPte(**r, 3).pins, 1u);
  ASSERT_TRUE((*r)->Unpin(3 * kPage, kPage).ok());
  st = (*r)->Discard(0, 8 * kPage);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(CheckZeroPages(base, 0, 8), 8u);
}

// Ranges outside the region, and an offset that is not page-aligned.
TEST_F(DiscardArgsTest, OutOfRangeIsInvalidArgument) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 1024)));
  ASSERT_TRUE(space);
  constexpr uint64_t kPages = 64;
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);
  const size_t size = (*r)->size();
  EXPECT_TRUE((*r)->Discard(size, kPage).IsInvalidArgument());
  EXPECT_TRUE((*r)->Discard(0, size + kPage).IsInvalidArgument());
  EXPECT_TRUE((*r)->Discard(size - kPage, 2 * kPage).IsInvalidArgument());
  EXPECT_TRUE((*r)->Discard(SIZE_MAX - kPage + 1, kPage).IsInvalidArgument());
  EXPECT_TRUE((*r)->Discard(kPage, SIZE_MAX).IsInvalidArgument());
  EXPECT_TRUE((*r)->Discard(100, kPage).IsInvalidArgument()) << "offset not page-aligned";
  EXPECT_EQ(CheckPages(base, 0, kPages, 1), 0u);
}

}  // namespace
}  // namespace uswap::testing
