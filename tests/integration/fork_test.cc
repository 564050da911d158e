// fork() with live uswap objects (audit F1, F2).
//
// A Space's userfaultfd, its fault threads' stop eventfd, its memfds and
// swap files are inherited by a fork() child, but the objects belong to the
// parent: a child that destroys its copies (region.reset(), space.reset(),
// or exit() running the destructors of a static Space) must not unregister
// the parent's regions (F1: the parent then read zeros for its swapped-out
// pages) nor stop the parent's fault threads (F2: the parent's next fault
// hung, and so did the child, joining threads it does not have). In the
// child every call that would change the shared kernel objects fails with
// Busy ("... fork ...").
//
// Each case runs in a child process of the test (the "parent" below), which
// forks the "child" under test: a hang in either becomes a bounded-wait
// failure, never a stuck test binary.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "regress_util.h"

namespace uswap::testing {

// Static storage for the exit() case: a program that keeps its Space and
// Region in globals and calls exit() in a child runs their destructors
// there. Region after Space: destroyed first.
std::unique_ptr<Space> g_static_space;
std::unique_ptr<Region> g_static_region;
// Set in a child that calls exit(): its leak check would see the parent's
// thread-owned memory as unreferenced (those threads do not exist in it).
int g_forked_child_skips_leak_check = 0;

namespace {

constexpr uint64_t kBudget = 256;
constexpr uint64_t kPages = 1024;                       // 4x the budget: most pages are swapped out
constexpr auto kChildWait = std::chrono::seconds(10);   // the forked child's destructors
constexpr auto kParentWait = std::chrono::seconds(50);  // the whole scenario

enum class ChildAction {
  kNothing,         // never touches the objects, _exit()
  kDestroyRegion,   // region.reset(), _exit()
  kDestroyAll,      // region.reset(); space.reset(), _exit()
  kExitWithStatic,  // objects in static storage, exit(0) runs their destructors
};

const char* ActionName(ChildAction a) {
  switch (a) {
    case ChildAction::kNothing:
      return "ChildLeavesThemAlone";
    case ChildAction::kDestroyRegion:
      return "ChildDestroysRegion";
    case ChildAction::kDestroyAll:
      return "ChildDestroysRegionAndSpace";
    case ChildAction::kExitWithStatic:
      return "ChildExitsWithStaticObjects";
  }
  return "?";
}

// With a fault trace (Config::record_faults): the parent's faults are
// recorded there, once each; a child's destructors must not write its copy
// of the trace's buffer into the parent's file.
Config ForkConfig(const std::string& swap, FaultDelivery d, const std::string& trace = "") {
  Config cfg;
  cfg.ram_budget_bytes = kBudget * kPage;
  cfg.swap_areas.push_back({swap});
  cfg.fault_delivery = d;
  cfg.record_faults = trace;
  return cfg;
}

// Lines of a text fault trace, less its '#' header.
uint64_t TraceRecords(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return UINT64_MAX;
  uint64_t n = 0;
  for (int c; (c = std::fgetc(f)) != EOF;) n += c == '\n';
  std::fclose(f);
  return n - 1;
}

bool IsSwapped(const PteSnapshot& s) { return s.state == PageState::kSwapped; }

// The parent's side of a scenario, in the test's child process. Reports:
// swapped_before_fork, child_timed_out, child_exit_ok, swapped_after_child,
// bad_pages, zero_pages, uswap_threads_before/after, bad_after_rewrite,
// bad_new_region, done.
int ParentScenario(int fd, const std::string& swap, const std::string& trace, FaultDelivery d,
                   ChildAction action) {
  auto s = Space::Open(ForkConfig(swap, d, trace));
  if (!s.ok()) {
    std::fprintf(stderr, "Open: %s\n", s.status().ToString().c_str());
    return kChildOpenFailed;
  }
  std::unique_ptr<Space> space = std::move(*s);
  auto r = space->Map(kPages * kPage);
  if (!r.ok()) return kChildMapFailed;
  std::unique_ptr<Region> region = std::move(*r);
  uint8_t* base = static_cast<uint8_t*>(region->data());
  FillPages(base, 0, kPages, 1);
  if (CheckPages(base, 0, kPages, 1) != 0) return kChildCheckFailed;
  ReportToParent(fd, "swapped_before_fork", CountPages(*region, IsSwapped));
  ReportToParent(fd, "uswap_threads_before", CountThreadsNamed("uswap-"));

  if (action == ChildAction::kExitWithStatic) {
    g_static_space = std::move(space);
    g_static_region = std::move(region);
  }
  bool timed_out = false;
  const int st = RunGrandchild(
      [&]() -> int {
        switch (action) {
          case ChildAction::kNothing:
            break;
          case ChildAction::kDestroyRegion:
            region.reset();
            break;
          case ChildAction::kDestroyAll:
            region.reset();
            space.reset();
            break;
          case ChildAction::kExitWithStatic:
            g_forked_child_skips_leak_check = 1;
            std::exit(0);  // runs ~Region, ~Space of the statics
        }
        return 0;
      },
      kChildWait, &timed_out);
  if (action == ChildAction::kExitWithStatic) {
    space = std::move(g_static_space);
    region = std::move(g_static_region);
  }
  ReportToParent(fd, "child_timed_out", timed_out);
  ReportToParent(fd, "child_exit_ok", st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  if (st >= 0 && WIFSIGNALED(st)) ReportToParent(fd, "child_signal", WTERMSIG(st));

  // The parent's regions, threads and data are intact.
  ReportToParent(fd, "swapped_after_child", CountPages(*region, IsSwapped));
  uint64_t bad = 0, zero = 0;
  for (uint64_t i = 0; i < kPages; i++) {
    if (CheckPage(base + i * kPage, i, 1)) continue;
    bad++;
    zero += CheckZeroPage(base + i * kPage);
  }
  ReportToParent(fd, "bad_pages", bad);
  ReportToParent(fd, "zero_pages", zero);
  ReportToParent(fd, "uswap_threads_after", CountThreadsNamed("uswap-"));
  // New faults are served: every page again (swap-ins, write-protect faults,
  // reclaim), and a region mapped after the fork.
  FillPages(base, 0, kPages, 2);
  ReportToParent(fd, "bad_after_rewrite", CheckPages(base, 0, kPages, 2));
  auto r2 = space->Map(64 * kPage);
  if (!r2.ok()) return kChildMapFailed;
  uint8_t* base2 = static_cast<uint8_t*>((*r2)->data());
  ReportToParent(fd, "new_region_zero", CheckZeroPages(base2, 0, 64));
  FillPages(base2, 0, 64, 3);
  ReportToParent(fd, "bad_new_region", CheckPages(base2, 0, 64, 3));
  r2->reset();
  region.reset();
  ReportToParent(fd, "faults", space->stats().pgfault);
  space.reset();  // flushes the trace
  ReportToParent(fd, "trace_records", TraceRecords(trace));
  ReportToParent(fd, "done", 1);
  return 0;
}

class ForkTest : public EngineFixture,
                 public ::testing::WithParamInterface<std::tuple<ChildAction, FaultDelivery>> {};

// The parent keeps every page and every thread whatever the child does with
// its copies, and the child's destructors return promptly.
TEST_P(ForkTest, ParentKeepsItsRegionsThreadsAndData) {
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  const ChildAction action = std::get<0>(GetParam());
  const FaultDelivery delivery = std::get<1>(GetParam());
  if (kTsan && delivery == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  const std::string swap = NewSwapFile("a.swap", 4 * kPages);
  const std::string trace = dir_.File("faults.trace");
  ChildResult out = RunChild(
      [&](int fd) { return ParentScenario(fd, swap, trace, delivery, action); }, kParentWait);
  ASSERT_FALSE(out.timed_out) << "the parent hung after the fork: " << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  EXPECT_GT(out.Get("swapped_before_fork", 0), kPages / 2) << out.Describe();
  EXPECT_EQ(out.Get("child_timed_out"), 0u) << "the child's destructors hung: " << out.Describe();
  EXPECT_EQ(out.Get("child_exit_ok"), 1u) << out.Describe();
  // Swapped-out pages were still swapped out when the parent read them back.
  EXPECT_GT(out.Get("swapped_after_child", 0), kPages / 2) << out.Describe();
  EXPECT_EQ(out.Get("bad_pages"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("zero_pages"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("uswap_threads_after"), out.Get("uswap_threads_before")) << out.Describe();
  EXPECT_GE(out.Get("uswap_threads_before", 0), 1u) << out.Describe();
  EXPECT_EQ(out.Get("bad_after_rewrite"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("new_region_zero"), 64u) << out.Describe();
  EXPECT_EQ(out.Get("bad_new_region"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("trace_records"), out.Get("faults")) << out.Describe();
  EXPECT_GT(out.Get("faults", 0), 0u) << out.Describe();
  EXPECT_EQ(out.Get("done"), 1u) << out.Describe();
}

INSTANTIATE_TEST_SUITE_P(
    Fork, ForkTest,
    ::testing::Combine(::testing::Values(ChildAction::kNothing, ChildAction::kDestroyRegion,
                                         ChildAction::kDestroyAll, ChildAction::kExitWithStatic),
                       ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus)),
    [](const auto& info) {
      return std::string(ActionName(std::get<0>(info.param))) + "_" +
             DeliveryName(std::get<1>(info.param));
    });

bool BusyForFork(const Status& st) {
  return st.IsBusy() && st.message().find("fork") != std::string::npos;
}

// Reports "<name>_code" (the Status code) and "<name>_busy_fork" (1 when
// Busy and the message says fork).
void ReportStatus(int fd, const std::string& name, const Status& st) {
  ReportToParent(fd, (name + "_code").c_str(), static_cast<uint64_t>(st.code()));
  ReportToParent(fd, (name + "_busy_fork").c_str(), BusyForFork(st));
  if (!BusyForFork(st))
    std::fprintf(stderr, "child: %s: %s\n", name.c_str(), st.ToString().c_str());
}

class ForkApiTest : public EngineFixture {};

// In a fork() child, the calls that would change the parent's kernel
// objects fail with Busy naming fork; the child's destructors then return.
TEST_F(ForkApiTest, ChildApiCallsFailWithBusy) {
  const std::string swap = NewSwapFile("a.swap", 4 * kPages);
  const std::string other = NewSwapFile("b.swap", 1024);
  ChildResult out = RunChild(
      [&](int fd) -> int {
        auto s = Space::Open(ForkConfig(swap, FaultDelivery::kHandlerThreads));
        if (!s.ok()) return kChildOpenFailed;
        std::unique_ptr<Space> space = std::move(*s);
        auto r = space->Map(kPages * kPage);
        if (!r.ok()) return kChildMapFailed;
        std::unique_ptr<Region> region = std::move(*r);
        uint8_t* base = static_cast<uint8_t*>(region->data());
        FillPages(base, 0, kPages, 1);
        bool timed_out = false;
        const int st = RunGrandchild(
            [&]() -> int {
              Result<std::unique_ptr<Region>> m = space->Map(64 * kPage);
              ReportStatus(fd, "map", m.status());
              if (m.ok()) (void)(*m).release();  // do not run its destructor here
              ReportStatus(fd, "swapon", space->Swapon(other));
              ReportStatus(fd, "swapoff", space->Swapoff(swap));
              ReportStatus(fd, "pin", region->Pin(0, kPage));
              ReportStatus(fd, "unpin", region->Unpin(0, kPage));
              ReportStatus(fd, "discard", region->Discard(0, kPage));
              ReportStatus(fd, "pageout", region->PageOut(0, kPage));
              region.reset();
              space.reset();
              ReportToParent(fd, "child_done", 1);
              return 0;
            },
            kChildWait, &timed_out);
        ReportToParent(fd, "child_timed_out", timed_out);
        ReportToParent(fd, "child_exit_ok", st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        // Nothing the child attempted reached the parent.
        Stats stats = space->stats();
        ReportToParent(fd, "areas_after", stats.areas.size());
        ReportToParent(fd, "bad_pages", CheckPages(base, 0, kPages, 1));
        ReportToParent(fd, "pins_after", SnapshotPte(*region, 0).pins);
        ReportToParent(fd, "parent_swapon_ok", space->Swapon(other).ok());
        region.reset();
        space.reset();
        ReportToParent(fd, "done", 1);
        return 0;
      },
      kParentWait);
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  EXPECT_EQ(out.Get("child_timed_out"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("child_exit_ok"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("child_done"), 1u) << out.Describe();
  for (const char* op : {"map", "swapon", "swapoff", "pin", "unpin", "discard", "pageout"}) {
    EXPECT_EQ(out.Get(std::string(op) + "_code"), static_cast<uint64_t>(Status::Code::kBusy))
        << op << ": " << out.Describe();
    EXPECT_EQ(out.Get(std::string(op) + "_busy_fork"), 1u) << op << ": " << out.Describe();
  }
  EXPECT_EQ(out.Get("areas_after"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("bad_pages"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("pins_after"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("parent_swapon_ok"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("done"), 1u) << out.Describe();
}

}  // namespace
}  // namespace uswap::testing

// LeakSanitizer's opt-out hook (the runtime calls it at exit): only the
// exit() child of ChildExitsWithStaticObjects turns the check off.
extern "C" int __lsan_is_turned_off() { return uswap::testing::g_forked_child_skips_leak_check; }
