// AnonSpace without the shim: the anonymous-memory operations `uswap run`
// maps mmap/munmap/mremap/madvise/mlock to, on a Region four times larger
// than its budget, so that every check also crosses swap.
#include "run/anon_space.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "uswap/swap_area.h"

namespace uswap {
namespace {

constexpr size_t kPage = 4096;

class AnonSpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    path_ = std::string(tmp && *tmp ? tmp : "/var/tmp") + "/anon_space_test." +
            std::to_string(getpid()) + ".swap";
    ::unlink(path_.c_str());
    ASSERT_TRUE(MakeSwapArea(path_, 64u << 20).ok());
    Config config;
    config.ram_budget_bytes = 4u << 20;
    config.compress = "off";  // every eviction is a swap write
    config.swap_areas.push_back({path_});
    AnonSpace::Layout layout;
    layout.heap_bytes = AnonSpace::kHeapAlign;
    layout.map_bytes = 64u << 20;
    auto as = AnonSpace::Open(config, layout);
    ASSERT_TRUE(as.ok()) << as.status().ToString();
    as_ = std::move(*as);
  }
  void TearDown() override {
    as_.reset();
    ::unlink(path_.c_str());
  }
  uintptr_t MapOrDie(size_t len) {
    uintptr_t at = 0;
    EXPECT_EQ(as_->Map(len, PROT_READ | PROT_WRITE, &at), 0);
    return at;
  }
  // Page i of a fill holds seed + i in its first byte and the page's
  // index in its last word, so that no page is same-filled.
  static void Fill(uintptr_t at, size_t len, uint8_t seed) {
    for (size_t off = 0; off < len; off += kPage) {
      auto* p = reinterpret_cast<uint8_t*>(at + off);
      std::memset(p, static_cast<uint8_t>(seed + off / kPage), kPage - 8);
      const uint64_t index = off / kPage + 1;
      std::memcpy(p + kPage - 8, &index, 8);
    }
  }
  // Index of the first page not as Fill left it, or -1.
  static long FirstBad(uintptr_t at, size_t len, uint8_t seed) {
    for (size_t off = 0; off < len; off += kPage) {
      const auto* p = reinterpret_cast<const uint8_t*>(at + off);
      const auto want = static_cast<uint8_t>(seed + off / kPage);
      for (size_t i = 0; i < kPage - 8; i++)
        if (p[i] != want) return static_cast<long>(off / kPage);
      uint64_t index;
      std::memcpy(&index, p + kPage - 8, 8);
      if (index != off / kPage + 1) return static_cast<long>(off / kPage);
    }
    return -1;
  }
  static bool Zero(uintptr_t at, size_t len) {
    for (size_t i = 0; i < len; i++)
      if (reinterpret_cast<const uint8_t*>(at)[i] != 0) return false;
    return true;
  }
  std::string path_;
  std::unique_ptr<AnonSpace> as_;
};

TEST_F(AnonSpaceTest, MappingsLargerThanTheBudgetKeepTheirData) {
  const size_t len = 16u << 20;  // 4x the budget
  uintptr_t a = MapOrDie(len);
  ASSERT_TRUE(as_->Overlaps(a, len));
  ASSERT_TRUE(Zero(a, kPage));
  Fill(a, len, 7);
  EXPECT_EQ(FirstBad(a, len, 7), -1);
  EXPECT_GT(as_->space().stats().pswpout, 0u);
  EXPECT_EQ(as_->mapped_bytes(), len);
}

TEST_F(AnonSpaceTest, UnmapDiscardsAndTheRangeComesBackZeroed) {
  uintptr_t a = MapOrDie(8 * kPage);
  Fill(a, 8 * kPage, 1);
  ASSERT_EQ(as_->Unmap(a, 8 * kPage), 0);
  EXPECT_EQ(as_->mapped_bytes(), 0u);
  uintptr_t b = MapOrDie(8 * kPage);
  EXPECT_EQ(b, a);  // first fit reuses it
  EXPECT_TRUE(Zero(b, 8 * kPage));
  EXPECT_EQ(as_->Unmap(a + 1, kPage), EINVAL);
}

