// Signals (audit F11, F13).
//
// F11, SIGBUS delivery: a SIGBUS that is not a uswap fault (kill(2),
// sigqueue) must get exactly what it would get without uswap — the
// program's own handler, the default action (death), or nothing (SIG_IGN)
// — and uswap must stay armed for its own faults afterwards. Before the
// fix such a signal reset SIGBUS to SIG_DFL for good and was swallowed:
// the process survived kill(SIGBUS) and died on its next swap-in (R10).
// In forked children (dispositions are process-wide).
//
// F13: uswap's own threads block the asynchronous signals, so that a
// process-directed signal never runs a handler on a thread that may hold
// a page-table lock.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "regress_util.h"

namespace uswap::testing {
namespace {

constexpr uint64_t kPages = 1024;  // 4x the budget: pages go out and come back

class SigbusSignalTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    if (kTsan) GTEST_SKIP() << kTsanSigbusSkip;
    swap_ = NewSwapFile("a.swap", 4 * kPages);
  }
  std::string swap_;
};

enum class Prior { kOwnHandler, kDefault, kIgnore };

volatile sig_atomic_t g_own_calls = 0;
volatile sig_atomic_t g_own_si_code = 0;
void OwnHandler(int, siginfo_t* info, void*) {
  g_own_calls = g_own_calls + 1;
  g_own_si_code = info->si_code;
}

// The child: installs `prior` for SIGBUS, opens a SIGBUS-delivery Space,
// pushes pages through swap, sends itself SIGBUS, then reads every page
// back (swap-ins resolved by uswap's handler).
int SigbusChild(int fd, const std::string& swap, Prior prior) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  if (prior == Prior::kOwnHandler) {
    sa.sa_sigaction = &OwnHandler;
    sa.sa_flags = SA_SIGINFO;
  } else {
    sa.sa_handler = prior == Prior::kIgnore ? SIG_IGN : SIG_DFL;
  }
  if (::sigaction(SIGBUS, &sa, nullptr) != 0) return kChildSetupFailed;
  Config cfg;
  cfg.ram_budget_bytes = 256 * kPage;
  cfg.swap_areas.push_back({swap});
  cfg.fault_delivery = FaultDelivery::kSigbus;
  auto s = Space::Open(cfg);
  if (!s.ok()) return kChildOpenFailed;
  auto r = (*s)->Map(kPages * kPage);
  if (!r.ok()) return kChildMapFailed;
  uint8_t* base = static_cast<uint8_t*>((*r)->data());
  FillPages(base, 0, kPages, 1);
  const uint64_t pswpin0 = (*s)->stats().pswpin;
  ReportToParent(fd, "before_kill", 1);
  // Process-directed; the calling (main) thread does not block SIGBUS, so
  // the kernel delivers it here, on return from kill.
  ::kill(::getpid(), SIGBUS);
  ReportToParent(fd, "after_kill", 1);
  ReportToParent(fd, "own_calls_after_kill", static_cast<uint64_t>(g_own_calls));
  ReportToParent(fd, "own_si_code", static_cast<uint64_t>(g_own_si_code + 1000));
  ReportToParent(fd, "bad_pages", CheckPages(base, 0, kPages, 1));
  ReportToParent(fd, "swapped_in", (*s)->stats().pswpin - pswpin0);
  ReportToParent(fd, "own_calls_at_end", static_cast<uint64_t>(g_own_calls));
  r->reset();
  return 0;
}

