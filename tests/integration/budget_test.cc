// The RAM budget (audit F9, F10, F14): Swapoff does not read an area back
// past the budget (it fails with NoSpace, as space.h says); a charge under
// reclaim contention does not give up while swap has room (no spurious
// SIGBUS under the hard limit, no overshoot under the soft limit); the
// memory the kernel really holds for the regions stays within the budget;
// and an overshoot that had to happen (swap full) is pulled back by kswapd
// as soon as a new area makes room.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "regress_util.h"

namespace uswap::testing {
namespace {

class BudgetTest : public EngineFixture {};

// F9: Swapoff of the only area under the default soft limit, with 16x the
// budget on it: NoSpace, the area stays on and usable, nothing is lost,
// and resident memory is within the budget. With a second area it works.
TEST_F(BudgetTest, SwapoffOfOnlyAreaFailsWithNoSpaceUnderSoftLimit) {
  constexpr uint64_t kBudget = 256, kPages = 4096;
  const std::string a = NewSwapFile("a.swap", 2 * kPages);
  auto space = OpenSpace(SmallConfig(kBudget, a));
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);
  ASSERT_GT(space->stats().areas.at(0).inuse_pages, kPages / 2);

  Status st = space->Swapoff(a);
  EXPECT_TRUE(st.IsNoSpace()) << st.ToString();
  Stats s = space->stats();
  ASSERT_EQ(s.areas.size(), 1u) << "the area was taken off";
  EXPECT_EQ(s.areas[0].path, a);
  EXPECT_LE(s.resident_pages, s.frame_limit) << s.ToText();
  EXPECT_EQ(CheckPages(base, 0, kPages, 1), 0u);
  // The area is still writable: a new version of every page goes out again.
  FillPages(base, 0, kPages, 2);
  EXPECT_EQ(CheckPages(base, 0, kPages, 2), 0u);
  s = space->stats();
  EXPECT_LE(s.resident_pages, s.frame_limit) << s.ToText();
  EXPECT_GT(s.areas.at(0).inuse_pages, kPages / 2);

  // With somewhere to go, the same Swapoff succeeds.
  const std::string b = NewSwapFile("b.swap", 2 * kPages);
  ASSERT_TRUE(space->Swapon(b).ok());
  st = space->Swapoff(a);
  ASSERT_TRUE(st.ok()) << st.ToString();
  s = space->stats();
  ASSERT_EQ(s.areas.size(), 1u);
  EXPECT_EQ(s.areas[0].path, b);
  EXPECT_EQ(CheckPages(base, 0, kPages, 2), 0u);
  s = space->stats();
  EXPECT_LE(s.resident_pages, s.frame_limit) << s.ToText();
}

// F10 (audit R8): the hard limit at the minimum budget with several writer
// threads; swap has room for every page, so no access may fail: no SIGBUS,
// hard_limit_faults == 0, every page right. Each configuration runs 3
// times (R8 failed 2 of 15 runs).
class HardLimitContentionTest : public BudgetTest, public ::testing::WithParamInterface<int> {};

// In a child: a hard-limit Space of `budget` pages over `swap` and one
// region of `pages`; `exit_code` is non-zero when either could not be had.
struct HardLimitSpace {
  std::unique_ptr<Space> space;
  std::unique_ptr<Region> region;
  uint8_t* base = nullptr;
  int exit_code = 0;
};
HardLimitSpace OpenHardLimitSpace(const std::string& swap, uint64_t budget, uint64_t pages) {
  HardLimitSpace h;
  Config cfg;
  cfg.ram_budget_bytes = budget * kPage;
  cfg.hard_limit = true;
  cfg.swap_areas.push_back({swap});
  auto s = Space::Open(cfg);
  if (!s.ok()) {
    h.exit_code = kChildOpenFailed;
    return h;
  }
  h.space = std::move(*s);
  auto r = h.space->Map(pages * kPage);
  if (!r.ok()) {
    h.exit_code = kChildMapFailed;
    return h;
  }
  h.region = std::move(*r);
  h.base = static_cast<uint8_t*>(h.region->data());
  return h;
}

int HardLimitRun(int fd, const std::string& swap, int threads) {
  constexpr uint64_t kPages = 4096;
  HardLimitSpace h = OpenHardLimitSpace(swap, 64, kPages);
  if (h.exit_code) return h.exit_code;
  uint8_t* base = h.base;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      for (uint32_t pass = 1; pass <= 3; pass++) FillPages(base, t, kPages, pass, threads);
    });
  for (auto& t : ts) t.join();
  Stats st = h.space->stats();
  ReportToParent(fd, "hard_limit_faults", st.hard_limit_faults);
  ReportToParent(fd, "bad_pages", CheckPages(base, 0, kPages, 3));
  ReportToParent(fd, "slots_in_use", AreaInuse(st));
  h.region.reset();
  return 0;
}

