// Kernel writes into clean pages (audit §1.4 / §4: only read(2) into
// swapped-out pages was tested). A clean page owns a swap slot holding its
// bytes, so reclaim may drop it without I/O; a write that uswap does not
// see would be lost by that drop. read(2) writes with copy_to_user, in the
// kernel: into a clean page mapped write-protected it must take the
// write-protect fault (the slot is freed, the page dirty), and into a clean
// page that reclaim unmapped it must take a MINOR write fault. Either way,
// after the page is evicted and read back, it holds what read(2) wrote.
// Handler-thread delivery only: under SIGBUS delivery such a read(2) gets
// EFAULT (documented in options.h).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "regress_util.h"

namespace uswap::testing {
namespace {

constexpr uint64_t kPages = 1024;  // 4x the budget

class WriteProtectTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    space_ = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 4 * kPages)));
    ASSERT_TRUE(space_);
    auto r = space_->Map(kPages * kPage);
    ASSERT_TRUE(r.ok());
    region_ = std::move(*r);
    base_ = static_cast<uint8_t*>(region_->data());
    FillPages(base_, 0, kPages, 1);
  }
  void TearDown() override {
    region_.reset();
    space_.reset();
  }

  // read(2) of version 2 of page `index` from a pipe into the page.
  void ReadVersion2Into(uint64_t index) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    std::vector<uint8_t> v2(kPage);
    WritePage(v2.data(), index, 2);
    ASSERT_EQ(::write(p[1], v2.data(), kPage), static_cast<ssize_t>(kPage));
    ::close(p[1]);
    EXPECT_EQ(FillByRead(p[0], base_ + index * kPage, kPage), static_cast<ssize_t>(kPage))
        << std::strerror(errno);
    ::close(p[0]);
  }

  // Rewrites every page outside index's 64-page block (version 3) until
  // `index` is evicted (at most 3 passes). The block is left alone because
  // a write stream through it would read `index` ahead and keep it in.
  void ChurnUntilEvicted(uint64_t index) {
    const uint64_t lo = index - index % 64, hi = lo + 64;
    for (int pass = 0; pass < 3 && SnapshotPte(*region_, index).state == PageState::kResident;
         pass++) {
      FillPages(base_, 0, lo, 3);
      FillPages(base_, hi, kPages, 3);
    }
    ASSERT_EQ(SnapshotPte(*region_, index).state, PageState::kSwapped)
        << "the churn did not evict the page: " << Describe(SnapshotPte(*region_, index));
  }

  std::unique_ptr<Space> space_;
  std::unique_ptr<Region> region_;
  uint8_t* base_ = nullptr;
};

bool IsSwapped(const PteSnapshot& s) { return s.state == PageState::kSwapped; }
// Clean: the slot holds the page's bytes, so reclaim may drop it without I/O.
bool IsClean(const PteSnapshot& s) {
  return s.state == PageState::kResident && s.has_slot && !(s.flags & kDirty);
}
bool IsCleanUnmapped(const PteSnapshot& s) {
  return s.state == PageState::kResident && s.has_slot &&
         !(s.flags & (kMapped | kDirty | kWriteback));
}

// Swapped out, read back by a read fault (clean, owns its slot, mapped
// write-protected), then read(2) into it.
TEST_F(WriteProtectTest, ReadSyscallIntoCleanWriteProtectedPageSurvivesEviction) {
  const uint64_t target = FindPage(*region_, 16, kPages / 2, IsSwapped);
  ASSERT_LT(target, kPages / 2);
  // The read fault charges frames and may wake kswapd, which could age the
  // page (unmap it) between the snapshot and read(2): the read would then
  // take a minor write fault instead of the write-protect fault under test.
  // Once reclaim has settled nothing runs until the next charge, and
  // read(2) into a mapped page charges nothing. (A re-read maps it again if
  // the settling reclaim aged it.)
  PteSnapshot pre;
  for (int attempt = 0; attempt < 3; attempt++) {
    ASSERT_TRUE(CheckPage(base_ + target * kPage, target, 1));  // the read fault
    ASSERT_TRUE(SettleReclaim(*space_));
    pre = SnapshotPte(*region_, target);
    if (pre.flags & kMapped) break;
  }
  ASSERT_TRUE(pre.state == PageState::kResident && pre.has_slot && (pre.flags & kMapped) &&
              (pre.flags & kWriteProtected) && !(pre.flags & kDirty))
      << "not a clean write-protected page: " << Describe(pre);
  const Stats s0 = space_->stats();

  ReadVersion2Into(target);
  const Stats s1 = space_->stats();
  EXPECT_TRUE(CheckPage(base_ + target * kPage, target, 2));
  EXPECT_GT(s1.wp_faults, s0.wp_faults)
      << "read(2) took no write-protect fault; meanwhile pgfault +" << s1.pgfault - s0.pgfault
      << ", pgminorfault +" << s1.pgminorfault - s0.pgminorfault << ", pgdeactivate +"
      << s1.pgdeactivate - s0.pgdeactivate << ", kswapd_wakeups +"
      << s1.kswapd_wakeups - s0.kswapd_wakeups << "; now "
      << Describe(SnapshotPte(*region_, target));
  EXPECT_FALSE(IsClean(SnapshotPte(*region_, target)))
      << "still clean after read(2) wrote it: " << Describe(SnapshotPte(*region_, target));

  ChurnUntilEvicted(target);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(CheckPage(base_ + target * kPage, target, 2))
      << "holds version " << CheckWhichVersion(base_ + target * kPage, target, 3)
      << " after eviction: read(2)'s bytes were dropped with the clean page";
  const uint64_t lo = target - target % 64;
  EXPECT_EQ(CheckPages(base_, 0, lo, 3) + CheckPages(base_, lo + 64, kPages, 3), 0u);
}

// A clean page that reclaim aged to the inactive list (resident, unmapped,
// owns its slot), then read(2) into it.
TEST_F(WriteProtectTest, ReadSyscallIntoCleanUnmappedPageSurvivesEviction) {
  // Read everything back: the pages come in clean; reclaim unmaps the
  // older ones onto the inactive list.
  ASSERT_EQ(CheckPages(base_, 0, kPages, 1), 0u);
  ASSERT_TRUE(SettleReclaim(*space_));
  const uint64_t target = FindPage(*region_, 0, kPages, IsCleanUnmapped);
  ASSERT_LT(target, kPages) << "no clean, unmapped page";

  ReadVersion2Into(target);
  EXPECT_TRUE(CheckPage(base_ + target * kPage, target, 2));
  EXPECT_FALSE(IsClean(SnapshotPte(*region_, target)))
      << "still clean after read(2) wrote it: " << Describe(SnapshotPte(*region_, target));

  ChurnUntilEvicted(target);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(CheckPage(base_ + target * kPage, target, 2))
      << "holds version " << CheckWhichVersion(base_ + target * kPage, target, 3)
      << " after eviction: read(2)'s bytes were dropped with the clean page";
}

}  // namespace
}  // namespace uswap::testing