// (a) The program's handler, installed before Space::Open, runs once for
// the kill; uswap's faults still work afterwards and never reach it.
TEST_F(SigbusSignalTest, ExternalSigbusRunsTheProgramsHandler) {
  ChildResult out = RunChild([&](int fd) { return SigbusChild(fd, swap_, Prior::kOwnHandler); },
                             std::chrono::seconds(30));
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  EXPECT_EQ(out.Get("own_calls_after_kill"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("own_si_code"), static_cast<uint64_t>(SI_USER + 1000)) << out.Describe();
  EXPECT_EQ(out.Get("bad_pages"), 0u) << out.Describe();
  EXPECT_GT(out.Get("swapped_in", 0), 0u) << out.Describe();
  EXPECT_EQ(out.Get("own_calls_at_end"), 1u)
      << "uswap faults reached the program's handler: " << out.Describe();
}

// (b) No handler before Open (SIG_DFL): kill(SIGBUS) kills the process
// with SIGBUS, as it would without uswap.
TEST_F(SigbusSignalTest, ExternalSigbusWithDefaultActionKills) {
  ChildResult out = RunChild([&](int fd) { return SigbusChild(fd, swap_, Prior::kDefault); },
                             std::chrono::seconds(30));
  ASSERT_FALSE(out.timed_out) << out.Describe();
  EXPECT_EQ(out.Get("before_kill"), 1u) << out.Describe();
  EXPECT_TRUE(out.KilledBy(SIGBUS)) << out.Describe();
  EXPECT_FALSE(out.Has("after_kill")) << "the process survived kill(SIGBUS): " << out.Describe();
}

// (c) SIG_IGN before Open: kill(SIGBUS) is ignored, and swap-ins work.
TEST_F(SigbusSignalTest, ExternalSigbusIgnoredWhenIgnored) {
  ChildResult out = RunChild([&](int fd) { return SigbusChild(fd, swap_, Prior::kIgnore); },
                             std::chrono::seconds(30));
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  EXPECT_EQ(out.Get("after_kill"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("bad_pages"), 0u) << out.Describe();
  EXPECT_GT(out.Get("swapped_in", 0), 0u) << out.Describe();
}

// ---------------------------------------------------------------------------
// F13

class ThreadSignalMaskTest : public EngineFixture,
                             public ::testing::WithParamInterface<FaultDelivery> {};

TEST_P(ThreadSignalMaskTest, UswapThreadsBlockAsynchronousSignals) {
  const int kSignals[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGPIPE};
  // The creating thread has them unblocked, so a uswap thread blocks them
  // only if uswap blocks them (threads inherit the creator's mask).
  sigset_t unblock, old;
  sigemptyset(&unblock);
  for (int sig : kSignals) sigaddset(&unblock, sig);
  ASSERT_EQ(pthread_sigmask(SIG_UNBLOCK, &unblock, &old), 0);
  Config cfg = SmallConfig(256, NewSwapFile("a.swap", 1024));
  cfg.fault_delivery = GetParam();
  auto space = OpenSpace(cfg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(space);
  // A region with pages in it (in SIGBUS delivery, faults run on the
  // faulting thread: only touched in the other mode).
  auto r = space->Map(64 * kPage);
  ASSERT_TRUE(r.ok());
  if (GetParam() == FaultDelivery::kHandlerThreads) {
    FillPages(static_cast<uint8_t*>((*r)->data()), 0, 64, 1);
    EXPECT_EQ(CheckPages(static_cast<uint8_t*>((*r)->data()), 0, 64, 1), 0u);
  }
  // A thread created a moment ago may not have run yet, and until it runs
  // it shows every signal blocked (glibc creates it so, then restores the
  // creator's mask in the new thread): wait (bounded) until each uswap
  // thread has blocked once (kswapd on its condition variable, the fault
  // threads in epoll_wait), so what is sampled is the mask it runs with.
  auto all_started = [] {
    for (const TaskInfo& t : ListThreads()) {
      uint64_t switches = 0;
      if (t.comm.rfind("uswap-", 0) == 0 &&
          (!TaskStatusNumber(t.tid, "voluntary_ctxt_switches", 10, &switches) || switches == 0))
        return false;
    }
    return true;
  };
  ASSERT_TRUE(PollUntil(all_started, std::chrono::seconds(10), std::chrono::milliseconds(1)));
  int uswap_threads = 0, fault_threads = 0;
  for (const TaskInfo& t : ListThreads()) {
    if (t.comm.rfind("uswap-", 0) != 0) continue;
    uswap_threads++;
    fault_threads += t.comm.rfind("uswap-fault", 0) == 0;
    // What a thread blocks for good: the AND of several samples (a sample
    // taken while a thread is briefly in a fully blocked section must not
    // hide a mask that lets the signals through).
    uint64_t blocked = ~uint64_t{0};
    for (int k = 0; k < 20; k++) {
      uint64_t b = 0;
      ASSERT_TRUE(TaskStatusHex(t.tid, "SigBlk", &b)) << t.comm;
      blocked &= b;
    }
    for (int sig : kSignals)
      EXPECT_TRUE(blocked & (uint64_t{1} << (sig - 1)))
          << t.comm << " (tid " << t.tid << ") does not block " << strsignal(sig) << "; SigBlk "
          << std::hex << blocked;
  }
  EXPECT_GE(uswap_threads, 1) << "no uswap thread found (kswapd at least)";
  if (GetParam() == FaultDelivery::kHandlerThreads) {
    EXPECT_EQ(fault_threads, static_cast<int>(cfg.handler_threads));
  }
}

INSTANTIATE_TEST_SUITE_P(Delivery, ThreadSignalMaskTest,
                         ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus),
                         [](const auto& info) { return std::string(DeliveryName(info.param)); });

}  // namespace
}  // namespace uswap::testing
