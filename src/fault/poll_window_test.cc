// PollWindow: the handler threads' poll window adapts as the haltpoll
// governor's does (grow on a short sleep, shrink on a long one, bounded).
#include <gtest/gtest.h>

#include "fault/fault_threads.h"

namespace uswap {
namespace {

TEST(PollWindowTest, StartsClosedAndGrowsOnShortSleeps) {
  PollWindow w;
  w.set_max_us(200);
  EXPECT_EQ(w.us(), 0u) << "no polling before faults have been seen close together";
  w.Adjust(50);  // a fault 50 µs after the window ran out: polling would have caught it
  EXPECT_EQ(w.us(), PollWindow::kGrowStart);
  w.Adjust(50);
  EXPECT_EQ(w.us(), 2 * PollWindow::kGrowStart);
  for (int i = 0; i < 10; i++) w.Adjust(10);
  EXPECT_EQ(w.us(), 200u) << "never beyond the maximum";
}

TEST(PollWindowTest, ShrinksToNothingWhenFaultsAreRare) {
  PollWindow w;
  w.set_max_us(160);
  for (int i = 0; i < 10; i++) w.Adjust(1);
  ASSERT_EQ(w.us(), 160u);
  w.Adjust(161);  // slept longer than the maximum window
  EXPECT_EQ(w.us(), 80u);
  for (int i = 0; i < 10; i++) w.Adjust(1000000);
  EXPECT_EQ(w.us(), 0u);
}

TEST(PollWindowTest, ZeroMaximumNeverPolls) {
  PollWindow w;
  w.set_max_us(0);
  w.Adjust(0);
  w.Adjust(0);
  EXPECT_EQ(w.us(), 0u);
}

}  // namespace
}  // namespace uswap
