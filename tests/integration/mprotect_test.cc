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
  std::unique_ptr<Space> Open(uint64_t budget, uint64_t swap_pages) {
    Config cfg = SmallConfig(budget, NewSwapFile("a.swap", swap_pages));
    cfg.fault_delivery = GetParam();
    return OpenSpace(cfg);
  }
};

constexpr uint64_t kPages = 512;

// Read-only pages every 64 pages, at offsets that no fault-around window
// starts on, so that windows cross into them from both sides.
void ProtectEvery64(uint8_t* base, int prot) {
  for (uint64_t p = 40; p < kPages; p += 64)
    ASSERT_EQ(mprotect(base + p * kPage, 4 * kPage, prot), 0);
}

TEST_P(MprotectTest, ZeroFillStreamAcrossProtectionBoundaries) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(1024, 4096);
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  ProtectEvery64(base, PROT_READ);
  EXPECT_EQ(CheckZeroPages(base, 0, kPages), kPages);  // a stream of first touches
}

TEST_P(MprotectTest, SwapInStreamAcrossProtectionBoundaries) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  auto space = Open(1024, 4096);
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 7);
  ASSERT_TRUE((*r)->PageOut(0, kPages * kPage).ok());
  ProtectEvery64(base, PROT_READ);
  // Swap-in with readahead: the windows cross the read-only ranges.
  EXPECT_EQ(CheckPages(base, 0, kPages, 7), 0u);
  // Again from resident-but-unmapped pages (UFFDIO_CONTINUE windows).
  ASSERT_TRUE((*r)->PageOut(0, kPages * kPage).ok());
  EXPECT_EQ(CheckPages(base, 0, kPages, 7), 0u);
  ProtectEvery64(base, PROT_READ | PROT_WRITE);
  FillPages(base, 0, kPages, 8);
  EXPECT_EQ(CheckPages(base, 0, kPages, 8), 0u);
}

INSTANTIATE_TEST_SUITE_P(Delivery, MprotectTest,
                         ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus),
                         [](const auto& info) { return std::string(DeliveryName(info.param)); });

}  // namespace
}  // namespace uswap::testing
