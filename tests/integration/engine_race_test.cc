// The seeds' races, each pinned down: concurrent faults on one swapped page,
// a touch during write-back, reclaim racing region teardown, and swapoff
// while threads read and write.
//
// The races are forced with test hooks (base/test_hook.h) and synchronised
// with the engine's own counters and flags, never with sleeps: a hook holds
// the I/O until the other party is observably there, bounded by kHookWait
// (a test that hits the bound fails, it does not pass vacuously).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "base/test_hook.h"
#include "engine_test_util.h"

namespace uswap::testing {
namespace {

constexpr size_t kPage = 4096;
constexpr auto kHookWait = std::chrono::seconds(10);
constexpr auto kPoll = std::chrono::microseconds(100);

class EngineRaceTest : public EngineFixture {
 protected:
  void TearDown() override { SetTestHook(nullptr, nullptr); }
};

PageState StateOf(MmRegion* mm, uint64_t i) {
  std::lock_guard l(mm->block_lock(i));
  return mm->pte(i).state;
}

uint64_t AreaInuse(const Space& s) {
  uint64_t n = 0;
  for (const AreaStats& a : s.stats().areas) n += a.inuse_pages;
  return n;
}

uint64_t AreaInuse(const Space& s, const std::string& path) {
  for (const AreaStats& a : s.stats().areas)
    if (a.path == path) return a.inuse_pages;
  return 0;
}

// A Space whose reclaim the test drives from its own thread: kswapd wakes
// only below the low watermark (20 free frames), so a region of at most
// budget - 20 pages never wakes it, and BalanceOnce() then reclaims
// high - free frames (high = 128) on the calling thread. A hook at
// "writeback_before_io" thus runs on the test thread, and the fault-handler
// threads stay free to serve the threads it starts.
Config TestDrivenReclaim(Config cfg) {
  cfg.watermark_min_pages = 16;
  cfg.watermark_low_pages = 20;
  cfg.watermark_high_pages = 128;
  return cfg;
}
constexpr uint64_t kDrivenBudget = 256;
constexpr uint64_t kDrivenPages = 160;  // free = 96: above low, below high

// Seed 000: two threads fault on the same swapped page; the swap cache makes
// the second wait for the first one's read: one read, both see the data.
TEST_F(EngineRaceTest, ConcurrentFaultsOnOneSwappedPageIssueOneRead) {
  Config cfg = SmallConfig(256, NewSwapFile("a.swap", 4096));
  cfg.readahead_pages = 1;
  cfg.handler_threads = 4;  // one holds the read in the hook, three serve the others
  cfg.watermark_min_pages = 16;
  cfg.watermark_low_pages = 20;
  cfg.watermark_high_pages = 24;
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  MmRegion* mm = ImplOf(**region)->mm();
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 1);
  // Reclaim must be over (free frames at the high watermark, no write-back
  // in flight) before the test: a page may not go out again between the
  // first thread's swap-in and the others' touches. One swap-in leaves free
  // frames above the low watermark, so nothing wakes kswapd after this.
  ImplOf(*space)->BalanceOnce();
  ASSERT_TRUE(WaitUntil([&] {
    Stats s = space->stats();
    return s.free_frames >= cfg.watermark_high_pages && s.swap_cache_pages == 0;
  })) << space->stats().ToText();

  uint64_t target = 100;  // early pages were pushed out by the later ones
  while (target < pages && StateOf(mm, target) != PageState::kSwapped) target++;
  ASSERT_LT(target, pages) << "no swapped-out page";

  constexpr int kThreads = 4;
  // The first swap-in of the page (the page is kSwapIn, its read not yet
  // issued) is held until every other thread's fault met it in the swap
  // cache (swap_cache_hits is counted under the page's lock, at the
  // meeting; pgfault would not do: it is counted before the lock, and a
  // handler counted there may take the lock only after the read is done).
  // Only these threads fault while the hook is set.
  struct Ctx {
    const VmStat* vm = nullptr;
    uint64_t hits_before = 0;
    std::atomic<int> reads{0};
    std::atomic<bool> all_arrived{false};
  } ctx;
  ctx.vm = &ImplOf(*space)->node().vmstat();
  Stats before = space->stats();
  ctx.hits_before = ctx.vm->swap_cache_hits.load();
  SetTestHook(
      [](const char* point, void* arg) {
        auto* c = static_cast<Ctx*>(arg);
        if (std::strcmp(point, "swapin_before_io") != 0 || c->reads++ != 0) return;
        c->all_arrived = WaitUntil(
            [c] { return c->vm->swap_cache_hits.load() >= c->hits_before + kThreads - 1; },
            kHookWait, kPoll);
      },
      &ctx);
  std::atomic<int> ready{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&] {
      ready++;
      while (ready.load() < kThreads) {
      }
      if (!CheckPage(base + target * kPage, target, 1)) bad++;
    });
  }
  for (auto& t : ts) t.join();
  ClearTestHook(*space);
  Stats after = space->stats();
  EXPECT_EQ(ctx.reads.load(), 1) << "exactly one swap-in of the page";
  EXPECT_TRUE(ctx.all_arrived.load()) << "the other threads' faults never arrived";
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(after.pswpin - before.pswpin, 1u);
  EXPECT_EQ(after.swap_cache_hits - before.swap_cache_hits, uint64_t{kThreads - 1});
  EXPECT_EQ(after.pgmajfault - before.pgmajfault, 1u);
}