TEST_F(AnonSpaceTest, RemapShrinksGrowsInPlaceAndMovesWithItsData) {
  uintptr_t a = MapOrDie(4 * kPage);
  Fill(a, 4 * kPage, 3);
  uintptr_t out = 0;
  ASSERT_EQ(as_->Remap(a, 4 * kPage, 2 * kPage, false, &out), 0);
  EXPECT_EQ(out, a);
  ASSERT_EQ(as_->Remap(a, 2 * kPage, 4 * kPage, false, &out), 0);  // the tail was freed
  EXPECT_EQ(out, a);
  EXPECT_EQ(FirstBad(a, 2 * kPage, 3), -1);
  EXPECT_TRUE(Zero(a + 2 * kPage, 2 * kPage));  // shrunk away: zeros, as the kernel
  uintptr_t blocker = MapOrDie(kPage);          // right after `a`
  ASSERT_EQ(blocker, a + 4 * kPage);
  Fill(a, 4 * kPage, 9);
  EXPECT_EQ(as_->Remap(a, 4 * kPage, 64 * kPage, false, &out), ENOMEM);
  ASSERT_EQ(as_->Remap(a, 4 * kPage, 64 * kPage, true, &out), 0);
  EXPECT_NE(out, a);
  EXPECT_EQ(FirstBad(out, 4 * kPage, 9), -1);
  EXPECT_TRUE(Zero(out + 4 * kPage, 60 * kPage));
}

TEST_F(AnonSpaceTest, AdviceDiscardsPagesOutOrIsRefused) {
  uintptr_t a = MapOrDie(8 * kPage);
  Fill(a, 8 * kPage, 5);
  ASSERT_EQ(as_->Advise(a + 2 * kPage, 2 * kPage, MADV_DONTNEED), 0);
  EXPECT_TRUE(Zero(a + 2 * kPage, 2 * kPage));
  EXPECT_EQ(FirstBad(a, 2 * kPage, 5), -1);
  std::vector<uint8_t> copy(reinterpret_cast<uint8_t*>(a + 4 * kPage),
                            reinterpret_cast<uint8_t*>(a + 8 * kPage));
  ASSERT_EQ(as_->Advise(a + 4 * kPage, 4 * kPage, MADV_PAGEOUT), 0);
  EXPECT_EQ(std::memcmp(copy.data(), reinterpret_cast<void*>(a + 4 * kPage), copy.size()), 0);
  ASSERT_EQ(as_->Advise(a, kPage, MADV_FREE), 0);
  EXPECT_TRUE(Zero(a, kPage));
  EXPECT_EQ(as_->Advise(a, kPage, MADV_WILLNEED), 0);
  EXPECT_EQ(as_->Advise(a, kPage, 12345), EINVAL);
  EXPECT_EQ(as_->Advise(a + 1, kPage, MADV_DONTNEED), EINVAL);
}

TEST_F(AnonSpaceTest, LockedPagesStayAndRefuseDontneed) {
  uintptr_t a = MapOrDie(4 * kPage);
  Fill(a, 4 * kPage, 11);
  ASSERT_EQ(as_->Lock(a, 2 * kPage), 0);
  ASSERT_EQ(as_->Lock(a, 2 * kPage), 0);  // mlock does not nest: one munlock undoes it
  EXPECT_EQ(as_->Advise(a, kPage, MADV_DONTNEED), EINVAL);
  EXPECT_EQ(FirstBad(a, 4 * kPage, 11), -1);
  ASSERT_EQ(as_->Unlock(a, 2 * kPage), 0);
  EXPECT_EQ(as_->Advise(a, kPage, MADV_DONTNEED), 0);
  ASSERT_EQ(as_->Lock(a + kPage, kPage), 0);
  EXPECT_EQ(as_->Unmap(a, 4 * kPage), 0);  // munmap unlocks
  EXPECT_EQ(as_->Advise(a + kPage, kPage, MADV_DONTNEED), 0);
}

