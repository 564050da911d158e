// Tests of ZeroedArray: zeros to start with, memory only where written,
// moves that hand the pages over.
#include "base/zeroed_array.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace uswap {
namespace {

// Pages of [p, p + bytes) that are resident (mincore). Reading a page of
// fresh anonymous memory would map the zero page, which mincore reports
// too: the tests count before they read.
size_t ResidentPages(const void* p, size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((bytes + page - 1) / page);
  EXPECT_EQ(mincore(const_cast<void*>(p), bytes, vec.data()), 0);
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

TEST(ZeroedArrayTest, OnlyThePagesOfWrittenElementsBecomeResident) {
  constexpr size_t kN = size_t{1} << 28;  // 256 MiB of table
  ZeroedArray<std::atomic<uint8_t>> a(kN);
  ASSERT_EQ(a.size(), kN);
  EXPECT_EQ(ResidentPages(a.data(), kN), 0u);
  a[12345].store(7);
  a[kN - 1].store(9);
  EXPECT_EQ(ResidentPages(a.data(), kN), 2u);
  EXPECT_EQ(a[12345].load(), 7);
  EXPECT_EQ(a[kN - 1].load(), 9);
  EXPECT_EQ(a[0].load(), 0);
  EXPECT_EQ(a[kN / 2].load(), 0);
}

TEST(ZeroedArrayTest, PointersStartNull) {
  ZeroedArray<std::atomic<int*>> a(1000);
  for (size_t i = 0; i < a.size(); i++) ASSERT_EQ(a[i].load(), nullptr) << i;
}

TEST(ZeroedArrayTest, MovingHandsThePagesOver) {
  ZeroedArray<uint64_t> a(4096);
  a[100] = 42;
  const uint64_t* pages = a.data();
  ZeroedArray<uint64_t> b(std::move(a));
  EXPECT_EQ(b.data(), pages);
  EXPECT_EQ(b[100], 42u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is defined
  ZeroedArray<uint64_t> c(16);
  c = std::move(b);
  EXPECT_EQ(c.data(), pages);
  EXPECT_EQ(c.size(), 4096u);
  ZeroedArray<uint64_t> empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.data(), nullptr);
}

}  // namespace
}  // namespace uswap
