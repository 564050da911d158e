#include "uswap/stats.h"

#include <gtest/gtest.h>

#include <string>

#include "uswap/version.h"

namespace uswap {
namespace {

TEST(StatsTest, SinceSubtractsCountersAndKeepsGaugesAndAreas) {
  Stats earlier, later;
  earlier.pgfault = 10;
  later.pgfault = 25;
  earlier.pswpout = 7;
  later.pswpout = 7;
  earlier.budget_overshoot_pages = 1;
  later.budget_overshoot_pages = 4;
  earlier.resident_pages = 100;
  later.resident_pages = 60;
  earlier.metadata_bytes = 4096;
  later.metadata_bytes = 8192;
  later.areas.push_back({"/var/tmp/a.swap", -2, 1000, 30, 1});

  const Stats d = later.Since(earlier);
  EXPECT_EQ(d.pgfault, 15u);
  EXPECT_EQ(d.pswpout, 0u);
  EXPECT_EQ(d.budget_overshoot_pages, 3u);
  EXPECT_EQ(d.resident_pages, 60u) << "a gauge is the later snapshot's value";
  EXPECT_EQ(d.metadata_bytes, 8192u);
  ASSERT_EQ(d.areas.size(), 1u);
  EXPECT_EQ(d.areas[0].inuse_pages, 30u);
}

TEST(StatsTest, SinceOfAnUnrelatedLargerSnapshotIsZeroNotAWrap) {
  Stats earlier, later;
  earlier.pswpin = 50;
  later.pswpin = 20;
  EXPECT_EQ(later.Since(earlier).pswpin, 0u);
}

// Every counter takes part: a snapshot minus itself prints 0 for each of
// them, and only the gauges keep a value.
TEST(StatsTest, SinceCoversEveryCounter) {
  Stats s;
  s.pgfault = s.pgmajfault = s.pgminorfault = s.zero_page_faults = s.wp_faults = 3;
  s.pswpin = s.pswpout = s.pgscan = s.pgsteal = s.pgactivate = s.pgdeactivate = 3;
  s.pgrotated = s.clean_drops = s.zero_drops = s.kswapd_wakeups = s.direct_reclaims = 3;
  s.same_filled_drops = s.same_filled_faults = 3;
  s.swap_cache_hits = s.readahead_pages = s.readahead_hits = s.write_errors = 3;
  s.read_errors = s.checksum_errors = s.hard_limit_faults = s.memfd_errors = 3;
  s.budget_overshoot_pages = s.group_reclaim_requests = s.group_waits = 3;
  s.mlock_limit_refusals = 3;
  s.zswap_stored = s.zswap_loaded = s.zswap_written_back = s.zswap_rejected_poor = 3;
  s.zswap_rejected_full = s.zswap_writeback_errors = s.zswap_corrupt = s.zswap_copied_in = 3;
  s.resident_pages = s.free_frames = s.budget_pages = s.frame_limit = s.swap_cache_pages =
      s.mlocked_pages = s.metadata_bytes = 3;
  s.zswap_objects = s.zswap_pool_pages = s.zswap_payload_bytes = s.zswap_limit_pages = 3;
  s.group_limit_bytes = s.group_usage_bytes = s.group_peak_bytes = s.group_members = 3;
  const std::string text = s.Since(s).ToText();
  size_t nonzero = 0, lines = 0;
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    lines++;
    if (line.substr(line.rfind(' ') + 1) != "0") nonzero++;
    at = end + 1;
  }
  EXPECT_EQ(lines, 53u) << "a field was added to Stats: list it in stats.cc and here\n" << text;
  EXPECT_EQ(nonzero, 15u) << text;  // the gauges
}

TEST(VersionTest, LibraryVersionMatchesTheHeader) {
  EXPECT_EQ(std::string(Version()), std::to_string(USWAP_VERSION_MAJOR) + "." +
                                        std::to_string(USWAP_VERSION_MINOR) + "." +
                                        std::to_string(USWAP_VERSION_PATCH));
}

}  // namespace
}  // namespace uswap