// Seed 000 figure d: a page touched while it is being written out is served
// from memory; a write to it waits for the write-back and is not lost.
TEST_F(EngineRaceTest, TouchDuringWritebackIsServedFromMemory) {
  auto space =
      OpenSpace(TestDrivenReclaim(SmallConfig(kDrivenBudget, NewSwapFile("a.swap", 4096))));
  ASSERT_TRUE(space);
  const uint64_t pages = kDrivenPages;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 1);
  ASSERT_EQ(space->stats().pswpout, 0u) << "nothing may be reclaimed before the test drives it";

  // In the hook (the first write-back, on this thread): a reader checks up
  // to 4 pages under write-back (served from their frames while the write
  // is held) and is joined there; then a writer starts to rewrite them, and
  // the write-back is held until the handlers counted the writer's fault
  // (its write to the first page, mapped write-protected by the reader).
  // The writer cannot finish before the write-back does. Nothing takes
  // regions_mu exclusive meanwhile (no Map, no unmap), so the handlers,
  // which take it shared as this thread does, can serve the reader.
  struct Ctx {
    MmRegion* mm = nullptr;
    uint8_t* base = nullptr;
    const VmStat* vm = nullptr;
    std::thread::id tid;
    std::atomic<bool> fired{false};
    std::vector<uint64_t> touched;
    std::atomic<int> read_ok{0}, read_bad{0};
    std::thread writer;
    std::atomic<bool> writer_done{false};
    bool writer_faulted = false;         // during the write-back
    bool writer_done_at_release = true;  // when the hook let the I/O go
  } ctx;
  ctx.mm = ImplOf(**region)->mm();
  ctx.base = base;
  ctx.vm = &ImplOf(*space)->node().vmstat();
  ctx.tid = std::this_thread::get_id();
  SetTestHook(
      [](const char* point, void* arg) {
        auto* c = static_cast<Ctx*>(arg);
        if (std::strcmp(point, "writeback_before_io") != 0) return;
        if (std::this_thread::get_id() != c->tid || c->fired.exchange(true)) return;
        for (uint64_t i = 0; i < c->mm->pages() && c->touched.size() < 4; i++) {
          std::lock_guard l(c->mm->block_lock(i));
          if (c->mm->pte(i).flags & kWriteback) c->touched.push_back(i);
        }
        // Served by the handler threads (this thread only holds the write).
        std::thread reader([c] {
          for (uint64_t i : c->touched) {
            if (CheckPage(c->base + i * kPage, i, 1))
              c->read_ok++;
            else
              c->read_bad++;
          }
        });
        reader.join();
        const uint64_t pgfault = c->vm->pgfault.load();
        c->writer = std::thread([c] {
          for (uint64_t i : c->touched) WritePage(c->base + i * kPage, i, 2);
          c->writer_done = true;
        });
        c->writer_faulted =
            WaitUntil([&] { return c->vm->pgfault.load() > pgfault; }, kHookWait, kPoll);
        c->writer_done_at_release = c->writer_done.load();
      },
      &ctx);
  const uint64_t wp_before = space->stats().wp_faults;
  ImplOf(*space)->BalanceOnce();
  ClearTestHook(*space);
  if (ctx.writer.joinable()) ctx.writer.join();
  ASSERT_TRUE(ctx.fired.load()) << "BalanceOnce wrote nothing back";
  ASSERT_FALSE(ctx.touched.empty());
  EXPECT_EQ(ctx.read_bad.load(), 0);
  EXPECT_EQ(ctx.read_ok.load(), static_cast<int>(ctx.touched.size()));
  EXPECT_TRUE(ctx.writer_faulted) << "the writer never faulted during the write-back";
  EXPECT_FALSE(ctx.writer_done_at_release) << "a write completed during its page's write-back";
  EXPECT_TRUE(ctx.writer_done.load());
  // The write that waited took a write-protect fault once the slot held
  // the old bytes, and freed that slot (the page is dirty again).
  EXPECT_GE(space->stats().wp_faults - wp_before, 1u);
  std::vector<bool> rewritten(pages, false);
  for (uint64_t i : ctx.touched) rewritten[i] = true;
  for (uint64_t i = 0; i < pages; i++)
    ASSERT_TRUE(CheckPage(base + i * kPage, i, rewritten[i] ? 2 : 1)) << i;
  // Churn with a second region so the touched pages go out and come back:
  // the new version is what went to swap.
  {
    auto other = space->Map(512 * kPage);
    ASSERT_TRUE(other.ok());
    uint8_t* ob = static_cast<uint8_t*>((*other)->data());
    for (uint64_t i = 0; i < 512; i++) WritePage(ob + i * kPage, 100000 + i, 1);
  }
  const uint64_t pswpin = space->stats().pswpin;
  for (uint64_t i = 0; i < pages; i++)
    ASSERT_TRUE(CheckPage(base + i * kPage, i, rewritten[i] ? 2 : 1)) << i;
  EXPECT_GT(space->stats().pswpin, pswpin) << "the region's pages never left memory";
}

