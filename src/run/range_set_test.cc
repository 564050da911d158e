#include "run/range_set.h"

#include <gtest/gtest.h>

namespace uswap {
namespace {

TEST(RangeSetTest, AddReportsOnlyNewPartsAndCoalesces) {
  RangeSet s;
  EXPECT_EQ(s.Add(100, 200), (std::vector<AddrRange>{{100, 200}}));
  EXPECT_EQ(s.Add(300, 400), (std::vector<AddrRange>{{300, 400}}));
  EXPECT_EQ(s.Add(150, 350), (std::vector<AddrRange>{{200, 300}}));
  EXPECT_EQ(s.bytes(), 300u);
  EXPECT_TRUE(s.Contains(100, 400));
  EXPECT_EQ(s.Intersect(0, 1000), (std::vector<AddrRange>{{100, 400}}));
  EXPECT_TRUE(s.Add(120, 130).empty());
  EXPECT_EQ(s.Add(400, 410), (std::vector<AddrRange>{{400, 410}}));  // adjacent: merged
  EXPECT_EQ(s.Intersect(0, 1000), (std::vector<AddrRange>{{100, 410}}));
}

TEST(RangeSetTest, RemoveSplitsAndReportsWhatWasThere) {
  RangeSet s;
  s.Add(0, 100);
  s.Add(200, 300);
  EXPECT_EQ(s.Remove(50, 250), (std::vector<AddrRange>{{50, 100}, {200, 250}}));
  EXPECT_EQ(s.Intersect(0, 1000), (std::vector<AddrRange>{{0, 50}, {250, 300}}));
  EXPECT_EQ(s.bytes(), 100u);
  EXPECT_FALSE(s.Contains(40, 60));
  EXPECT_EQ(s.Gaps(0, 400), (std::vector<AddrRange>{{50, 250}, {300, 400}}));
  EXPECT_EQ(s.Gaps(10, 40), (std::vector<AddrRange>{}));
  EXPECT_TRUE(s.Remove(60, 240).empty());
}

TEST(RangeSetTest, FirstFitTakesTheLowestRangeThatFits) {
  RangeSet s;
  s.Add(0, 10);
  s.Add(20, 50);
  s.Add(60, 200);
  EXPECT_EQ(s.TakeFirstFit(20), std::optional<uintptr_t>(20));
  EXPECT_EQ(s.TakeFirstFit(20), std::optional<uintptr_t>(60));
  EXPECT_EQ(s.TakeFirstFit(10), std::optional<uintptr_t>(0));
  EXPECT_EQ(s.TakeFirstFit(200), std::nullopt);
  EXPECT_EQ(s.Intersect(0, 1000), (std::vector<AddrRange>{{40, 50}, {80, 200}}));
}

}  // namespace
}  // namespace uswap
