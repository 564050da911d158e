#include "io/fault_injection_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "io/io_test_util.h"
#include "io/mem_store.h"
#include "io/page_buffer.h"

namespace uswap {
namespace {

using testing::CheckPattern;
using testing::FillPattern;

constexpr size_t kPage = 4096;
constexpr uint64_t kSlots = 64;

// A FaultInjectionStore over a MemStore it borrows, so tests can look at
// what reached the target.
class FaultInjectionStoreTest : public ::testing::Test {
 protected:
  FaultInjectionStoreTest() : mem_(kPage, kSlots), store_(&mem_) {}

  Status Write(uint64_t slot, uint32_t nr, uint32_t stamp) {
    PageBuffer buf(size_t{nr} * kPage);
    for (uint32_t i = 0; i < nr; ++i) FillPattern(buf.data() + i * kPage, kPage, slot + i, stamp);
    return store_.Write(slot, nr, buf.data());
  }
  Status Read(uint64_t slot) {
    PageBuffer buf(kPage);
    return store_.Read(slot, 1, buf.data());
  }
  // What the target holds in `slot`, compared with a stamp.
  bool TargetHolds(uint64_t slot, uint32_t stamp) {
    PageBuffer buf(kPage);
    mem_.CopySlot(slot, buf.data());
    return CheckPattern(buf.data(), kPage, slot, stamp);
  }
  // Seeds the target directly (no faults).
  void Seed(uint64_t first, uint32_t nr, uint32_t stamp) {
    PageBuffer buf(kPage);
    for (uint64_t s = first; s < first + nr; ++s) {
      FillPattern(buf.data(), kPage, s, stamp);
      ASSERT_TRUE(mem_.Write(s, 1, buf.data()).ok());
    }
  }
  // Which of `n` single-slot reads fail.
  std::vector<bool> ReadFailures(int n) {
    std::vector<bool> failed;
    for (int i = 0; i < n; ++i) failed.push_back(!Read(1 + i % (kSlots - 1)).ok());
    return failed;
  }

