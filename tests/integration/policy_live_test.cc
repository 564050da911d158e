// Every reclaim policy live (issue 10): a Space with Config::reclaim_policy
// set to each name reclaims, swaps out and brings back every page intact,
// through rewrites, a hot set and a scan, and stays within its budget. The
// policies' decisions are tested in src/mm/policy/policy_test.cc; this is
// the engine driving them (Add, Deactivate/Putback, IsolateVictims,
// Evicted, Remove at unmap).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "mm/policy/reclaim_policy.h"
#include "regress_util.h"

namespace uswap::testing {
namespace {

class PolicyLiveTest : public EngineFixture, public ::testing::WithParamInterface<std::string> {};

TEST_P(PolicyLiveTest, PagesSurviveReclaimUnderEveryPolicy) {
  constexpr uint64_t kBudget = 128, kPages = 1024;
  Config cfg = SmallConfig(kBudget, NewSwapFile("a.swap", 2 * kPages));
  cfg.reclaim_policy = GetParam();
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  uint8_t* base = static_cast<uint8_t*>((*r)->data());

  FillPages(base, 0, kPages, 1);
  EXPECT_EQ(CheckPages(base, 0, kPages, 1), 0u);
  // A hot set of 64 pages rewritten between scans of the rest.
  std::mt19937 rng(3);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2000; i++) {
      uint64_t p = rng() % 64;
      WritePage(base + p * kPage, p, 2 + round);
    }
    EXPECT_EQ(CheckPages(base, 64, kPages, 1), 0u) << "round " << round;
    EXPECT_EQ(CheckPages(base, 0, 64, 2 + round), 0u) << "round " << round;
  }
  Stats s = space->stats();
  EXPECT_GT(s.pswpout, 0u) << s.ToText();
  EXPECT_LE(s.resident_pages, s.budget_pages) << s.ToText();
  r->reset();  // unmap: every resident frame leaves by Remove
  EXPECT_EQ(space->stats().resident_pages, 0u);
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, PolicyLiveTest, ::testing::ValuesIn(ReclaimPolicyNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace uswap::testing
