// Concurrent administration (audit F6): Swapon did not take the admin lock,
// and Swapoff freed the area's type before it detached the type's checksum
// table, so a Swapon in between reused the type and lost its table: the
// next I/O on the new area aborted (R7). Here: the window pinned open with
// the "swapoff_after_finish" test point (a Swapon straight into the device
// table from inside it, bypassing Space's locks as R7's second thread did),
// and a free-running mix of Swapon/Swapoff, Map/Unmap and page traffic.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "regress_util.h"

namespace uswap::testing {
namespace {

class AdminRaceTest : public EngineFixture {};

bool HasArea(const Stats& s, const std::string& path) {
  for (const AreaStats& a : s.areas)
    if (a.path == path) return true;
  return false;
}

uint64_t InuseOf(const Stats& s, const std::string& path) {
  for (const AreaStats& a : s.areas)
    if (a.path == path) return a.inuse_pages;
  return 0;
}

// R7 made deterministic: while Swapoff(a) holds the admin lock, right after
// the area left the device table, area c is swapped on directly (it may
// take a's type). Afterwards every page goes out to c and back, twice:
// no abort, every byte right.
TEST_F(AdminRaceTest, SwaponInsideSwapoffWindowKeepsNewAreaUsable) {
  const std::string a = NewSwapFile("a.swap", 4096);
  const std::string b = NewSwapFile("b.swap", 4096);
  const std::string c = NewSwapFile("c.swap", 4096);
  struct Ctx {
    std::atomic<SpaceImpl*> space{nullptr};
    std::string path;
    std::atomic<int> fired{0};
    std::atomic<bool> swapon_ok{false};
    std::string swapon_error;  // written by the hook once, read after Swapoff returned
    std::atomic<unsigned> type{~0u};
  } ctx;
  ctx.path = c;
  ScopedTestHook hook([&ctx](const char* point) {
    if (std::strcmp(point, "swapoff_after_finish") != 0) return;
    SpaceImpl* s = ctx.space.load();
    if (!s || ctx.fired++ != 0) return;
    Result<unsigned> t = s->devices().Swapon(ctx.path, 20);  // highest priority: c takes the I/O
    ctx.swapon_ok = t.ok();
    if (t.ok())
      ctx.type = *t;
    else
      ctx.swapon_error = t.status().ToString();
  });
  Config cfg = SmallConfig(256, a);
  cfg.swap_areas[0].priority = 10;
  cfg.swap_areas.push_back({b, 1});
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  constexpr uint64_t kPages = 1024;
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);
  ASSERT_GT(InuseOf(space->stats(), a), 0u);
  Result<unsigned> a_type = ImplOf(*space)->devices().Find(a);
  ASSERT_TRUE(a_type.ok());

  ctx.space = ImplOf(*space);
  Status st = space->Swapoff(a);
  ctx.space = nullptr;
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(ctx.fired.load(), 1) << "the \"swapoff_after_finish\" point did not run";
  ASSERT_TRUE(ctx.swapon_ok.load()) << ctx.swapon_error;
  Stats s = space->stats();
  EXPECT_FALSE(HasArea(s, a));
  EXPECT_TRUE(HasArea(s, b));
  EXPECT_TRUE(HasArea(s, c));

  // Page traffic: most of it goes to c, the highest priority.
  for (uint32_t v = 2; v <= 3; v++) {
    FillPages(base, 0, kPages, v);
    ASSERT_EQ(CheckPages(base, 0, kPages, v), 0u)
        << "version " << v << "; a had type " << *a_type << ", c got " << ctx.type.load();
  }
  s = space->stats();
  EXPECT_GT(InuseOf(s, c), kPages / 4) << "no I/O went to the new area: " << s.ToText();
  EXPECT_EQ(s.read_errors, 0u);
  EXPECT_EQ(s.checksum_errors, 0u);
  // And c can be taken off again through the API.
  st = space->Swapoff(c);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(CheckPages(base, 0, kPages, 3), 0u);
}

// Two threads cycle Swapoff/Swapon of one area each, two threads map, fill,
// check and unmap small regions, one thread writes and checks a region 4x
// the budget: no crash, no wrong byte, every status one of the documented
// ones.
TEST_F(AdminRaceTest, SwaponSwapoffMapUnmapAndTrafficConcurrently) {
  const std::string paths[2] = {NewSwapFile("a.swap", 4096), NewSwapFile("b.swap", 4096)};
  Config cfg = SmallConfig(256, paths[0]);
  cfg.swap_areas.push_back({paths[1]});
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  constexpr uint64_t kPages = 1024;
  auto r = space->Map(kPages * kPage);
  ASSERT_TRUE(r.ok());
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);