  MemStore mem_;
  FaultInjectionStore store_;
};

TEST_F(FaultInjectionStoreTest, ForwardsEverythingWithoutRules) {
  ASSERT_TRUE(Write(3, 2, 1).ok());
  EXPECT_TRUE(TargetHolds(3, 1));
  EXPECT_TRUE(TargetHolds(4, 1));
  EXPECT_TRUE(Read(3).ok());
  EXPECT_TRUE(store_.Sync().ok());
  EXPECT_EQ(mem_.sync_count(), 1u);
  EXPECT_EQ(store_.injected_faults(), 0u);
  EXPECT_EQ(store_.name(), "fault");
  EXPECT_EQ(store_.page_size(), kPage);
  EXPECT_EQ(store_.nr_slots(), kSlots);
}

TEST_F(FaultInjectionStoreTest, FailsWritesCoveringChosenSlots) {
  Seed(4, 3, 1);
  store_.AddRule(FaultRule::OnSlots(FaultOp::kWrite, {5}));
  Status s = Write(5, 1, 2);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  // A run covering slot 5 fails whole, and nothing of it reaches the target.
  EXPECT_TRUE(Write(4, 3, 2).IsIOError());
  EXPECT_TRUE(TargetHolds(4, 1));
  EXPECT_TRUE(TargetHolds(5, 1));
  EXPECT_TRUE(TargetHolds(6, 1));
  // Other slots and reads are untouched.
  EXPECT_TRUE(Write(7, 1, 2).ok());
  EXPECT_TRUE(Read(5).ok());
  EXPECT_EQ(store_.fault_counts().eio, 2u);
  EXPECT_EQ(store_.stats().errors, 2u);
  EXPECT_EQ(store_.stats().writes, 1u);
}

TEST_F(FaultInjectionStoreTest, FailsOnlyTheFaultedRequestOfABatch) {
  Seed(10, 4, 1);
  store_.AddRule(FaultRule::OnSlots(FaultOp::kAny, {11}));
  PageBuffer buf(4 * kPage);
  std::vector<BlockIo> batch;
  for (uint32_t i = 0; i < 4; ++i) {
    FillPattern(buf.data() + i * kPage, kPage, 10 + i, 2);
    batch.push_back(
        {.op = BlockIo::Op::kWrite, .slot = 10 + i, .nr = 1, .buf = buf.data() + i * kPage});
  }
  EXPECT_TRUE(store_.Submit(batch).IsIOError());
  EXPECT_EQ(batch[0].error, 0);
  EXPECT_EQ(batch[1].error, EIO);
  EXPECT_EQ(batch[2].error, 0);
  EXPECT_EQ(batch[3].error, 0);
  EXPECT_TRUE(TargetHolds(10, 2));
  EXPECT_TRUE(TargetHolds(11, 1));
  EXPECT_TRUE(TargetHolds(12, 2));
  EXPECT_TRUE(TargetHolds(13, 2));
}

TEST_F(FaultInjectionStoreTest, FailsTheNthMatchingRequestOnce) {
  store_.AddRule(FaultRule::OnNth(FaultOp::kRead, 3));
  ASSERT_TRUE(Write(1, 1, 1).ok());  // writes do not count
  EXPECT_EQ(ReadFailures(6), (std::vector<bool>{false, false, true, false, false, false}));
  EXPECT_EQ(store_.injected_faults(), 1u);
}

TEST_F(FaultInjectionStoreTest, FailsEveryNthMatchingRequest) {
  store_.AddRule(FaultRule::OnEveryNth(FaultOp::kRead, 2));
  EXPECT_EQ(ReadFailures(6), (std::vector<bool>{false, true, false, true, false, true}));
  EXPECT_EQ(store_.injected_faults(), 3u);
}

TEST_F(FaultInjectionStoreTest, RandomFaultsAreReproducibleFromTheSeed) {
  auto pattern = [](uint64_t seed) {
    MemStore mem(kPage, kSlots);
    FaultInjectionStore store(&mem);
    store.AddRule(FaultRule::AtRandom(FaultOp::kAny, 0.25, seed));
    PageBuffer buf(kPage);
    std::vector<bool> failed;
    for (int i = 0; i < 400; ++i) failed.push_back(!store.Read(1 + i % 60, 1, buf.data()).ok());
    return failed;
  };
  const std::vector<bool> a = pattern(42), b = pattern(42), c = pattern(43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto failures = std::count(a.begin(), a.end(), true);
  EXPECT_GT(failures, 60);  // 100 expected
  EXPECT_LT(failures, 140);
}

TEST_F(FaultInjectionStoreTest, ProbabilityOneAlwaysFailsAndZeroNever) {
  const auto always = store_.AddRule(FaultRule::AtRandom(FaultOp::kRead, 1.0, 7));
  EXPECT_EQ(ReadFailures(20), std::vector<bool>(20, true));
  store_.RemoveRule(always);
  store_.AddRule(FaultRule::AtRandom(FaultOp::kRead, 0.0, 7));
  EXPECT_EQ(ReadFailures(20), std::vector<bool>(20, false));
}

TEST_F(FaultInjectionStoreTest, NoSpaceOnWrite) {
  Seed(2, 1, 1);
  store_.AddRule(FaultRule::OnNth(FaultOp::kWrite, 1, FaultKind::kNoSpace));
  PageBuffer buf(kPage);
  BlockIo io{.op = BlockIo::Op::kWrite, .slot = 2, .nr = 1, .buf = buf.data()};
  EXPECT_TRUE(store_.Submit({&io, 1}).IsNoSpace());
  EXPECT_EQ(io.error, ENOSPC);
  EXPECT_TRUE(TargetHolds(2, 1));
  EXPECT_EQ(store_.fault_counts().no_space, 1u);
}

// A short single-slot write tears the page: its first half new, the rest
// old, and the request reports EIO.
TEST_F(FaultInjectionStoreTest, ShortWriteTearsThePageAndReportsEio) {
  Seed(8, 1, 1);
  store_.AddRule(FaultRule::OnSlots(FaultOp::kWrite, {8}, FaultKind::kShortIo));
  PageBuffer buf(kPage);
  FillPattern(buf.data(), kPage, 8, 2);
  Status s = store_.Write(8, 1, buf.data());
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  PageBuffer now(kPage), old(kPage);
  mem_.CopySlot(8, now.data());
  FillPattern(old.data(), kPage, 8, 1);
  EXPECT_EQ(std::memcmp(now.data(), buf.data(), kPage / 2), 0);
  EXPECT_EQ(std::memcmp(now.data() + kPage / 2, old.data() + kPage / 2, kPage / 2), 0);
  EXPECT_EQ(store_.fault_counts().short_io, 1u);
}

// Three slots: the first written, the second torn, the third untouched.
TEST_F(FaultInjectionStoreTest, ShortMultiSlotWriteStopsHalfway) {
  Seed(20, 3, 1);
  store_.AddRule(FaultRule::OnNth(FaultOp::kWrite, 1, FaultKind::kShortIo));
  EXPECT_TRUE(Write(20, 3, 2).IsIOError());
  EXPECT_TRUE(TargetHolds(20, 2));
  EXPECT_FALSE(TargetHolds(21, 2));
  EXPECT_FALSE(TargetHolds(21, 1));
  EXPECT_TRUE(TargetHolds(22, 1));
}

TEST_F(FaultInjectionStoreTest, ShortReadReportsEioAndPoisonsTheTail) {
  Seed(30, 2, 1);
  store_.AddRule(FaultRule::OnNth(FaultOp::kRead, 1, FaultKind::kShortIo));
  PageBuffer buf(2 * kPage);
  EXPECT_TRUE(store_.Read(30, 2, buf.data()).IsIOError());
  EXPECT_TRUE(CheckPattern(buf.data(), kPage, 30, 1));
  EXPECT_FALSE(CheckPattern(buf.data() + kPage, kPage, 31, 1));
  EXPECT_EQ(static_cast<unsigned char>(buf.data()[kPage]), 0x5a);
}

TEST_F(FaultInjectionStoreTest, FirstFiringRuleDecidesAndAllCount) {
  store_.AddRule(FaultRule::OnSlots(FaultOp::kRead, {3}, FaultKind::kNoSpace));
  store_.AddRule(FaultRule::OnNth(FaultOp::kRead, 2));  // counts the slot-3 read too
  PageBuffer buf(kPage);
  EXPECT_TRUE(store_.Read(3, 1, buf.data()).IsNoSpace());  // 1st: slot rule
  EXPECT_TRUE(store_.Read(4, 1, buf.data()).IsIOError());  // 2nd: nth rule
  EXPECT_TRUE(store_.Read(4, 1, buf.data()).ok());
}

TEST_F(FaultInjectionStoreTest, RulesCanBeRemovedAndCleared) {
  const auto id = store_.AddRule(FaultRule::OnSlots(FaultOp::kAny, {5}));
  EXPECT_FALSE(Read(5).ok());
  EXPECT_TRUE(store_.RemoveRule(id));
  EXPECT_FALSE(store_.RemoveRule(id));
  EXPECT_TRUE(Read(5).ok());
  store_.AddRule(FaultRule::OnSlots(FaultOp::kAny, {5}));
  store_.AddRule(FaultRule::OnSlots(FaultOp::kAny, {6}));
  store_.ClearRules();
  EXPECT_TRUE(Read(5).ok());
  EXPECT_TRUE(Read(6).ok());
}

TEST_F(FaultInjectionStoreTest, SyncErrorIsInjectedThenCleared) {
  store_.SetSyncError(EIO);
  EXPECT_TRUE(store_.Sync().IsIOError());
  EXPECT_EQ(mem_.sync_count(), 0u);
  store_.SetSyncError(0);
  EXPECT_TRUE(store_.Sync().ok());
  EXPECT_EQ(mem_.sync_count(), 1u);
  EXPECT_EQ(store_.fault_counts().sync, 1u);
}

TEST_F(FaultInjectionStoreTest, ValidatesBeforeInjecting) {
  store_.AddRule(FaultRule::AtRandom(FaultOp::kAny, 1.0, 1));
  EXPECT_TRUE(store_.Read(0, 1, PageBuffer(kPage).data()).IsInvalidArgument());
  EXPECT_EQ(store_.injected_faults(), 0u);
}

// Rules change while four threads submit: every request either succeeds
// or fails with an injected error, and the counts agree (run under TSan).
TEST_F(FaultInjectionStoreTest, RulesChangeWhileThreadsSubmit) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      PageBuffer buf(kPage);
      for (int i = 0; i < 300; ++i) {
        const uint64_t slot = 1 + t * 15 + i % 15;
        FillPattern(buf.data(), kPage, slot, 1);
        if (!store_.Write(slot, 1, buf.data()).ok()) failed.fetch_add(1);
        if (!store_.Read(slot, 1, buf.data()).ok()) failed.fetch_add(1);
      }
    });
  }
  std::thread changer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const auto id = store_.AddRule(FaultRule::OnEveryNth(FaultOp::kAny, 3));
      std::this_thread::yield();
      store_.RemoveRule(id);
      if (i % 10 == 0) store_.ClearRules();
    }
  });
  for (std::thread& th : threads) th.join();
  stop = true;
  changer.join();
  EXPECT_EQ(failed.load(), store_.injected_faults());
  EXPECT_EQ(store_.stats().errors, store_.injected_faults());
}

TEST(FaultInjectionStoreOwnershipTest, OwnsItsTarget) {
  FaultInjectionStore store(std::make_unique<MemStore>(kPage, 8));
  EXPECT_EQ(store.target()->name(), "mem");
  store.AddRule(FaultRule::OnSlots(FaultOp::kWrite, {2}));
  PageBuffer buf(kPage);
  EXPECT_TRUE(store.Write(2, 1, buf.data()).IsIOError());
  EXPECT_TRUE(store.Write(3, 1, buf.data()).ok());
  EXPECT_EQ(store.target()->stats().writes, 1u);
}

}  // namespace
}  // namespace uswap
