// Transient memfd errors (audit F12): a failed pwrite into the memfd during
// swap-in (ENOMEM, ENOSPC under a memory cgroup) poisoned the page and
// freed its good slot — the data was on disk and was thrown away; a failed
// fallocate on first touch poisoned a page that was never written. Both are
// transient: the access must complete with the right bytes (retried), no
// read error counted, no SIGBUS. Errors come from the engine's errno
// injection points (base/test_hook.h); accesses run in forked children so
// that a SIGBUS is observed, not fatal to the test binary.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

#include "base/test_hook.h"
#include "regress_util.h"

namespace uswap::testing {
namespace {

// Fails the first `times` calls at `point` with `err`, then lets them pass.
struct ErrnoInjection {
  const char* point;
  int err;
  int times;
  std::atomic<int> calls{0};
  std::atomic<int> injected{0};

  static int Fn(const char* point, void* arg) {
    auto* self = static_cast<ErrnoInjection*>(arg);
    if (std::strcmp(point, self->point) != 0) return 0;
    self->calls++;
    if (self->injected.load() >= self->times) return 0;
    self->injected++;
    return self->err;
  }
};

bool IsSwapped(const PteSnapshot& s) { return s.state == PageState::kSwapped; }

class TransientErrorTest : public EngineFixture,
                           public ::testing::WithParamInterface<FaultDelivery> {};

// ENOMEM once while a page read from swap is copied into the memfd: the
// access still reads the page's bytes; its neighbours too.
TEST_P(TransientErrorTest, CopyInFailureDuringSwapinIsRetried) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  const std::string swap = NewSwapFile("a.swap", 4096);
  constexpr uint64_t kPages = 1024;
  ChildResult out = RunChild(
      [&](int fd) -> int {
        Config cfg = SmallConfig(256, swap);
        cfg.fault_delivery = GetParam();
        auto s = Space::Open(cfg);
        if (!s.ok()) return kChildOpenFailed;
        auto r = (*s)->Map(kPages * kPage);
        if (!r.ok()) return kChildMapFailed;
        uint8_t* base = static_cast<uint8_t*>((*r)->data());
        FillPages(base, 0, kPages, 1);
        const uint64_t target = FindPage(**r, 64, kPages, IsSwapped);
        if (target == kPages) return kChildSetupFailed;
        static ErrnoInjection inj{"memfd_copyin", ENOMEM, 1};
        SetTestErrnoHook(&ErrnoInjection::Fn, &inj);
        ReportToParent(fd, "read_ok", CheckPage(base + target * kPage, target, 1));
        SetTestErrnoHook(nullptr, nullptr);
        ReportToParent(fd, "injected", static_cast<uint64_t>(inj.injected.load()));
        ReportToParent(fd, "read_errors", (*s)->stats().read_errors);
        ReportToParent(fd, "bad_pages", CheckPages(base, 0, kPages, 1));
        ReportToParent(fd, "read_errors_end", (*s)->stats().read_errors);
        r->reset();
        return 0;
      },
      std::chrono::seconds(30));
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_FALSE(out.KilledBy(SIGBUS)) << "a transient memfd error became SIGBUS: " << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  EXPECT_EQ(out.Get("injected"), 1u)
      << "the \"memfd_copyin\" point did not run: " << out.Describe();
  EXPECT_EQ(out.Get("read_ok"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("read_errors"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("bad_pages"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("read_errors_end"), 0u) << out.Describe();
}

// ENOMEM once while a first-touched page is materialised as zeros: the
// touch still reads zeros, and the page is ordinary memory afterwards.
TEST_P(TransientErrorTest, AllocateFailureOnFirstTouchIsRetried) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  const std::string swap = NewSwapFile("a.swap", 1024);
  ChildResult out = RunChild(
      [&](int fd) -> int {
        Config cfg = SmallConfig(256, swap);
        cfg.fault_delivery = GetParam();
        auto s = Space::Open(cfg);
        if (!s.ok()) return kChildOpenFailed;
        auto r = (*s)->Map(64 * kPage);
        if (!r.ok()) return kChildMapFailed;
        uint8_t* base = static_cast<uint8_t*>((*r)->data());
        static ErrnoInjection inj{"memfd_allocate", ENOMEM, 1};
        SetTestErrnoHook(&ErrnoInjection::Fn, &inj);
        ReportToParent(fd, "zero_ok", CheckZeroPage(base + 7 * kPage));
        SetTestErrnoHook(nullptr, nullptr);
        ReportToParent(fd, "injected", static_cast<uint64_t>(inj.injected.load()));
        ReportToParent(fd, "read_errors", (*s)->stats().read_errors);
        FillPages(base, 0, 64, 1);
        ReportToParent(fd, "bad_pages", CheckPages(base, 0, 64, 1));
        r->reset();
        return 0;
      },
      std::chrono::seconds(30));
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_FALSE(out.KilledBy(SIGBUS)) << "a transient memfd error became SIGBUS: " << out.Describe();
  ASSERT_TRUE(out.Ok()) << out.Describe();
  EXPECT_EQ(out.Get("injected"), 1u)
      << "the \"memfd_allocate\" point did not run: " << out.Describe();
  EXPECT_EQ(out.Get("zero_ok"), 1u) << out.Describe();
  EXPECT_EQ(out.Get("read_errors"), 0u) << out.Describe();
  EXPECT_EQ(out.Get("bad_pages"), 0u) << out.Describe();
}

INSTANTIATE_TEST_SUITE_P(Delivery, TransientErrorTest,
                         ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus),
                         [](const auto& info) { return std::string(DeliveryName(info.param)); });

}  // namespace
}  // namespace uswap::testing
