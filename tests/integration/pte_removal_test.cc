// PTEs removed behind uswap's back (audit F4): the program's (or an
// allocator's) madvise(MADV_DONTNEED) or madvise(MADV_PAGEOUT) on region
// memory unmaps a page uswap believes mapped. Region memory is a shared
// mapping of a memfd, so the memfd keeps the page: the next access must map
// it again and read the same bytes. Before the fix it was a MINOR fault
// answered with a bare wake-up, forever (713 586 faults in 3 s, R2), in
// both fault deliveries. MADV_FREE is refused by the kernel on shared
// mappings.
//
// Every access after the madvise runs in a child process with a bounded
// wait: a livelock becomes a failure, not a stuck test.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <chrono>
#include <string>
#include <tuple>

#include "regress_util.h"

namespace uswap::testing {
namespace {

enum class PageKind {
  kDirty,           // written, mapped writable, no slot
  kCleanProtected,  // swapped in by a read: owns its slot, mapped write-protected
};

struct Case {
  int advice;
  PageKind kind;
  FaultDelivery delivery;
};

constexpr uint64_t kPages = 1024;  // 4x the budget

bool IsSwapped(const PteSnapshot& s) { return s.state == PageState::kSwapped; }

// In the child. Reports: precondition, madvise_errno (0 = it worked),
// read_ok, rewrite_ok, state_after_churn, after_churn_ok, others_bad.
int Scenario(int fd, const std::string& swap, const Case& c) {
  Config cfg;
  cfg.ram_budget_bytes = 256 * kPage;
  cfg.swap_areas.push_back({swap});
  cfg.fault_delivery = c.delivery;
  auto s = Space::Open(cfg);
  if (!s.ok()) return kChildOpenFailed;
  auto r = (*s)->Map(kPages * kPage);
  if (!r.ok()) return kChildMapFailed;
  Region& region = **r;
  uint8_t* base = static_cast<uint8_t*>(region.data());
  uint64_t target;
  bool pre;
  if (c.kind == PageKind::kDirty) {
    FillPages(base, 0, 64, 1);
    target = 5;
    PteSnapshot p = SnapshotPte(region, target);
    pre = p.state == PageState::kResident && (p.flags & kMapped) && (p.flags & kDirty);
  } else {
    FillPages(base, 0, kPages, 1);
    target = FindPage(region, 8, kPages / 2, IsSwapped);
    if (target == kPages / 2) return kChildSetupFailed;
    if (!CheckPage(base + target * kPage, target, 1)) return kChildCheckFailed;
    PteSnapshot p = SnapshotPte(region, target);
    pre = p.state == PageState::kResident && (p.flags & kMapped) && (p.flags & kWriteProtected) &&
          p.has_slot && !(p.flags & kDirty);
  }
  ReportToParent(fd, "precondition", pre);
  int rc = ::madvise(base + target * kPage, kPage, c.advice);
  ReportToParent(fd, "madvise_errno", rc == 0 ? 0 : errno);
  if (rc != 0) return 0;

  // The access that livelocked.
  ReportToParent(fd, "read_ok", CheckPage(base + target * kPage, target, 1));
  // Still an ordinary page: a write is kept (also through eviction).
  WritePage(base + target * kPage, target, 2);
  ReportToParent(fd, "rewrite_ok", CheckPage(base + target * kPage, target, 2));
  // Churn outside target's 64-page block (a write stream through the block
  // would read target ahead and keep it resident).
  const uint64_t lo = target - target % 64, hi = lo + 64;
  FillPages(base, 0, lo, 3);
  FillPages(base, hi, kPages, 3);
  ReportToParent(fd, "state_after_churn", static_cast<uint64_t>(SnapshotPte(region, target).state));
  ReportToParent(fd, "after_churn_ok", CheckPage(base + target * kPage, target, 2));
  ReportToParent(fd, "others_bad", CheckPages(base, 0, lo, 3) + CheckPages(base, hi, kPages, 3));
  r->reset();
  return 0;
}

class PteRemovalTest
    : public EngineFixture,
      public ::testing::WithParamInterface<std::tuple<int, PageKind, FaultDelivery>> {};

TEST_P(PteRemovalTest, NextAccessMapsThePageAgain) {
  const Case c{std::get<0>(GetParam()), std::get<1>(GetParam()), std::get<2>(GetParam())};
  if (kTsan && c.delivery == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  const std::string swap = NewSwapFile("a.swap", 4 * kPages);
  ChildResult out =
      RunChild([&](int fd) { return Scenario(fd, swap, c); }, std::chrono::seconds(30));
  ASSERT_FALSE(out.timed_out) << "the access after madvise never completed: " << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  ASSERT_EQ(out.Get("precondition"), 1u)
      << "the page was not in the intended state: " << out.Describe();
  if (c.advice == MADV_PAGEOUT && out.Get("madvise_errno") == EINVAL)
    GTEST_SKIP() << "this kernel refuses MADV_PAGEOUT here";
  ASSERT_EQ(out.Get("madvise_errno"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("read_ok"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("rewrite_ok"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("state_after_churn"), static_cast<uint64_t>(PageState::kSwapped))
      << "the churn did not push the page out: " << out.Describe();
  EXPECT_EQ(out.Get("after_churn_ok"), 1u)
      << "the write after madvise was lost: " << out.Describe();
  EXPECT_EQ(out.Get("others_bad"), 0u) << out.Describe();
}

INSTANTIATE_TEST_SUITE_P(
    Madvise, PteRemovalTest,
    ::testing::Combine(::testing::Values(MADV_DONTNEED, MADV_PAGEOUT),
                       ::testing::Values(PageKind::kDirty, PageKind::kCleanProtected),
                       ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) == MADV_DONTNEED ? "DontNeed" : "PageOut") +
             (std::get<1>(info.param) == PageKind::kDirty ? "_DirtyPage" : "_CleanWpPage") + "_" +
             DeliveryName(std::get<2>(info.param));
    });

class MadvFreeTest : public EngineFixture {};

// MADV_FREE works on private anonymous memory only: on region memory (a
// shared mapping) the kernel refuses it with EINVAL and nothing changes.
TEST_F(MadvFreeTest, RefusedOnRegionMemoryAndChangesNothing) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 1024)));
  ASSERT_TRUE(space);
  auto r = space->Map(64 * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, 64, 1);
  const PteSnapshot before = SnapshotPte(**r, 5);
  errno = 0;
  EXPECT_EQ(::madvise(base + 5 * kPage, 4 * kPage, MADV_FREE), -1);
  EXPECT_EQ(errno, EINVAL);
  const PteSnapshot after = SnapshotPte(**r, 5);
  EXPECT_EQ(after.state, before.state) << Describe(after);
  EXPECT_EQ(after.flags, before.flags) << Describe(after);
  EXPECT_EQ(CheckPages(base, 0, 64, 1), 0u);
}

}  // namespace
}  // namespace uswap::testing