// A region is destroyed while reclaim is writing its pages out: the
// destructor waits for the write-back (it takes regions_mu exclusive, the
// reclaimer holds it shared) and then returns every frame and slot.
TEST_F(EngineRaceTest, ReclaimRacingUnmap) {
  auto space =
      OpenSpace(TestDrivenReclaim(SmallConfig(kDrivenBudget, NewSwapFile("a.swap", 16384))));
  ASSERT_TRUE(space);

  // Forced overlap: in the hook (a write-back of the region's pages, on this
  // thread) another thread starts destroying the region; the write-back is
  // held until the destructor is observably under way (MmRegion::dying is
  // set on entry, before it blocks on regions_mu), then let go.
  for (uint32_t round = 1; round <= 3; round++) {
    SCOPED_TRACE(round);
    auto victim = space->Map(kDrivenPages * kPage);
    ASSERT_TRUE(victim.ok());
    uint8_t* vb = static_cast<uint8_t*>((*victim)->data());
    for (uint64_t i = 0; i < kDrivenPages; i++) WritePage(vb + i * kPage, i, round);
    struct Ctx {
      std::unique_ptr<Region>* region = nullptr;
      MmRegion* mm = nullptr;
      std::thread::id tid;
      std::atomic<bool> fired{false};
      std::thread destroyer;
      std::atomic<bool> destroyed{false};
      bool dying_during_writeback = false;
      bool destroyed_at_release = true;
      uint64_t pages_in_writeback = 0;
    } ctx;
    ctx.region = &*victim;
    ctx.mm = ImplOf(**victim)->mm();
    ctx.tid = std::this_thread::get_id();
    SetTestHook(
        [](const char* point, void* arg) {
          auto* c = static_cast<Ctx*>(arg);
          if (std::strcmp(point, "writeback_before_io") != 0) return;
          if (std::this_thread::get_id() != c->tid || c->fired.exchange(true)) return;
          for (uint64_t i = 0; i < c->mm->pages(); i++) {
            std::lock_guard l(c->mm->block_lock(i));
            c->pages_in_writeback += (c->mm->pte(i).flags & kWriteback) != 0;
          }
          c->destroyer = std::thread([c] {
            c->region->reset();
            c->destroyed = true;
          });
          c->dying_during_writeback =
              WaitUntil([c] { return c->mm->dying.load(); }, kHookWait, kPoll);
          c->destroyed_at_release = c->destroyed.load();
        },
        &ctx);
    ImplOf(*space)->BalanceOnce();
    ClearTestHook(*space);
    if (ctx.destroyer.joinable()) ctx.destroyer.join();
    ASSERT_TRUE(ctx.fired.load()) << "BalanceOnce wrote nothing back";
    EXPECT_GT(ctx.pages_in_writeback, 0u);
    EXPECT_TRUE(ctx.dying_during_writeback) << "the destructor did not start during write-back";
    EXPECT_FALSE(ctx.destroyed_at_release) << "the destructor finished before the write-back";
    EXPECT_TRUE(ctx.destroyed.load());
    EXPECT_EQ(AreaInuse(*space), 0u);
    EXPECT_EQ(space->stats().resident_pages, 0u);
    EXPECT_EQ(space->stats().swap_cache_pages, 0u);
  }

  // Stress (no forced order): regions come and go while kswapd reclaims
  // and a reader keeps faulting on a region that stays.
  auto keep = space->Map(512 * kPage);
  ASSERT_TRUE(keep.ok());
  uint8_t* kb = static_cast<uint8_t*>((*keep)->data());
  for (uint64_t i = 0; i < 512; i++) WritePage(kb + i * kPage, i, 1);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    std::mt19937_64 rng(7);
    while (!stop.load()) {
      uint64_t i = rng() % 512;
      if (!CheckPage(kb + i * kPage, i, 1)) bad++;
    }
  });
  std::vector<std::thread> churners;
  for (int t = 0; t < 2; t++) {
    churners.emplace_back([&, t] {
      for (uint32_t round = 0; round < 20; round++) {
        auto r = space->Map(300 * kPage);
        if (!r.ok()) {
          bad++;
          return;
        }
        uint8_t* b = static_cast<uint8_t*>((*r)->data());
        for (uint64_t i = 0; i < 300; i++) WritePage(b + i * kPage, i + t * 1000, round);
        for (uint64_t i = 0; i < 300; i++)
          if (!CheckPage(b + i * kPage, i + t * 1000, round)) bad++;
        r->reset();
      }
    });
  }
  for (auto& t : churners) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  for (uint64_t i = 0; i < 512; i++) ASSERT_TRUE(CheckPage(kb + i * kPage, i, 1)) << i;
  keep->reset();
  EXPECT_EQ(AreaInuse(*space), 0u);
  EXPECT_EQ(space->stats().resident_pages, 0u);
}

