// The program's mprotect() on region memory splits the region's view into
// several vmas, and the kernel refuses a UFFDIO_ZEROPAGE / UFFDIO_COPY /
// UFFDIO_CONTINUE range that is not inside one vma (ENOENT). uswap's
// fault-around windows (a stream of first touches, swap-in readahead)
// cross such boundaries; every page must still resolve, with its data.
// Before the fault layer split such ranges, a zero-fill stream into a range
// next to a read-only one retried forever.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include "regress_util.h"

namespace uswap::testing {
namespace {

class MprotectTest : public EngineFixture, public ::testing::WithParamInterface<FaultDelivery> {
 protected:
  static constexpr uint64_t kPages = 512;

  // A region of kPages over a budget of 1024 pages, with read-only pages
  // every 64 pages, at offsets no fault-around window starts on, so that
  // windows cross into them from both sides. Null on failure.
  uint8_t* MapWithReadOnlyStripes() {
    space_ = OpenSpace(1024, 4096, GetParam());
    if (!space_) return nullptr;
    auto r = space_->Map(kPages * kPage);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return nullptr;
    region_ = std::move(*r);
    base_ = static_cast<uint8_t*>(region_->data());
    Protect(PROT_READ);
    return base_;
  }
  void Protect(int prot) {
    for (uint64_t p = 40; p < kPages; p += 64)
      ASSERT_EQ(mprotect(base_ + p * kPage, 4 * kPage, prot), 0);
  }
  void TearDown() override {
    region_.reset();
    space_.reset();
  }

  std::unique_ptr<Space> space_;
  std::unique_ptr<Region> region_;
  uint8_t* base_ = nullptr;
};

TEST_P(MprotectTest, ZeroFillStreamAcrossProtectionBoundaries) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  uint8_t* base = MapWithReadOnlyStripes();
  ASSERT_TRUE(base);
  EXPECT_EQ(CheckZeroPages(base, 0, kPages), kPages);  // a stream of first touches
}

TEST_P(MprotectTest, SwapInStreamAcrossProtectionBoundaries) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  uint8_t* base = MapWithReadOnlyStripes();
  ASSERT_TRUE(base);
  Protect(PROT_READ | PROT_WRITE);
  FillPages(base, 0, kPages, 7);
  ASSERT_TRUE(region_->PageOut(0, kPages * kPage).ok());
  Protect(PROT_READ);
  // Swap-in with readahead: the windows cross the read-only ranges.
  EXPECT_EQ(CheckPages(base, 0, kPages, 7), 0u);
  // Again from resident-but-unmapped pages (UFFDIO_CONTINUE windows).
  ASSERT_TRUE(region_->PageOut(0, kPages * kPage).ok());
  EXPECT_EQ(CheckPages(base, 0, kPages, 7), 0u);
  Protect(PROT_READ | PROT_WRITE);
  FillPages(base, 0, kPages, 8);
  EXPECT_EQ(CheckPages(base, 0, kPages, 8), 0u);
}

INSTANTIATE_TEST_SUITE_P(Delivery, MprotectTest,
                         ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus),
                         [](const auto& info) { return std::string(DeliveryName(info.param)); });

}  // namespace
}  // namespace uswap::testing