TEST_P(HardLimitContentionTest, NoSpuriousSigbusWhileSwapHasRoom) {
  const int threads = GetParam();
  const std::string swap = NewSwapFile("a.swap", 8192);
  for (int run = 0; run < 3; run++) {
    ChildResult out =
        RunChild([&](int fd) { return HardLimitRun(fd, swap, threads); }, std::chrono::seconds(50));
    ASSERT_FALSE(out.timed_out) << "run " << run << ": " << out.Describe();
    ASSERT_FALSE(out.KilledBy(SIGBUS))
        << "run " << run << ": SIGBUS with swap free: " << out.Describe();
    ASSERT_TRUE(out.Ok()) << "run " << run << ": " << out.Describe();
    EXPECT_EQ(out.Get("hard_limit_faults"), 0u) << "run " << run << ": " << out.Describe();
    EXPECT_EQ(out.Get("bad_pages"), 0u) << "run " << run << ": " << out.Describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, HardLimitContentionTest, ::testing::Values(2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "Writers"; });

// Hard limit with the swap area full: a charge fails only when no resident
// page at all can give its frame. Here every slot and all frames but one
// hold dirty data that cannot be written, and the only frames that can be
// freed belong to young pages: all-zero pages read just before the last
// data is written, then, while the data is read back in order, the clean
// page read just before (at the head of the active list, behind ~1000
// dirty pages). Reclaim must scan every page before it gives up (cf.
// do_try_to_free_pages() at priority 0), not fail the access with SIGBUS.
int FullSwapRun(int fd, const std::string& swap, uint64_t budget, uint64_t slots) {
  constexpr uint64_t kZeroPages = 64, kPages = 8192;
  HardLimitSpace h = OpenHardLimitSpace(swap, budget, kPages);
  if (h.exit_code) return h.exit_code;
  uint8_t* base = h.base;
  // The page table is charged to the budget as it grows: read one page of
  // every block first, so that it is whole and the frames the budget holds
  // (frame_limit) stay fixed from here on. Those zero pages are reclaimed
  // without I/O long before the end.
  for (uint64_t i = 0; i < kPages; i += 64)
    (void)*reinterpret_cast<volatile uint8_t*>(base + i * kPage);
  const uint64_t frames = h.space->stats().frame_limit;
  if (frames >= budget || frames < budget * 9 / 10) return 90;  // the charge is off
  // What RAM and swap hold, less one page: reading a page back needs one
  // free slot to write a dirty page out for its frame (the kernel too).
  const uint64_t data = frames + slots - 1;
  // Fill swap and all but kZeroPages frames with data.
  FillPages(base, 0, data - kZeroPages, 1);
  // Read kZeroPages untouched pages far away: zero pages take the rest.
  const uint64_t zeros = kPages - 2 * kZeroPages;
  ReportToParent(fd, "zero_pages_wrong",
                 kZeroPages - CheckZeroPages(base, zeros, zeros + kZeroPages));
  // The last data pages can only get the zero pages' frames.
  FillPages(base, data - kZeroPages, data, 1);
  Stats st = h.space->stats();
  ReportToParent(fd, "hard_limit_faults", st.hard_limit_faults);
  ReportToParent(fd, "slots_in_use", AreaInuse(st));
  ReportToParent(fd, "bad_pages", CheckPages(base, 0, data, 1));
  h.region.reset();
  return 0;
}

TEST_F(BudgetTest, FullSwapHardLimitFreesTheYoungFreeablePages) {
  constexpr uint64_t kBudget = 1024, kSlots = 511;
  const std::string swap = NewSwapFile("full.swap", kSlots + 1);
  ChildResult out = RunChild([&](int fd) { return FullSwapRun(fd, swap, kBudget, kSlots); },
                             std::chrono::seconds(50));
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_FALSE(out.KilledBy(SIGBUS))
      << "SIGBUS while young clean or zero pages held frames: " << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  EXPECT_EQ(out.Get("zero_pages_wrong"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("hard_limit_faults"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("bad_pages"), 0u) << out.Describe();
  EXPECT_GE(out.Get("slots_in_use"), kSlots - 1) << "swap was not full: " << out.Describe();
}

// F14 / F10 under the soft limit: with plenty of swap, 4 threads at the
// minimum budget never overshoot, and the memory the kernel holds for the
// regions (memfd blocks) never exceeds the budget — measured at every
// reclaim round ("reclaim_done") and at the end.
TEST_F(BudgetTest, SoftLimitAtMinimumBudgetNeverExceedsIt) {
  constexpr uint64_t kBudget = 64, kPages = 2048;
  struct Probe {
    std::mutex mu;
    bool active = false;             // guarded by mu
    std::vector<MmRegion*> regions;  // guarded by mu
    uint64_t max_bytes = 0;          // guarded by mu
    std::atomic<uint64_t> rounds{0};
  } probe;
  ScopedTestHook hook([&probe](const char* point) {
    if (std::strcmp(point, "reclaim_done") != 0) return;
    probe.rounds++;
    std::lock_guard<std::mutex> l(probe.mu);
    if (!probe.active) return;
    uint64_t bytes = 0;
    for (MmRegion* r : probe.regions) bytes += r->ResidentBytes();
    probe.max_bytes = std::max(probe.max_bytes, bytes);
  });
  auto space = OpenSpace(SmallConfig(kBudget, NewSwapFile("a.swap", 8192)));
  ASSERT_TRUE(space);
  auto r1 = space->Map(kPages * kPage);
  auto r2 = space->Map(kPages / 4 * kPage);
  ASSERT_TRUE(r1.ok() && r2.ok());
  {
    std::lock_guard<std::mutex> l(probe.mu);
    probe.regions = {ImplOf(**r1)->mm(), ImplOf(**r2)->mm()};
    probe.active = true;
  }
  uint8_t* b1 = static_cast<uint8_t*>((*r1)->data());
  uint8_t* b2 = static_cast<uint8_t*>((*r2)->data());
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; t++)
    ts.emplace_back([&, t] {
      for (uint32_t pass = 1; pass <= 3; pass++) FillPages(b1, t, kPages, pass, 3);
    });
  // The fourth thread: the random model on the second region.
  uint64_t model_bad = 0;
  ts.emplace_back([&] {
    model_bad = RunRandomModel(b2, {.pages = kPages / 4,
                                    .budget = kBudget,
                                    .threads = 1,
                                    .accesses_per_thread = kSanitized ? 20'000u : 60'000u,
                                    .seed = 77,
                                    .window_step = 2000});
  });
  for (auto& t : ts) t.join();
  EXPECT_EQ(model_bad, 0u);
  EXPECT_EQ(CheckPages(b1, 0, kPages, 3), 0u);
  Stats s = space->stats();
  uint64_t end_bytes = ImplOf(**r1)->mm()->ResidentBytes() + ImplOf(**r2)->mm()->ResidentBytes();
  {
    std::lock_guard<std::mutex> l(probe.mu);
    probe.active = false;
    probe.regions.clear();
  }
  EXPECT_EQ(s.budget_overshoot_pages, 0u) << s.ToText();
  EXPECT_EQ(s.hard_limit_faults, 0u);
  EXPECT_GT(probe.rounds.load(), 10u) << "the \"reclaim_done\" point never ran";
  EXPECT_LE(probe.max_bytes, kBudget * kPage) << "memfd blocks past the budget in a reclaim round";
  EXPECT_LE(end_bytes, kBudget * kPage);
  EXPECT_LE(s.resident_pages, s.frame_limit) << s.ToText();
  EXPECT_GT(s.pswpout, kPages);
}

// F9 (second half): an overshoot that had to happen (the only area is
// full, soft limit) is reclaimed as soon as Swapon adds room: kswapd runs
// after the Swapon, without any new fault.
TEST_F(BudgetTest, KswapdPullsOvershootBackAfterSwapon) {
  constexpr uint64_t kBudget = 64, kPages = 512;
  auto space = OpenSpace(SmallConfig(kBudget, NewSwapFile("tiny.swap", 65)));  // 64 slots
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);
  Stats s = space->stats();
  ASSERT_GT(s.resident_pages, s.frame_limit) << "no overshoot to pull back: " << s.ToText();
  ASSERT_GT(s.budget_overshoot_pages, 0u);

  const uint64_t wakeups = s.kswapd_wakeups;
  ASSERT_TRUE(space->Swapon(NewSwapFile("big.swap", 4096)).ok());
  // Waits for the condition (polling the counters every 10 ms), at most 10 s.
  PollUntil([&] { return (s = space->stats()).resident_pages <= s.frame_limit; },
            std::chrono::seconds(10));
  EXPECT_LE(s.resident_pages, s.frame_limit)
      << "still over the budget 10 s after Swapon: " << s.ToText();
  EXPECT_GT(s.kswapd_wakeups, wakeups);
  EXPECT_EQ(CheckPages(base, 0, kPages, 1), 0u);
}

// Issue 13, part 5: uswap's own per-page memory is charged to the budget,
// as a memory cgroup charges page tables, and costs at most 16 bytes per
// touched page, nothing for untouched ones. A sparse touch (one page per
// 64-page block) of a large region makes the page table big next to the
// frames: frame_limit must shrink by exactly what the metadata takes.
TEST_F(BudgetTest, PageTableIsChargedToTheBudgetAtMost16BytesPerTouchedPage) {
  constexpr uint64_t kBudget = 1024, kPages = 256 * 1024;  // 1 GiB region
  auto space = OpenSpace(SmallConfig(kBudget, NewSwapFile("meta.swap", 16384)));
  ASSERT_TRUE(space);
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  // The page table's own bytes (MmRegion::metadata_bytes): a block is
  // allocated under its lock before the fault is resolved, so they are
  // exact once the access returns (the frame descriptors, which
  // stats().metadata_bytes adds, may be allocated just after the wake-up).
  const MmRegion* mm = ImplOf(**r)->mm();
  base[0] = 1;  // the page-table group of the first 128 MiB, and its first block
  const uint64_t m0 = mm->metadata_bytes();
  EXPECT_LT(m0, 8u * 1024) << "untouched pages cost nothing";
  // Dense: every page of 8192 (32 MiB, 128 blocks).
  FillPages(base, 0, 8192, 1);
  const Stats s1 = space->stats();
  const double per_page = double(mm->metadata_bytes() - m0) / (8192 - 64);
  EXPECT_LE(per_page, 16.0) << s1.ToText();
  EXPECT_GT(per_page, 8.0) << "the page table is not counted: " << s1.ToText();
  EXPECT_GE(s1.metadata_bytes, mm->metadata_bytes() + 4096 * sizeof(PageFrame))
      << "stats().metadata_bytes also counts the frame descriptors: " << s1.ToText();
  // Sparse: one page in each of the other blocks (3968 blocks, ~3.6 MiB of
  // page table = ~900 frames of a 1024-frame budget).
  for (uint64_t i = 8192; i < kPages; i += 64) base[i * kPage] = 1;
  const Stats s2 = space->stats();
  const uint64_t meta = s2.metadata_bytes;
  EXPECT_GT(meta, 3u << 20) << s2.ToText();
  // What the budget holds: frames with their descriptors, then the page
  // tables (the descriptor chunk, with its free-id list, is outside:
  // metadata_bytes counts it whole, the frames charge their own).
  EXPECT_LE(s2.frame_limit * (kPage + sizeof(PageFrame)),
            kBudget * kPage - (meta - 4096 * (sizeof(PageFrame) + sizeof(uint32_t))))
      << s2.ToText();
  EXPECT_LT(s2.frame_limit, kBudget / 4) << s2.ToText();
  EXPECT_LE(s2.resident_pages, s2.frame_limit + 1) << s2.ToText();
  EXPECT_EQ(CheckPages(base, 0, 8192, 1), 0u);
  // Unmapping the region gives its page table back to the frames.
  r->reset();
  EXPECT_GT(space->stats().frame_limit, kBudget * 9 / 10) << space->stats().ToText();
}

// A shared budget (Config::shared_budget_fd) holds two Spaces together: the
// first fills the group, then the second, with nothing of its own to
// evict, still gets frames (the first is asked for its share and reclaims
// it), the group never goes past its limit by more than metadata, and
// nothing is lost on either side.
TEST_F(BudgetTest, SharedBudgetHoldsTwoSpacesAndMovesFramesToTheOneInNeed) {
  constexpr uint64_t kBudget = 512, kPages = 2048;
  Result<int> fd = CreateSharedBudget(kBudget * kPage);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  UniqueFd budget(*fd);
  Config ca = SmallConfig(kBudget, NewSwapFile("a.swap", 2 * kPages));
  Config cb = SmallConfig(kBudget, NewSwapFile("b.swap", 2 * kPages));
  ca.shared_budget_fd = cb.shared_budget_fd = budget.get();
  auto a = OpenSpace(ca);
  auto b = OpenSpace(cb);
  ASSERT_TRUE(a && b);
  auto ra = a->Map(kPages * kPage);
  auto rb = b->Map(kPages * kPage);
  ASSERT_TRUE(ra.ok() && rb.ok());
  uint8_t* pa = static_cast<uint8_t*>((*ra)->data());
  uint8_t* pb = static_cast<uint8_t*>((*rb)->data());
  FillPages(pa, 0, kBudget * 3 / 4, 1);  // a holds most of the group
  const Stats sa0 = a->stats();
  EXPECT_EQ(sa0.group_members, 2u) << sa0.ToText();
  EXPECT_GE(sa0.resident_pages, kBudget * 3 / 4 - 8) << sa0.ToText();

  FillPages(pb, 0, kPages, 2);  // b needs far more than the group has left
  FillPages(pa, 0, kPages, 3);  // and a again
  EXPECT_EQ(CheckPages(pb, 0, kPages, 2), 0u);
  EXPECT_EQ(CheckPages(pa, 0, kPages, 3), 0u);
  const Stats sa = a->stats(), sb = b->stats();
  // Both took from one budget: together within it (metadata may push the
  // group's peak past it by what the page tables grew, a few pages).
  EXPECT_LE(sa.resident_pages + sb.resident_pages, kBudget) << sa.ToText() << sb.ToText();
  EXPECT_LE(sa.group_peak_bytes, kBudget * kPage + 16 * kPage) << sa.ToText();
  EXPECT_EQ(sa.budget_overshoot_pages + sb.budget_overshoot_pages, 0u)
      << sa.ToText() << sb.ToText();
  // Each was asked for its share at some point (b while a filled it again).
  EXPECT_GT(sa.group_reclaim_requests, 0u) << sa.ToText();
  EXPECT_GT(sa.pswpout, 0u);
  EXPECT_GT(sb.pswpout, 0u);

  // Leaving gives the group its charges back.
  rb->reset();
  b.reset();
  EXPECT_EQ(a->stats().group_members, 1u);
  ra->reset();
  const Stats end = a->stats();
  EXPECT_LT(end.group_usage_bytes, 64 * kPage) << end.ToText();  // the page-table root at most
}

}  // namespace
}  // namespace uswap::testing
