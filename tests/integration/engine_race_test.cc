// The seeds' races, each pinned down: concurrent faults on one swapped page,
// a touch during write-back, reclaim racing region teardown, and swapoff
// while threads read and write.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "base/test_hook.h"
#include "engine_test_util.h"

namespace uswap::testing {
namespace {

constexpr size_t kPage = 4096;

class EngineRaceTest : public EngineFixture {
 protected:
  void TearDown() override { SetTestHook(nullptr, nullptr); }
};

PageState StateOf(MmRegion* mm, uint64_t i) {
  std::lock_guard<std::mutex> l(mm->block_lock(i));
  return mm->pte(i).state;
}

// Seed 000: two threads fault on the same swapped page; the swap cache makes
// the second wait for the first one's read: one read, both see the data.
TEST_F(EngineRaceTest, ConcurrentFaultsOnOneSwappedPageIssueOneRead) {
  Config cfg = SmallConfig(256, NewSwapFile("a.swap", 4096));
  cfg.readahead_pages = 1;
  cfg.handler_threads = 4;
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  MmRegion* mm = (*region)->impl()->mm();
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 1);

  // Slow the first read down so that every other fault finds it in flight.
  static std::atomic<int> reads_paused;
  reads_paused = 0;
  SetTestHook(
      [](const char* point, void*) {
        if (std::string(point) == "swapin_before_io" && reads_paused++ == 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      },
      nullptr);
  uint64_t target = 100;  // early pages were pushed out by the later ones
  while (StateOf(mm, target) != PageState::kSwapped) target++;
  Stats before = space->stats();
  std::atomic<int> ready{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&] {
      ready++;
      while (ready.load() < 4) {
      }
      if (!CheckPage(base + target * kPage, target, 1)) bad++;
    });
  }
  for (auto& t : ts) t.join();
  SetTestHook(nullptr, nullptr);
  Stats after = space->stats();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(after.pswpin - before.pswpin, 1u);
  EXPECT_GE(after.swap_cache_hits - before.swap_cache_hits, 1u);
  EXPECT_EQ(after.pgmajfault - before.pgmajfault, 1u);
}

// Seed 000 figure d: a page touched while it is being written out is served
// from memory; a write to it waits for the write-back and is not lost.
TEST_F(EngineRaceTest, TouchDuringWritebackIsServedFromMemory) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 4096)));
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());

  struct Ctx {
    MmRegion* mm;
    uint8_t* base;
    std::atomic<bool> fired{false};
    std::atomic<bool> done{false};  // the hook has finished (writers started)
    std::vector<uint64_t> touched;
    std::atomic<int> read_ok{0}, read_bad{0};
    std::vector<std::thread> writers;
  } ctx;
  ctx.mm = (*region)->impl()->mm();
  ctx.base = base;
  SetTestHook(
      [](const char* point, void* arg) {
        auto* c = static_cast<Ctx*>(arg);
        if (std::string(point) != "writeback_before_io" || c->fired.exchange(true)) return;
        for (uint64_t i = 0; i < c->mm->pages() && c->touched.size() < 4; i++) {
          std::lock_guard<std::mutex> l(c->mm->block_lock(i));
          if (c->mm->pte(i).flags & kWriteback) c->touched.push_back(i);
        }
        // Reads complete while the write-back is held here (served from the
        // frame); the writes must wait until it finished.
        std::thread reader([c] {
          for (uint64_t i : c->touched) {
            if (CheckPage(c->base + i * kPage, i, 1))
              c->read_ok++;
            else
              c->read_bad++;
          }
        });
        reader.join();
        c->writers.emplace_back([c] {
          for (uint64_t i : c->touched) WritePage(c->base + i * kPage, i, 2);
        });
        c->done = true;
      },
      &ctx);
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 1);
  // Write-back may still be running in kswapd: wait (bounded) for the hook.
  for (int ms = 0; ms < 20000 && ctx.fired.load() && !ctx.done.load(); ms++)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(!ctx.fired.load() || ctx.done.load()) << "the write-back hook did not finish";
  for (auto& t : ctx.writers) t.join();
  SetTestHook(nullptr, nullptr);
  ASSERT_TRUE(ctx.fired.load());
  ASSERT_FALSE(ctx.touched.empty());
  EXPECT_EQ(ctx.read_bad.load(), 0);
  EXPECT_EQ(ctx.read_ok.load(), static_cast<int>(ctx.touched.size()));
  std::vector<bool> rewritten(pages, false);
  for (uint64_t i : ctx.touched) rewritten[i] = true;
  // Churn again so the touched pages go out and come back.
  for (uint64_t i = 0; i < pages; i++)
    ASSERT_TRUE(CheckPage(base + i * kPage, i, rewritten[i] ? 2 : 1)) << i;
  for (uint64_t i = 0; i < pages; i++)
    ASSERT_TRUE(CheckPage(base + i * kPage, i, rewritten[i] ? 2 : 1)) << i;
}

