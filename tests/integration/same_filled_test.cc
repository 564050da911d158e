// Same-filled pages (issue 12, design point 2): a page whose 64-bit words
// are all one non-zero word leaves memory as that word, kept in its page
// table entry — no slot, no I/O — and comes back filled with it; a page
// that differs in a single word goes to swap as before.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "engine_test_util.h"
#include "regress_util.h"

namespace uswap::testing {
namespace {

class SameFilledTest : public EngineFixture {};

constexpr uint64_t kWords = kPage / 8;

// The word page i is filled with (never 0: zero pages are dropped as kNone).
uint64_t WordOf(uint64_t i) { return 0x0101010101010101ull * ((i % 255) + 1) ^ (i << 40); }

void FillWord(uint8_t* page, uint64_t word) {
  uint64_t* w = reinterpret_cast<uint64_t*>(page);
  for (uint64_t k = 0; k < kWords; k++) w[k] = word;
}

// Words that differ from `word` in page p (0 = the page is exactly filled).
uint64_t Wrong(const uint8_t* page, uint64_t word) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(page);
  uint64_t bad = 0;
  for (uint64_t k = 0; k < kWords; k++) bad += w[k] != word;
  return bad;
}

TEST_F(SameFilledTest, SameFilledPagesTakeNoSlotAndComeBackFilled) {
  constexpr uint64_t kBudget = 64, kPages = 1024;
  auto space = OpenSpace(SmallConfig(kBudget, NewSwapFile("sf.swap", 2 * kPages)));
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  // Even pages: one word repeated. Odd pages: the same, but the last word
  // differs (not same-filled: they need a slot).
  for (uint64_t i = 0; i < kPages; i++) {
    FillWord(base + i * kPage, WordOf(i));
    if (i % 2) reinterpret_cast<uint64_t*>(base + i * kPage)[kWords - 1] = ~WordOf(i);
  }
  const Stats s1 = space->stats();
  EXPECT_GT(s1.same_filled_drops, kPages / 2 - 2 * kBudget) << s1.ToText();
  // Slots hold the odd pages only: at most one per odd page.
  ASSERT_EQ(s1.areas.size(), 1u);
  EXPECT_LE(s1.areas[0].inuse_pages, kPages / 2) << s1.ToText();
  EXPECT_LE(s1.pswpout, kPages / 2) << s1.ToText();
  uint64_t bad = 0;
  for (uint64_t i = 0; i < kPages; i++) {
    uint8_t* p = base + i * kPage;
    if (i % 2 == 0) {
      bad += Wrong(p, WordOf(i));
    } else {
      bad += reinterpret_cast<uint64_t*>(p)[kWords - 1] != ~WordOf(i);
      reinterpret_cast<uint64_t*>(p)[kWords - 1] = WordOf(i);  // compare the rest
      bad += Wrong(p, WordOf(i));
    }
  }
  EXPECT_EQ(bad, 0u);
  const Stats s2 = space->stats();
  EXPECT_GT(s2.same_filled_faults, kPages / 2 - 2 * kBudget) << s2.ToText();
  // A refilled page is an ordinary dirty page: written again, evicted again
  // (now every page is same-filled), read back again.
  for (uint64_t i = 0; i < kPages; i += 2) FillWord(base + i * kPage, ~WordOf(i));
  for (uint64_t i = 0; i < kPages; i++)
    bad += Wrong(base + i * kPage, i % 2 ? WordOf(i) : ~WordOf(i));
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(space->stats().read_errors, 0u);
}

// Discard of a same-filled page gives zeros, as for any page.
TEST_F(SameFilledTest, DiscardOfASameFilledPageReadsZeros) {
  constexpr uint64_t kBudget = 64, kPages = 512;
  auto space = OpenSpace(SmallConfig(kBudget, NewSwapFile("sd.swap", 2 * kPages)));
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  for (uint64_t i = 0; i < kPages; i++) FillWord(base + i * kPage, WordOf(i));
  ASSERT_EQ(SnapshotPte(**r, 0).state, PageState::kFilled) << Describe(SnapshotPte(**r, 0));
  ASSERT_TRUE((*r)->Discard(0, 4 * kPage).ok());
  uint64_t bad = 0;
  for (uint64_t i = 0; i < 4; i++) bad += Wrong(base + i * kPage, 0);
  for (uint64_t i = 4; i < kPages; i++) bad += Wrong(base + i * kPage, WordOf(i));
  EXPECT_EQ(bad, 0u);
}

}  // namespace
}  // namespace uswap::testing
