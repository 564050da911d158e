// Reliability of the paging engine: what it does when the swap device
// fails, when bytes on disk change behind its back, when swap is full, and
// what it leaves behind when it goes away. cf. end_swap_bio_write() (a
// failed write marks the slot bad and keeps the page), end_swap_bio_read()
// (a page that cannot be read back is never returned as data: SIGBUS), and
// the kernel's swap-full behaviour (overcommit vs. OOM).
//
// Faults come from a FaultInjectionStore put under the area through
// SwapDevices::SetStoreWrapper. Accesses that must die with SIGBUS run in a
// forked child (fork first, then the child opens its own Space); the child
// reports counters through a pipe from a SIGBUS handler of its own (atomics
// and write(2) only), then lets the access fault again under the default
// action. The parent bounds every wait and kills a child that hangs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "engine_test_util.h"
#include "io/fault_injection_store.h"
#include "regress_util.h"

namespace uswap::testing {
namespace {

constexpr size_t kPage = 4096;
constexpr uint64_t kBudget = 256;                          // pages
constexpr uint64_t kPages = 4 * kBudget;                   // region size in pages
constexpr uint64_t kSmallSwapSlots = kBudget / 2 - 1;      // usable slots of the "full swap" area
constexpr auto kChildTimeout = std::chrono::seconds(120);  // generous for TSan

// ---------------------------------------------------------------------------
// Stores and helpers

// Sits above a FaultInjectionStore and records which slots failed writes
// reached, so a test can compare the engine's bad-slot count with the
// faults that really happened (a fault fails a whole multi-slot run).
class WriteErrorRecorder final : public BlockStore {
 public:
  explicit WriteErrorRecorder(std::unique_ptr<BlockStore> target)
      : BlockStore(target->page_size(), target->nr_slots()), target_(std::move(target)) {}
  std::string_view name() const override { return "recorder"; }

  std::set<uint64_t> failed_write_slots() const {
    std::lock_guard<std::mutex> l(mu_);
    return failed_;
  }
  // Write requests that covered a slot an earlier write had failed on.
  uint64_t writes_to_failed_slots() const {
    std::lock_guard<std::mutex> l(mu_);
    return rewrites_;
  }

 protected:
  void SubmitImpl(std::span<BlockIo> ios) override {
    (void)target_->Submit(ios);  // each request carries its own error
    std::lock_guard<std::mutex> l(mu_);
    for (const BlockIo& io : ios) {
      if (io.op != BlockIo::Op::kWrite) continue;
      for (uint64_t s = io.slot; s < io.slot + io.nr; s++) {
        if (failed_.count(s)) rewrites_++;
        if (io.error) failed_.insert(s);
      }
    }
  }
  Status SyncImpl() override { return target_->Sync(); }