// swapoff and swapon, again and again, while threads read and write.
TEST_F(EngineRaceTest, SwapoffWhileThreadsReadAndWrite) {
  std::string a = NewSwapFile("a.swap", 4096);
  std::string b = NewSwapFile("b.swap", 4096);
  Config cfg = SmallConfig(256, a);
  cfg.swap_areas.push_back({b});
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  const int kThreads = 2;
  // Every page starts at version 1, so most of them are on swap (area a,
  // the higher priority) before the first swapoff.
  std::vector<std::vector<uint32_t>> versions(kThreads, std::vector<uint32_t>(pages, 0));
  for (uint64_t i = 0; i < pages; i++) {
    WritePage(base + i * kPage, i, 1);
    versions[i % kThreads][i] = 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::vector<std::atomic<uint64_t>> accesses(kThreads);
  std::vector<std::thread> ws;
  for (int t = 0; t < kThreads; t++) {
    ws.emplace_back([&, t] {
      std::mt19937_64 rng(99 + t);
      auto& ver = versions[t];
      while (!stop.load()) {
        uint64_t i = (rng() % (pages / kThreads)) * kThreads + t;
        uint8_t* p = base + i * kPage;
        if (rng() % 2)
          WritePage(p, i, ++ver[i]);
        else if (!CheckVersion(p, i, ver[i]))
          bad++;
        accesses[t]++;
      }
    });
  }
  // Each cycle starts once every thread made progress since the last one,
  // so the swapoffs and swapons interleave with accesses.
  constexpr int kCycles = 8;
  constexpr uint64_t kAccessesPerCycle = 200;
  for (int k = 0; k < kCycles; k++) {
    SCOPED_TRACE(k);
    std::vector<uint64_t> seen(kThreads);
    for (int t = 0; t < kThreads; t++) seen[t] = accesses[t].load();
    ASSERT_TRUE(WaitUntil(
        [&] {
          for (int t = 0; t < kThreads; t++)
            if (accesses[t].load() < seen[t] + kAccessesPerCycle) return false;
          return true;
        },
        std::chrono::seconds(60), std::chrono::milliseconds(1)))
        << "the threads stopped making progress";
    const std::string& p = (k % 2) ? b : a;
    EXPECT_GT(AreaInuse(*space, p), 0u) << "nothing to move off " << p;
    Status st = space->Swapoff(p);
    EXPECT_TRUE(st.ok()) << st.ToString();
    st = space->Swapon(p);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  stop = true;
  for (auto& w : ws) w.join();
  EXPECT_EQ(bad.load(), 0u);
  for (int t = 0; t < kThreads; t++)
    for (uint64_t i = t; i < pages; i += kThreads)
      ASSERT_TRUE(CheckVersion(base + i * kPage, i, versions[t][i])) << i;
}

}  // namespace
}  // namespace uswap::testing