// mlockall(MCL_CURRENT): every mapping of the map area in whole, the
// heap's touched pages only; munlockall undoes it. The budget is 1024
// pages, the mlock limit three quarters of it (768).
TEST_F(AnonSpaceTest, LockAllCurrentLocksMappingsAndTheTouchedHeap) {
  uintptr_t a = MapOrDie(64 * kPage);
  Fill(a, 32 * kPage, 21);  // the other 32 pages never touched
  const uintptr_t heap = reinterpret_cast<uintptr_t>(as_->heap_begin());
  Fill(heap, 16 * kPage, 22);
  ASSERT_EQ(as_->Advise(heap, 64 * kPage, MADV_PAGEOUT), 0);
  ASSERT_EQ(as_->LockAll(MCL_CURRENT), 0);
  // Everything resident now is the mapping and the heap's touched pages
  // (with those a stream of first touches zero-filled ahead of it).
  Stats s = as_->space().stats();
  EXPECT_EQ(s.mlocked_pages, s.resident_pages);
  EXPECT_GE(s.mlocked_pages, 64u + 16u);
  EXPECT_LE(s.mlocked_pages, 64u + 64u);
  EXPECT_EQ(FirstBad(heap, 16 * kPage, 22), -1);
  EXPECT_EQ(as_->Advise(a, kPage, MADV_DONTNEED), EINVAL) << "locked";
  // A heap page touched later is locked as it faults in (the kernel
  // would have populated and locked the whole heap); a new mapping is not.
  Fill(heap + 128 * kPage, kPage, 23);
  uintptr_t b = MapOrDie(8 * kPage);
  Fill(b, 8 * kPage, 24);
  EXPECT_EQ(as_->space().stats().mlocked_pages, s.mlocked_pages + 1);
  EXPECT_EQ(as_->Advise(heap + 128 * kPage, kPage, MADV_DONTNEED), EINVAL);
  EXPECT_EQ(as_->Advise(b, kPage, MADV_DONTNEED), 0);
  ASSERT_EQ(as_->UnlockAll(), 0);
  EXPECT_EQ(as_->space().stats().mlocked_pages, 0u);
  EXPECT_EQ(as_->Advise(a, kPage, MADV_DONTNEED), 0);
  Fill(heap + 129 * kPage, kPage, 25);
  EXPECT_EQ(as_->space().stats().mlocked_pages, 0u) << "munlockall left lock on fault on";
}

// MCL_FUTURE: a new mapping is populated and locked at once; past the
// limit mmap fails (EAGAIN) and nothing stays mapped or locked. With
// MCL_ONFAULT only what is resident is locked now, the rest as it faults.
TEST_F(AnonSpaceTest, LockAllFutureLocksNewMappingsUpToTheLimit) {
  ASSERT_EQ(as_->LockAll(MCL_FUTURE), 0);
  EXPECT_EQ(as_->space().stats().mlocked_pages, 0u);
  uintptr_t a = MapOrDie(16 * kPage);
  EXPECT_EQ(as_->space().stats().mlocked_pages, 16u) << "not populated at mmap";
  EXPECT_TRUE(Zero(a, 16 * kPage));
  uintptr_t at = 0;
  EXPECT_EQ(as_->Map(1000 * kPage, PROT_READ | PROT_WRITE, &at), EAGAIN);
  EXPECT_EQ(as_->mapped_bytes(), 16 * kPage) << "the refused mapping stayed";
  EXPECT_EQ(as_->space().stats().mlocked_pages, 16u);
  ASSERT_EQ(as_->UnlockAll(), 0);

  // (What is resident depends on fault-around: a stream of first touches
  // zero-fills some pages ahead of it.)
  uintptr_t b = MapOrDie(256 * kPage);
  Fill(b, 8 * kPage, 31);
  const uint64_t resident = as_->space().stats().resident_pages;
  ASSERT_EQ(as_->LockAll(MCL_CURRENT | MCL_ONFAULT), 0);
  EXPECT_EQ(as_->space().stats().mlocked_pages, resident);
  EXPECT_LT(resident, 16u + 256u) << "ONFAULT populated";
  Fill(b + 128 * kPage, 8 * kPage, 32);
  const Stats s = as_->space().stats();
  EXPECT_GT(s.mlocked_pages, resident);
  EXPECT_EQ(s.mlocked_pages, s.resident_pages) << "a page faulted in unlocked";
  EXPECT_EQ(as_->UnlockAll(), 0);
}