  std::atomic<bool> stop{false};
  std::mutex errors_mu;
  std::vector<std::string> errors;
  auto error = [&](const std::string& e) {
    std::lock_guard<std::mutex> l(errors_mu);
    if (errors.size() < 20) errors.push_back(e);
  };
  std::atomic<uint64_t> swap_cycles[2] = {0, 0}, swapoff_refused{0}, map_cycles{0}, passes{0};
  std::atomic<uint64_t> bad{0};
  std::atomic<uint32_t> last_version{1};
  // Two threads: one area each.
  std::vector<std::thread> ts;
  for (int k = 0; k < 2; k++)
    ts.emplace_back([&, k] {
      while (!stop.load()) {
        Status st = space->Swapoff(paths[k]);
        if (st.IsNoSpace() || st.IsBusy()) {  // the other area is off too, or I/O in the way
          swapoff_refused++;
          continue;
        }
        if (!st.ok()) {
          error("Swapoff " + paths[k] + ": " + st.ToString());
          return;
        }
        st = space->Swapon(paths[k]);
        if (!st.ok()) {
          error("Swapon " + paths[k] + ": " + st.ToString());
          return;
        }
        swap_cycles[k]++;
      }
    });
  // Two threads: small regions of 16 and 32 pages.
  for (int k = 0; k < 2; k++)
    ts.emplace_back([&, k] {
      for (uint32_t v = 1; !stop.load(); v++) {
        auto m = space->Map((16 + 16 * k) * kPage);
        if (!m.ok()) {
          error("Map: " + m.status().ToString());
          return;
        }
        uint8_t* p = static_cast<uint8_t*>((*m)->data());
        const uint64_t n = 16 + 16 * k;
        FillPages(p, 0, n, v);
        if (CheckPages(p, 0, n, v) != 0) bad++;
        map_cycles++;
      }
    });
  // This thread: the page traffic, for a bounded time (then everyone stops).
  const auto limit = kSanitized ? std::chrono::milliseconds(1500) : std::chrono::seconds(3);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t v = 2; std::chrono::steady_clock::now() - t0 < limit || passes.load() == 0; v++) {
    FillPages(base, 0, kPages, v);
    bad += CheckPages(base, 0, kPages, v);
    last_version = v;
    passes++;
  }
  stop = true;
  for (auto& t : ts) t.join();

  for (const std::string& e : errors) ADD_FAILURE() << e;
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(swap_cycles[0].load() + swap_cycles[1].load(), 0u);
  EXPECT_GT(map_cycles.load(), 0u);
  EXPECT_GT(passes.load(), 0u);
  // Both areas on again, and every page right.
  for (const std::string& p : paths)
    if (!HasArea(space->stats(), p)) {
      EXPECT_TRUE(space->Swapon(p).ok()) << p;
    }
  EXPECT_EQ(space->stats().areas.size(), 2u);
  EXPECT_EQ(CheckPages(base, 0, kPages, last_version.load()), 0u);
  std::printf(
      "swapoff/swapon cycles %llu + %llu, swapoff refused %llu, map cycles %llu, passes %llu\n",
      static_cast<unsigned long long>(swap_cycles[0].load()),
      static_cast<unsigned long long>(swap_cycles[1].load()),
      static_cast<unsigned long long>(swapoff_refused.load()),
      static_cast<unsigned long long>(map_cycles.load()),
      static_cast<unsigned long long>(passes.load()));
}

}  // namespace
}  // namespace uswap::testing
