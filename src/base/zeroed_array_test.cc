// Tests of ZeroedArray (and IdTable's chunks, which use its pages): zeros
// to start with, memory only where written, moves that hand the pages
// over, nothing inherited by a fork child.
#include "base/zeroed_array.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "base/id_table.h"

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

TEST(ZeroedArrayTest, TryMakeReportsAnAddressSpaceItCannotHave) {
  // 2^62 bytes: more than a 47-bit user address space.
  EXPECT_FALSE(ZeroedArray<uint64_t>::TryMake(size_t{1} << 59).has_value());
  auto empty = ZeroedArray<uint64_t>::TryMake(0);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->data(), nullptr);
  auto a = ZeroedArray<std::atomic<int*>>::TryMake(1000);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->size(), 1000u);
  EXPECT_EQ((*a)[999].load(), nullptr);
}

// What a fork child sees: status 0 when every value it reads is zero,
// 1 otherwise. The parent's own values are unchanged.
struct Frame {
  uint64_t owner;
  uint32_t word;
};
TEST(ZeroedArrayTest, AForkChildGetsZerosNotTheParentsTables) {
  ZeroedArray<uint64_t> table(1 << 20);
  table[7] = 0x1234;
  table[(1 << 20) - 1] = 0x5678;
  IdTable<Frame, 4096, 16> ids;
  uint32_t id = 0;
  Frame* f = ids.Get(id = ids.Alloc());
  f->owner = 0xabcd;
  f->word = 9;
  void* raw = MapZeroedPages(3 * 4096);
  static_cast<uint8_t*>(raw)[5000] = 1;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // (The table's directory is wiped too: Get would find no chunk.)
    const bool zero = table[7] == 0 && table[(1 << 20) - 1] == 0 && f->owner == 0 && f->word == 0 &&
                      static_cast<uint8_t*>(raw)[5000] == 0;
    _exit(zero ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child read the parent's values";
  EXPECT_EQ(table[7], 0x1234u);
  EXPECT_EQ(ids.Get(id)->owner, 0xabcdu);
  EXPECT_EQ(f->word, 9u);
  EXPECT_EQ(static_cast<uint8_t*>(raw)[5000], 1);
  UnmapZeroedPages(raw, 3 * 4096);
}

TEST(IdTableTest, NewObjectsAreZeroAndIdsAreReused) {
  IdTable<Frame, 256, 8> ids;
  std::vector<uint32_t> got;
  for (int i = 0; i < 600; i++) {  // three chunks (id 0 is never handed out)
    const uint32_t id = ids.Alloc();
    ASSERT_NE(id, 0u);
    ASSERT_EQ(ids.Get(id)->owner, 0u) << id;
    ids.Get(id)->owner = id;
    got.push_back(id);
  }
  EXPECT_EQ(ids.allocated_bytes(), 3 * 256 * (sizeof(Frame) + sizeof(uint32_t)));
  ids.Free(got[10]);
  const uint32_t again = ids.Alloc();
  EXPECT_EQ(again, got[10]);
  EXPECT_EQ(ids.Get(again)->owner, got[10]) << "as the last Free left it";
  for (uint32_t id : got) EXPECT_EQ(ids.Get(id)->owner, id);
}

}  // namespace
}  // namespace uswap