TEST_F(AnonSpaceTest, LockAllRefusesBadFlagsAndTooMuch) {
  EXPECT_EQ(as_->LockAll(0), EINVAL);
  EXPECT_EQ(as_->LockAll(MCL_ONFAULT), EINVAL);
  EXPECT_EQ(as_->LockAll(MCL_CURRENT | 0x100), EINVAL);
  uintptr_t a = MapOrDie(800 * kPage);  // above the limit (768 pages)
  EXPECT_EQ(as_->LockAll(MCL_CURRENT), ENOMEM);
  EXPECT_EQ(as_->Lock(a, 800 * kPage), ENOMEM);
  EXPECT_EQ(as_->Lock(a, 8 * kPage), 0);
  ASSERT_EQ(as_->UnlockAll(), 0);
  EXPECT_EQ(as_->space().stats().mlocked_pages, 0u);
}

TEST_F(AnonSpaceTest, FixedMappingsReplaceOrRefuse) {
  uintptr_t a = MapOrDie(4 * kPage);
  Fill(a, 4 * kPage, 13);
  EXPECT_EQ(as_->MapFixed(a, kPage, PROT_READ | PROT_WRITE, /*noreplace=*/true), EEXIST);
  EXPECT_EQ(FirstBad(a, 4 * kPage, 13), -1);
  ASSERT_EQ(as_->MapFixed(a + kPage, kPage, PROT_READ | PROT_WRITE, false), 0);
  EXPECT_TRUE(Zero(a + kPage, kPage));
  // A free range taken with MAP_FIXED_NOREPLACE is no longer handed out.
  uintptr_t free_at = a + 4 * kPage;
  ASSERT_EQ(as_->MapFixed(free_at, kPage, PROT_READ | PROT_WRITE, true), 0);
  EXPECT_NE(MapOrDie(kPage), free_at);
}

TEST_F(AnonSpaceTest, ForeignRangesAreTheKernelsAndNeverReused) {
  uintptr_t a = MapOrDie(4 * kPage);
  ASSERT_EQ(as_->Cover(a + kPage, kPage), 0);
  auto pieces = as_->Split(a, 4 * kPage);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_TRUE(pieces[0].owned);
  EXPECT_FALSE(pieces[1].owned);
  EXPECT_EQ(pieces[1].range, (AddrRange{a + kPage, a + 2 * kPage}));
  EXPECT_TRUE(pieces[2].owned);
  EXPECT_EQ(as_->UnmapForeign(a + kPage, kPage), 0);
  EXPECT_EQ(as_->UnmapForeign(a, kPage), EINVAL);  // not foreign
  ASSERT_EQ(as_->Unmap(a, 4 * kPage), 0);
  for (int i = 0; i < 8; i++) {
    uintptr_t b = MapOrDie(kPage);
    EXPECT_NE(b, a + kPage);
  }
}

TEST_F(AnonSpaceTest, AFullMapAreaSaysNoMemory) {
  uintptr_t at = 0;
  EXPECT_EQ(as_->Map(200u << 20, PROT_READ | PROT_WRITE, &at), ENOMEM);
  EXPECT_EQ(as_->Map(0, PROT_READ, &at), EINVAL);
}

}  // namespace
}  // namespace uswap