 private:
  const std::unique_ptr<BlockStore> target_;
  mutable std::mutex mu_;
  std::set<uint64_t> failed_;
  uint64_t rewrites_ = 0;
};

// A Space whose one swap area does its I/O through
// WriteErrorRecorder -> FaultInjectionStore -> the store Swapon opened.
struct FaultySpace {
  std::unique_ptr<Space> space;
  FaultInjectionStore* faults = nullptr;
  WriteErrorRecorder* recorder = nullptr;
};

// Opens `cfg` (which names no area), then swaps `swap` on under the
// wrappers. Returns a null space on failure (usable in a forked child).
FaultySpace OpenFaultySpace(Config cfg, const std::string& swap, std::string* error) {
  FaultySpace fs;
  cfg.swap_areas.clear();
  auto s = Space::Open(cfg);
  if (!s.ok()) {
    *error = s.status().ToString();
    return fs;
  }
  fs.space = std::move(*s);
  ImplOf(*fs.space)->devices().SetStoreWrapper([&fs](std::unique_ptr<BlockStore> store) {
    auto fi = std::make_unique<FaultInjectionStore>(std::move(store));
    fs.faults = fi.get();
    auto rec = std::make_unique<WriteErrorRecorder>(std::move(fi));
    fs.recorder = rec.get();
    return std::unique_ptr<BlockStore>(std::move(rec));
  });
  Status st = fs.space->Swapon(swap);
  ImplOf(*fs.space)->devices().SetStoreWrapper(nullptr);
  if (!st.ok()) {
    *error = st.ToString();
    fs.space.reset();
  }
  return fs;
}

uint64_t BadPages(const Stats& s) {
  uint64_t n = 0;
  for (const AreaStats& a : s.areas) n += a.bad_pages;
  return n;
}

// The random model workload over a region of kPages pages; its hot window
// moves every 5000 accesses (short runs still cycle pages through swap).
ModelWorkload Model(unsigned threads, uint64_t accesses_per_thread, uint64_t seed) {
  return {.pages = kPages,
          .budget = kBudget,
          .threads = threads,
          .accesses_per_thread = accesses_per_thread,
          .seed = seed,
          .window_step = 5000};
}

// The first page at or after `from` that is swapped out, and its slot, or
// false when none is.
bool FindSwappedPage(Region& region, uint64_t from, uint64_t* index, uint64_t* slot) {
  MmRegion* mm = ImplOf(region)->mm();
  for (uint64_t i = from; i < mm->pages(); i++) {
    std::lock_guard l(mm->block_lock(i));
    const PageEntry& p = mm->pte(i);
    if (p.state == PageState::kSwapped) {
      *index = i;
      *slot = p.entry().offset();
      return true;
    }
  }
  return false;
}

// Captures log lines for the life of the object (the sink is process-wide).
class LogCapture {
 public:
  LogCapture() {
    SetLogSink([this](LogLevel, const std::string& line) {
      std::lock_guard<std::mutex> l(mu_);
      lines_.push_back(line);
    });
  }
  ~LogCapture() { SetLogSink(nullptr); }
  std::vector<std::string> Matching(const std::string& needle) const {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<std::string> out;
    for (const std::string& s : lines_)
      if (s.find(needle) != std::string::npos) out.push_back(s);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// ---------------------------------------------------------------------------
// Child processes

struct ChildOutcome {
  bool timed_out = false;
  int status = 0;
  std::map<std::string, uint64_t> report;
  bool Sigbus() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS; }
  std::string Describe() const {
    std::ostringstream o;
    if (timed_out) o << "timed out (killed); ";
    if (WIFEXITED(status)) o << "exit " << WEXITSTATUS(status);
    if (WIFSIGNALED(status)) o << "signal " << WTERMSIG(status);
    for (const auto& [k, v] : report) o << "; " << k << "=" << v;
    return o.str();
  }
};

// Runs `body(report_fd)` in a forked child, which exits 0 if body returns.
// Waits at most `timeout`; a child still running then is killed (SIGKILL)
// and reaped, and the outcome says timed_out.
ChildOutcome RunInChild(const std::function<void(int)>& body,
                        std::chrono::seconds timeout = kChildTimeout) {
  ChildOutcome out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return out;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return out;
  }
  if (pid == 0) {
    ::close(fds[0]);
    body(fds[1]);
    _exit(0);
  }
  ::close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pid_t r = ::waitpid(pid, &out.status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      out.timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &out.status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  std::istringstream in(text);
  std::string key;
  uint64_t value;
  while (in >> key >> value) out.report[key] = value;
  return out;
}

// The child's own SIGBUS handler: reports where and in which thread the
// fatal access faulted and the counters at that moment, then restores the
// default action so that the retried access kills the child with SIGBUS.
struct FatalSigbusProbe {
  int fd = -1;
  const VmStat* vm = nullptr;
  const FramePool* frames = nullptr;
  const FaultInjectionStore* faults = nullptr;
  uintptr_t lo = 0, hi = 0;  // the page whose access must fail
  pid_t tid = 0;             // the thread that touches it
  volatile uint64_t progress = 0;
};
FatalSigbusProbe g_probe;

void OnFatalSigbus(int, siginfo_t* info, void*) {
  const FatalSigbusProbe& p = g_probe;
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  ReportToParent(p.fd, "sigbus_in_page", addr >= p.lo && addr < p.hi);
  ReportToParent(p.fd, "sigbus_in_toucher", ::gettid() == p.tid);
  ReportToParent(p.fd, "progress", p.progress);
  if (p.vm) {
    ReportToParent(p.fd, "read_errors", p.vm->read_errors.load());
    ReportToParent(p.fd, "checksum_errors", p.vm->checksum_errors.load());
    ReportToParent(p.fd, "hard_limit_faults", p.vm->hard_limit_faults.load());
  }
  if (p.frames) ReportToParent(p.fd, "free_frames", p.frames->free_frames());
  if (p.frames) ReportToParent(p.fd, "frame_limit", p.frames->FramesFitting());
  if (p.faults) ReportToParent(p.fd, "injected_eio", p.faults->fault_counts().eio);
  ::signal(SIGBUS, SIG_DFL);
}

// Installs OnFatalSigbus; call before Space::Open so that a SIGBUS-mode
// Space chains to it for accesses it does not resolve.
void InstallFatalSigbusProbe(int fd) {
  g_probe = FatalSigbusProbe();
  g_probe.fd = fd;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &OnFatalSigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, nullptr);
}

// Arms the probe for page `index` of `region`, touched by this thread.
void ArmProbe(Space& space, Region& region, uint64_t index) {
  g_probe.vm = &ImplOf(space)->node().vmstat();
  g_probe.lo = reinterpret_cast<uintptr_t>(region.data()) + index * kPage;
  g_probe.hi = g_probe.lo + kPage;
  g_probe.tid = ::gettid();
}

// Reads one byte of the page; returns only if the access got data.
uint8_t Touch(Region& region, uint64_t index) {
  return TouchByte(static_cast<uint8_t*>(region.data()) + index * kPage);
}

// Exit codes of a child that failed before the interesting part.
enum ChildExit : int {
  kChildOk = 0,
  kChildOpenFailed = 10,
  kChildMapFailed = 11,
  kChildNoSwappedPage = 12,
  kChildCorruptFailed = 13,
  kChildTouchReturned = 14,
};

class ReliabilityTest : public EngineFixture {};

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

// Parameters of the tests that run under both fault deliveries. SIGBUS
// delivery allocates in its signal handler, which ThreadSanitizer flags
// (as EngineTest.SigbusDeliveryResolvesFaults notes): those cases run in
// the other builds.
constexpr const char* kTsanSigbusSkip = "SIGBUS delivery allocates in its signal handler";
const auto kDeliveries = ::testing::Values(FaultDelivery::kHandlerThreads, FaultDelivery::kSigbus);
std::string DeliveryName(const ::testing::TestParamInfo<FaultDelivery>& info) {
  return info.param == FaultDelivery::kSigbus ? "Sigbus" : "Threads";
}

// ---------------------------------------------------------------------------
// 2. Write errors

class WriteErrorTest : public ReliabilityTest, public ::testing::WithParamInterface<FaultKind> {};

// 10% of write requests fail (seeded), with EIO or as torn writes (half
// the run written, then EIO): no access ever sees wrong data, every page of
// a failed write stays in memory and goes to another slot later, and
// exactly the slots the failed requests covered are marked bad, each with
// one log line naming it.
TEST_P(WriteErrorTest, RandomWriteErrorsLoseNothingAndMarkSlotsBad) {
  LogCapture log;
  std::string error;
  FaultySpace fs =
      OpenFaultySpace(SmallConfig(kBudget, ""), NewSwapFile("a.swap", 8 * kPages), &error);
  ASSERT_TRUE(fs.space) << error;
  ASSERT_NE(fs.faults, nullptr);
  fs.faults->AddRule(FaultRule::AtRandom(FaultOp::kWrite, 0.10, /*seed=*/42, GetParam()));
  auto region = fs.space->Map(kPages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());

  EXPECT_EQ(RunRandomModel(base, Model(3, 60'000, 1234)), 0u);
  // kswapd may still be completing a write: the recorder sees a failure at
  // the I/O, the counter and the log line come after it. Compare them only
  // once reclaim has stopped (CI of 7c235a0: 1097 failed slots and log
  // lines, write_errors read as 1096 a moment before).
  ASSERT_TRUE(SettleReclaim(*fs.space));

  Stats st = fs.space->stats();
  const std::set<uint64_t> failed = fs.recorder->failed_write_slots();
  const uint64_t injected = fs.faults->injected_faults();
  EXPECT_GT(st.pswpout, 2000u) << st.ToText();

  EXPECT_GT(injected, 0u);
  // One failed request fails its whole run of slots: every page in it is
  // one write error and one bad slot, and a bad slot is never used again.
  EXPECT_EQ(st.write_errors, failed.size()) << st.ToText();
  EXPECT_EQ(BadPages(st), failed.size()) << st.ToText();
  EXPECT_GE(st.write_errors, injected);
  EXPECT_EQ(fs.recorder->writes_to_failed_slots(), 0u);
  EXPECT_EQ(st.read_errors, 0u);
  EXPECT_EQ(st.budget_overshoot_pages, 0u);
  // One log line per failed page, naming its slot.
  std::vector<std::string> lines = log.Matching("swap write failed");
  EXPECT_EQ(lines.size(), st.write_errors);
  std::set<uint64_t> logged;
  for (const std::string& l : lines) {
    size_t at = l.find(" slot ");
    ASSERT_NE(at, std::string::npos) << l;
    logged.insert(std::stoull(l.substr(at + 6)));
  }
  EXPECT_EQ(logged, failed);
}

INSTANTIATE_TEST_SUITE_P(Kinds, WriteErrorTest,
                         ::testing::Values(FaultKind::kEio, FaultKind::kShortIo),
                         [](const auto& info) {
                           return info.param == FaultKind::kEio ? "Eio" : "TornWrite";
                         });

// ---------------------------------------------------------------------------
// 3. Read errors

class ReadErrorTest : public ReliabilityTest,
                      public ::testing::WithParamInterface<FaultDelivery> {};

// Every read of one swapped page's slot fails: the other pages (its
// read-ahead neighbours included) read back fine, and the access to it
// gets SIGBUS in the touching thread after the read was retried; the page
// is counted as one read error.
TEST_P(ReadErrorTest, UnreadablePageRaisesSigbusInTheTouchingThread) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  const std::string swap = NewSwapFile("a.swap", 4 * kPages);
  ChildOutcome out = RunInChild([&](int fd) {
    InstallFatalSigbusProbe(fd);
    Config cfg = SmallConfig(kBudget, "");
    cfg.fault_delivery = GetParam();
    std::string error;
    FaultySpace fs = OpenFaultySpace(cfg, swap, &error);
    if (!fs.space) _exit(kChildOpenFailed);
    auto region = fs.space->Map(kPages * kPage);
    if (!region.ok()) _exit(kChildMapFailed);
    uint8_t* base = static_cast<uint8_t*>((*region)->data());
    for (uint64_t i = 0; i < kPages; i++) WritePage(base + i * kPage, i, 1);
    uint64_t bad, slot;
    if (!FindSwappedPage(**region, kPages / 8, &bad, &slot)) _exit(kChildNoSwappedPage);
    fs.faults->AddRule(FaultRule::OnSlots(FaultOp::kRead, {slot}));
    uint64_t others_wrong = 0;
    for (uint64_t i = 0; i < kPages; i++)
      if (i != bad && !CheckPage(base + i * kPage, i, 1)) others_wrong++;
    ReportToParent(fd, "others_wrong", others_wrong);
    ReportToParent(fd, "read_errors_before", fs.space->stats().read_errors);
    ArmProbe(*fs.space, **region, bad);
    g_probe.faults = fs.faults;
    (void)Touch(**region, bad);
    _exit(kChildTouchReturned);
  });
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_TRUE(out.Sigbus()) << out.Describe();
  EXPECT_EQ(out.report["others_wrong"], 0u) << out.Describe();
  EXPECT_EQ(out.report["read_errors_before"], 0u) << out.Describe();
  EXPECT_EQ(out.report["read_errors"], 1u) << out.Describe();
  EXPECT_EQ(out.report["checksum_errors"], 0u) << out.Describe();
  EXPECT_EQ(out.report["sigbus_in_page"], 1u) << out.Describe();
  EXPECT_EQ(out.report["sigbus_in_toucher"], 1u) << out.Describe();
  // The faulting page's read is retried (FaultOptions::read_retries = 2).
  EXPECT_GE(out.report["injected_eio"], 3u) << out.Describe();
}

INSTANTIATE_TEST_SUITE_P(Delivery, ReadErrorTest, kDeliveries, DeliveryName);

// ---------------------------------------------------------------------------
// 4. Bytes changed on disk

struct CorruptionCase {
  const char* name;
  const char* store;  // Config::block_store
  bool checksums;
  bool encrypt;
};

class OnDiskCorruptionTest : public ReliabilityTest,
                             public ::testing::WithParamInterface<CorruptionCase> {};

// One bit of a swapped page's slot is flipped in the swap file behind
// uswap's back. With checksums (or encryption) the swap-in detects it and
// the access gets SIGBUS: the bytes are never returned. The control case,
// checksums off, shows that the flip does reach the engine: the access
// returns the corrupted page.
TEST_P(OnDiskCorruptionTest, FlippedBitIsNeverReturnedAsData) {
  const CorruptionCase c = GetParam();
  const std::string swap = NewSwapFile("a.swap", 4 * kPages);
  constexpr size_t kFlipByte = 1000;
  ChildOutcome out = RunInChild([&](int fd) {
    InstallFatalSigbusProbe(fd);
    Config cfg = SmallConfig(kBudget, swap);
    cfg.block_store = c.store;
    cfg.checksums = c.checksums;
    cfg.encrypt = c.encrypt;
    auto space = Space::Open(cfg);
    if (!space.ok()) _exit(kChildOpenFailed);
    auto region = (*space)->Map(kPages * kPage);
    if (!region.ok()) _exit(kChildMapFailed);
    uint8_t* base = static_cast<uint8_t*>((*region)->data());
    for (uint64_t i = 0; i < kPages; i++) WritePage(base + i * kPage, i, 1);
    uint64_t bad, slot;
    if (!FindSwappedPage(**region, kPages / 8, &bad, &slot)) _exit(kChildNoSwappedPage);
    {
      int f = ::open(swap.c_str(), O_RDWR | O_CLOEXEC);
      uint8_t b;
      const off_t at = static_cast<off_t>(slot * kPage + kFlipByte);
      if (f < 0 || ::pread(f, &b, 1, at) != 1) _exit(kChildCorruptFailed);
      b ^= 0x10;
      if (::pwrite(f, &b, 1, at) != 1 || ::fsync(f) != 0) _exit(kChildCorruptFailed);
      ::close(f);
    }
    ReportToParent(fd, "checksum_errors_before", (*space)->stats().checksum_errors);
    ArmProbe(**space, **region, bad);
    (void)Touch(**region, bad);
    // Only without checksums: what came back?
    std::vector<uint8_t> want(kPage);
    WritePage(want.data(), bad, 1);
    const uint8_t* got = base + bad * kPage;
    ReportToParent(fd, "bytes_differing", CheckCountDiffering(got, want.data(), kPage));
    ReportToParent(fd, "flipped_byte_differs",
                   TouchByte(got + kFlipByte) == (want[kFlipByte] ^ 0x10));
    _exit(kChildTouchReturned);
  });
  ASSERT_FALSE(out.timed_out) << out.Describe();
  if (!c.checksums && !c.encrypt) {
    ASSERT_TRUE(WIFEXITED(out.status) && WEXITSTATUS(out.status) == kChildTouchReturned)
        << out.Describe();
    EXPECT_EQ(out.report["bytes_differing"], 1u) << out.Describe();
    EXPECT_EQ(out.report["flipped_byte_differs"], 1u) << out.Describe();
    return;
  }
  ASSERT_TRUE(out.Sigbus()) << out.Describe();
  EXPECT_EQ(out.report["checksum_errors_before"], 0u) << out.Describe();
  EXPECT_GE(out.report["checksum_errors"], 1u) << out.Describe();
  EXPECT_EQ(out.report["read_errors"], 1u) << out.Describe();
  EXPECT_EQ(out.report["sigbus_in_page"], 1u) << out.Describe();
}

INSTANTIATE_TEST_SUITE_P(Stores, OnDiskCorruptionTest,
                         ::testing::Values(CorruptionCase{"DefaultStore", "", true, false},
                                           CorruptionCase{"FileStore", "file", true, false},
                                           CorruptionCase{"Encrypted", "", true, true},
                                           CorruptionCase{"ControlNoChecksums", "", false, false}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------
// 5. Full swap

// A swap area far smaller than the region. Soft limit (default): the
// workload completes with every byte right; resident memory grows past the
// budget only when reclaim cannot free a frame (swap full), and every page
// past the budget is counted (and logged); no engine thread spins while
// reclaim cannot progress; once a larger area is swapped on, kswapd pulls
// resident memory back under the budget, and with room on swap nothing
// overshoots any more.
TEST_F(ReliabilityTest, FullSwapSoftLimitOvershootsAndCompletes) {
  LogCapture log;
  auto space = OpenSpace(SmallConfig(kBudget, NewSwapFile("small.swap", kSmallSwapSlots + 1)));
  ASSERT_TRUE(space);
  auto region = space->Map(kPages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  // One thread writes every page once, in order: each page is then in RAM
  // or on swap, never both (nothing is read back, nothing rewritten), and
  // the area fills up before anything is charged past the budget.
  for (uint64_t i = 0; i < kPages; i++) WritePage(base + i * kPage, i, 1);
  Stats st;
  ASSERT_TRUE(WaitUntil([&] {
    st = space->stats();
    return st.swap_cache_pages == 0 && st.areas.size() == 1 &&
           st.resident_pages + st.areas[0].inuse_pages == kPages;
  })) << "resident + swapped != written pages\n"
      << st.ToText();
  EXPECT_EQ(st.areas[0].inuse_pages, kSmallSwapSlots) << "swap must be full\n" << st.ToText();
  EXPECT_EQ(st.resident_pages, kPages - kSmallSwapSlots) << st.ToText();
  // Past the budget by exactly what fits nowhere else, and all of it
  // counted. (The counter may exceed resident - budget: a fault-around
  // window charged past the budget counts whole, also when some of its
  // frames are returned unused.)
  EXPECT_GT(st.budget_overshoot_pages, 0u) << st.ToText();
  EXPECT_GE(st.budget_overshoot_pages, st.resident_pages - st.budget_pages) << st.ToText();
  EXPECT_EQ(st.hard_limit_faults, 0u);
  EXPECT_FALSE(log.Matching("RAM budget exceeded").empty());

  for (uint64_t i = 0; i < kPages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
  // Swap is full now; a second region takes the random model.
  auto second = space->Map(kPages * kPage);
  ASSERT_TRUE(second.ok());
  uint8_t* base2 = static_cast<uint8_t*>((*second)->data());
  std::vector<uint32_t> versions;
  EXPECT_EQ(RunRandomModel(base2, Model(2, 20'000, 99), kPage, &versions), 0u);
  for (uint64_t i = 0; i < kPages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
  st = space->stats();
  EXPECT_GT(st.resident_pages, st.budget_pages) << st.ToText();
  EXPECT_GE(st.budget_overshoot_pages, st.resident_pages - st.budget_pages) << st.ToText();
  EXPECT_EQ(st.hard_limit_faults, 0u);

  // Idle now: kswapd and the fault threads must sleep, even though the
  // budget stays exceeded and reclaim cannot make progress.
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the measured idle interval
  getrusage(RUSAGE_SELF, &r1);
  auto us = [](const struct rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000 + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  EXPECT_LT(us(r1) - us(r0), 100'000) << "engine threads busy while idle";

  // Room on swap: kswapd (woken by Swapon) writes the excess out.
  ASSERT_TRUE(space->Swapon(NewSwapFile("big.swap", 8 * kPages)).ok());
  EXPECT_TRUE(WaitUntil([&] {
    st = space->stats();
    return st.resident_pages <= st.budget_pages;
  })) << "kswapd did not bring resident memory back under the budget\n"
      << st.ToText();
  const uint64_t overshoot = st.budget_overshoot_pages;
  for (uint64_t i = 0; i < kPages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
  for (uint64_t i = 0; i < kPages; i++)
    ASSERT_TRUE(CheckVersion(base2 + i * kPage, i, versions[i])) << i;
  st = space->stats();
  EXPECT_EQ(st.budget_overshoot_pages, overshoot) << "overshot with free swap\n" << st.ToText();
  EXPECT_LE(st.resident_pages, st.budget_pages) << st.ToText();
}

class HardLimitTest : public ReliabilityTest,
                      public ::testing::WithParamInterface<FaultDelivery> {};

// Hard limit: when reclaim cannot free a frame the faulting access gets
// SIGBUS (no hang, no spin), and only then: every frame of the budget and
// every slot of the area hold a page by that time.
TEST_P(HardLimitTest, FullSwapFailsTheAccessWithSigbus) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  const std::string swap = NewSwapFile("small.swap", kSmallSwapSlots + 1);
  ChildOutcome out = RunInChild([&](int fd) {
    InstallFatalSigbusProbe(fd);
    Config cfg = SmallConfig(kBudget, swap);
    cfg.hard_limit = true;
    cfg.fault_delivery = GetParam();
    auto space = Space::Open(cfg);
    if (!space.ok()) _exit(kChildOpenFailed);
    auto region = (*space)->Map(kPages * kPage);
    if (!region.ok()) _exit(kChildMapFailed);
    uint8_t* base = static_cast<uint8_t*>((*region)->data());
    g_probe.vm = &ImplOf(**space)->node().vmstat();
    g_probe.frames = &ImplOf(**space)->node().frames();
    g_probe.lo = reinterpret_cast<uintptr_t>(base);
    g_probe.hi = g_probe.lo + kPages * kPage;
    g_probe.tid = ::gettid();
    for (uint64_t i = 0; i < kPages; i++) {
      g_probe.progress = i;
      WritePage(base + i * kPage, i, 1);
    }
    _exit(kChildTouchReturned);
  });
  ASSERT_FALSE(out.timed_out) << out.Describe();
  ASSERT_TRUE(out.Sigbus()) << out.Describe();
  EXPECT_EQ(out.report["hard_limit_faults"], 1u) << out.Describe();
  EXPECT_EQ(out.report["sigbus_in_page"], 1u) << out.Describe();
  EXPECT_EQ(out.report["sigbus_in_toucher"], 1u) << out.Describe();
  // Only a full budget fails an access: one thread writes the pages in
  // order and nothing else touches the region, so when page `progress`
  // fails, pages 0..progress-1 hold data and no other page does (zero pages
  // materialised ahead by fault-around are freed without a slot). Reclaim
  // fails a charge only when it can free no frame at all (not while other
  // reclaimers hold victims), so by then every frame of the budget and
  // every slot of the area hold one of those pages: exactly
  // frame_limit + kSmallSwapSlots of them, where frame_limit is what the
  // budget holds once uswap's own metadata is charged (a little less than
  // kBudget: FramePool).
  EXPECT_EQ(out.report["free_frames"], 0u) << out.Describe();
  EXPECT_LT(out.report["frame_limit"], kBudget) << out.Describe();
  EXPECT_GT(out.report["frame_limit"], kBudget * 9 / 10) << out.Describe();
  EXPECT_EQ(out.report["progress"], out.report["frame_limit"] + kSmallSwapSlots) << out.Describe();
}

INSTANTIATE_TEST_SUITE_P(Delivery, HardLimitTest, kDeliveries, DeliveryName);

// ---------------------------------------------------------------------------
// 6. Encryption

// How many times `needle` occurs in the file at `path`.
size_t CountInFile(const std::string& path, const std::string& needle) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t n = 0;
  for (size_t at = bytes.find(needle); at != std::string::npos; at = bytes.find(needle, at + 1))
    n++;
  return n;
}

// The bytes page `i` holds in the encryption tests: version 1 of the page
// with `pattern` over its first bytes.
std::vector<uint8_t> PatternPage(uint64_t i, const std::string& pattern) {
  std::vector<uint8_t> page(kPage);
  WritePage(page.data(), i, 1);
  std::memcpy(page.data(), pattern.data(), pattern.size());
  return page;
}

// Writes PatternPage(i) into every page i of a region 4x the budget (most
// go out to swap), and returns how often `pattern` occurs in the swap file
// then. Checks every page afterwards.
size_t PatternCopiesOnDisk(Space& space, const std::string& swap, const std::string& pattern) {
  auto region = space.Map(kPages * kPage);
  EXPECT_TRUE(region.ok());
  if (!region.ok()) return 0;
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < kPages; i++)
    FillFrom(base + i * kPage, PatternPage(i, pattern).data(), kPage);
  uint64_t swapped = 0, index, slot;
  for (uint64_t from = 0; FindSwappedPage(**region, from, &index, &slot); from = index + 1)
    swapped++;
  EXPECT_GT(swapped, kPages / 2);
  const size_t found = CountInFile(swap, pattern);
  for (uint64_t i = 0; i < kPages; i++)
    EXPECT_TRUE(CheckEqual(base + i * kPage, PatternPage(i, pattern).data(), kPage)) << i;
  return found;
}

TEST_F(ReliabilityTest, EncryptedSwapPassesTheModelAndHoldsNoPlaintext) {
  const std::string pattern = "uswap-PLAINTEXT!";
  ASSERT_EQ(pattern.size(), 16u);
  {
    // Control: without encryption the pattern is on disk once per page out.
    const std::string swap = NewSwapFile("plain.swap", 4 * kPages);
    auto space = OpenSpace(SmallConfig(kBudget, swap));
    ASSERT_TRUE(space);
    EXPECT_GT(PatternCopiesOnDisk(*space, swap, pattern), kPages / 2);
  }
  const std::string swap = NewSwapFile("secret.swap", 4 * kPages);
  Config cfg = SmallConfig(kBudget, swap);
  cfg.encrypt = true;
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  EXPECT_EQ(PatternCopiesOnDisk(*space, swap, pattern), 0u);
  auto region = space->Map(kPages * kPage);
  ASSERT_TRUE(region.ok());
  EXPECT_EQ(RunRandomModel(static_cast<uint8_t*>((*region)->data()), Model(2, 40'000, 7)), 0u);
  Stats st = space->stats();
  EXPECT_GT(st.pswpin, 0u);
  EXPECT_EQ(st.checksum_errors, 0u);
  EXPECT_EQ(st.read_errors, 0u);
}

// ---------------------------------------------------------------------------
// 7. Teardown hygiene

int ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

// Lines of /proc/self/maps that contain `needle`.
int MapsLinesWith(const std::string& needle) {
  std::ifstream in("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

class HygieneTest : public ReliabilityTest, public ::testing::WithParamInterface<FaultDelivery> {};

// A Space with regions, swapped pages and threads leaves nothing behind:
// fds, threads, mappings and the SIGBUS disposition are as before, and the
// swap file is where it was, the same size, and free to open again.
TEST_P(HygieneTest, DestroyedSpaceLeavesNothingBehind) {
  if (kTsan && GetParam() == FaultDelivery::kSigbus) GTEST_SKIP() << kTsanSigbusSkip;
  const std::string swap = NewSwapFile("a.swap", 4 * kPages);
  struct stat before;
  ASSERT_EQ(::stat(swap.c_str(), &before), 0);
  struct sigaction sigbus_before;
  ASSERT_EQ(::sigaction(SIGBUS, nullptr, &sigbus_before), 0);
  const int fds = CountOpenFds();
  const int threads = ThreadCount();
  const int uring_maps = MapsLinesWith("io_uring");
  {
    Config cfg = SmallConfig(kBudget, swap);
    cfg.fault_delivery = GetParam();
    auto space = OpenSpace(cfg);
    ASSERT_TRUE(space);
    auto a = space->Map(kPages * kPage);
    auto b = space->Map(kBudget * kPage);
    ASSERT_TRUE(a.ok() && b.ok());
    uint8_t* base = static_cast<uint8_t*>((*a)->data());
    for (uint64_t i = 0; i < kPages; i++) WritePage(base + i * kPage, i, 1);
    FillBytes((*b)->data(), 1, kBudget * kPage);
    for (uint64_t i = 0; i < kPages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
    Stats st = space->stats();
    EXPECT_GT(st.pswpin, 0u);
    EXPECT_GT(st.areas.at(0).inuse_pages, 0u);
    EXPECT_GT(MapsLinesWith("uswap-region"), 0);
    EXPECT_GT(ThreadCount(), threads);  // kswapd, and the fault threads
  }
  EXPECT_EQ(CountOpenFds(), fds);
  // A joined thread may take a moment to leave the kernel's thread count.
  for (int i = 0; i < 200 && ThreadCount() != threads; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(ThreadCount(), threads);
  EXPECT_EQ(MapsLinesWith("uswap-region"), 0);
  EXPECT_EQ(MapsLinesWith(swap), 0);
  EXPECT_EQ(MapsLinesWith("io_uring"), uring_maps);
  struct sigaction sigbus_after;
  ASSERT_EQ(::sigaction(SIGBUS, nullptr, &sigbus_after), 0);
  EXPECT_EQ(reinterpret_cast<void*>(sigbus_after.sa_sigaction),
            reinterpret_cast<void*>(sigbus_before.sa_sigaction));
  struct stat after;
  ASSERT_EQ(::stat(swap.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mode, before.st_mode);
  // The flock went with the Space: another holder can take it.
  {
    int f = ::open(swap.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(f, 0);
    EXPECT_EQ(::flock(f, LOCK_EX | LOCK_NB), 0) << std::strerror(errno);
    ::close(f);
  }
  auto again = OpenSpace(SmallConfig(kBudget, swap));
  EXPECT_TRUE(again);
}

INSTANTIATE_TEST_SUITE_P(Delivery, HygieneTest, kDeliveries, DeliveryName);

}  // namespace
}  // namespace uswap::testing