// Regions come and go while reclaim works on their pages.
TEST_F(EngineRaceTest, ReclaimRacingUnmap) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 16384)));
  ASSERT_TRUE(space);
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
      for (int round = 0; round < 20; round++) {
        auto r = space->Map(300 * kPage);
        if (!r.ok()) {
          bad++;
          return;
        }
        uint8_t* b = static_cast<uint8_t*>((*r)->data());
        for (uint64_t i = 0; i < 300; i++) WritePage(b + i * kPage, i + t * 1000, round);
        for (uint64_t i = 0; i < 300; i += 7)
          if (!CheckPage(b + i * kPage, i + t * 1000, round)) bad++;
        r->reset();  // while kswapd may be writing its pages out
      }
    });
  }
  for (auto& t : churners) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  for (uint64_t i = 0; i < 512; i++) ASSERT_TRUE(CheckPage(kb + i * kPage, i, 1)) << i;
  keep->reset();
  uint64_t inuse = 0;
  for (const AreaStats& a : space->stats().areas) inuse += a.inuse_pages;
  EXPECT_EQ(inuse, 0u);
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
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> ws;
  const int kThreads = 2;
  std::vector<std::vector<uint32_t>> versions(kThreads, std::vector<uint32_t>(pages, 0));
  for (int t = 0; t < kThreads; t++) {
    ws.emplace_back([&, t] {
      std::mt19937_64 rng(99 + t);
      auto& ver = versions[t];
      while (!stop.load()) {
        uint64_t i = (rng() % (pages / kThreads)) * kThreads + t;
        uint64_t* w = reinterpret_cast<uint64_t*>(base + i * kPage);
        if (rng() % 2) {
          ver[i]++;
          w[0] = PageWord(i, ver[i], 0);
          w[511] = PageWord(i, ver[i], 511);
        } else {
          uint64_t want0 = ver[i] ? PageWord(i, ver[i], 0) : 0;
          uint64_t want1 = ver[i] ? PageWord(i, ver[i], 511) : 0;
          if (w[0] != want0 || w[511] != want1) bad++;
        }
      }
    });
  }
  int cycles = 0;
  for (int k = 0; k < 6; k++) {
    const std::string& p = (k % 2) ? b : a;
    Status st = space->Swapoff(p);
    EXPECT_TRUE(st.ok()) << st.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    st = space->Swapon(p);
    EXPECT_TRUE(st.ok()) << st.ToString();
    cycles++;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& w : ws) w.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(cycles, 6);
  for (int t = 0; t < kThreads; t++)
    for (uint64_t i = t; i < pages; i += kThreads) {
      uint64_t* w = reinterpret_cast<uint64_t*>(base + i * kPage);
      uint64_t want = versions[t][i] ? PageWord(i, versions[t][i], 0) : 0;
      ASSERT_EQ(w[0], want) << i;
    }
}

}  // namespace
}  // namespace uswap::testing
