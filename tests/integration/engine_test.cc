// Behaviour of the paging engine through the public API.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "base/test_hook.h"
#include "engine_test_util.h"
#include "regress_util.h"

namespace uswap::testing {
namespace {

constexpr size_t kPage = 4096;

class EngineTest : public EngineFixture {
 protected:
  // A Space whose budget holds `pages` twice over, the compressed tier off
  // (every swap-in reads the disk), and a region of `pages` written with
  // version 1 and paged out, all of it on swap, for the readahead tests.
  struct PagedOut {
    std::unique_ptr<Space> space;
    std::unique_ptr<Region> region;
    uint8_t* base = nullptr;
  };
  void OpenPagedOut(uint64_t pages, unsigned stream_window, PagedOut* out) {
    Config cfg = SmallConfig(2 * pages, NewSwapFile("a.swap", 4096));
    cfg.compress = "off";
    cfg.stream_readahead_pages = stream_window;
    out->space = OpenSpace(cfg);
    ASSERT_TRUE(out->space);
    auto region = out->space->Map(pages * kPage);
    ASSERT_TRUE(region.ok());
    out->region = std::move(*region);
    out->base = static_cast<uint8_t*>(out->region->data());
    for (uint64_t i = 0; i < pages; i++) WritePage(out->base + i * kPage, i, 1);
    ASSERT_TRUE(out->region->PageOut(0, pages * kPage).ok());
    ASSERT_TRUE(SettleReclaim(*out->space));
  }
};

uint64_t AreaInuse(const Space& s) {
  uint64_t n = 0;
  for (const AreaStats& a : s.stats().areas) n += a.inuse_pages;
  return n;
}

TEST_F(EngineTest, OpenRejectsBadConfig) {
  Config cfg;
  cfg.ram_budget_bytes = 16 * kPage;  // below the minimum
  auto s = Space::Open(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("too small"), std::string::npos) << s.status().ToString();

  cfg = SmallConfig(256, dir_.File("missing.swap"));
  s = Space::Open(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("missing.swap"), std::string::npos) << s.status().ToString();

  cfg = SmallConfig(256, "");
  cfg.reclaim_policy = "no-such-policy";
  s = Space::Open(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().IsInvalidArgument());

  for (unsigned bad : {4u, 1025u}) {  // below readahead_pages (8), above 1024
    cfg = SmallConfig(256, "");
    cfg.stream_readahead_pages = bad;
    s = Space::Open(cfg);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_TRUE(s.status().IsInvalidArgument());
    EXPECT_NE(s.status().message().find("stream_readahead_pages"), std::string::npos);
  }
}

// A sequential read through swapped-out pages is one stream: its window
// doubles up to stream_readahead_pages, spanning page-table blocks (64
// pages) when larger than one, and every page of a window is mapped at the
// swap-in, so the stream takes one major fault per window and no minor
// fault beyond its start. The same read with a window of one block takes
// about twice the major faults. (The budget holds the whole region, so
// that reclaim takes nothing from the stream's windows.)
TEST_F(EngineTest, SequentialStreamReadsWindowsAcrossBlocks) {
  const uint64_t pages = 2048;
  uint64_t majors[2] = {0, 0};
  const unsigned windows[2] = {128, 64};
  for (int k = 0; k < 2; k++) {
    PagedOut p;
    ASSERT_NO_FATAL_FAILURE(OpenPagedOut(pages, windows[k], &p));
    auto& space = p.space;
    Region* region = p.region.get();
    uint8_t* base = p.base;
    // Every page is on swap: no page is found that is not.
    ASSERT_EQ(FindPage(*region, 0, pages,
                       [](const PteSnapshot& p) { return p.state != PageState::kSwapped; }),
              pages);
    const Stats before = space->stats();
    for (uint64_t i = 0; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
    const Stats after = space->stats();
    majors[k] = after.pgmajfault - before.pgmajfault;
    EXPECT_EQ(after.pswpin - before.pswpin, pages) << windows[k];
    EXPECT_EQ(after.readahead_pages - before.readahead_pages, pages - majors[k]) << windows[k];
    // The first fault reads a random-access window, unmapped but for the
    // faulting page; the stream's first minor fault maps the rest of it.
    EXPECT_LE(after.pgminorfault - before.pgminorfault, 1u) << windows[k];
    // A few faults while the window grows, then one per window.
    EXPECT_LE(majors[k], 3 + pages / windows[k]) << windows[k];
    EXPECT_GE(majors[k], pages / windows[k]) << windows[k];
  }
  EXPECT_GE(majors[1], majors[0] + pages / 128 - 3);
}

// Scans that descend, or skip pages, stream too (cf. the kernel's
// swap_vma_ra_win): CPython frees a list from its end, and a collector
// visiting objects larger than a page by their headers skips pages. Each
// scan reads 2048 swapped pages; a page-by-page scan would take 2048 (or
// 1536) major faults.
TEST_F(EngineTest, DescendingAndStridedScansStream) {
  const uint64_t pages = 2048;
  struct Scan {
    const char* name;
    bool down;
    uint64_t skip;  // every skip-th page is not touched (0: none)
  };
  for (const Scan& scan :
       {Scan{"down", true, 0}, Scan{"down, skipping", true, 4}, Scan{"up, skipping", false, 4}}) {
    PagedOut p;
    ASSERT_NO_FATAL_FAILURE(OpenPagedOut(pages, 128, &p));
    auto& space = p.space;
    uint8_t* base = p.base;
    const Stats before = space->stats();
    uint64_t touched = 0;
    for (uint64_t k = 0; k < pages; k++) {
      const uint64_t i = scan.down ? pages - 1 - k : k;
      if (scan.skip && i % scan.skip == 1) continue;
      ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << scan.name << " " << i;
      touched++;
    }
    const Stats after = space->stats();
    const uint64_t majors = after.pgmajfault - before.pgmajfault;
    // A few faults while the window grows, then one per 128-page window.
    EXPECT_LE(majors, 8 + pages / 128) << scan.name;
    EXPECT_LE(after.pgminorfault - before.pgminorfault, 2u) << scan.name;
    EXPECT_GE(after.pswpin - before.pswpin, touched) << scan.name;
    for (uint64_t i = 0; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
  }
}

TEST_F(EngineTest, NewMemoryIsZeroAndZeroPagesTakeNoSlots) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 4096)));
  ASSERT_TRUE(space);
  auto region = space->Map(1024 * kPage);  // 4x the budget
  ASSERT_TRUE(region.ok());
  const uint8_t* p = static_cast<const uint8_t*>((*region)->data());
  for (size_t i = 0; i < (*region)->size(); i += kPage) ASSERT_TRUE(CheckAllZero(p + i)) << i;
  Stats st = space->stats();
  EXPECT_GT(st.zero_page_faults, 0u);
  EXPECT_EQ(st.pswpout, 0u);
  EXPECT_GT(st.zero_drops, 0u);
  EXPECT_EQ(AreaInuse(*space), 0u);
  EXPECT_EQ(st.budget_overshoot_pages, 0u);
  EXPECT_LE(st.resident_pages, st.budget_pages);
  EXPECT_LE(ImplOf(**region)->mm()->ResidentBytes(), st.budget_pages * kPage);
}

TEST_F(EngineTest, PagesSurviveSwapOutAndIn) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 4096)));
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 1);
  Stats mid = space->stats();
  EXPECT_GT(mid.pswpout, 0u);
  for (uint64_t i = 0; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
  Stats end = space->stats();
  EXPECT_GT(end.pswpin, 0u);
  EXPECT_GT(end.pgmajfault, 0u);
  // Every page written out went through a slot write: after the writes at
  // most budget pages were resident (no overshoot), every other one is on
  // swap.
  EXPECT_EQ(end.budget_overshoot_pages, 0u);
  EXPECT_GE(mid.pswpout, pages - end.budget_pages);
  // Unmapping returns every slot and frame.
  region->reset();
  EXPECT_EQ(AreaInuse(*space), 0u);
  EXPECT_EQ(space->stats().resident_pages, 0u);
}

TEST_F(EngineTest, CleanPagesAreDroppedWithoutIo) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 4096)));
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 7);
  for (int pass = 0; pass < 2; pass++)
    for (uint64_t i = 0; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 7)) << i;
  Stats st = space->stats();
  // The read passes evict pages that are clean copies of their slots.
  EXPECT_GT(st.clean_drops, pages / 2);
  // A write to a clean page takes a write-protect fault and loses the slot.
  uint64_t wp_before = st.wp_faults;
  for (uint64_t i = pages - 8; i < pages; i++) WritePage(base + i * kPage, i, 8);
  for (uint64_t i = pages - 8; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 8));
  EXPECT_GT(space->stats().wp_faults, wp_before);
  for (uint64_t i = 0; i < pages - 8; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 7)) << i;
}

TEST_F(EngineTest, PinnedPagesAreNeverSwappedOut) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 4096)));
  ASSERT_TRUE(space);
  auto region = space->Map(1024 * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < 32; i++) WritePage(base + i * kPage, i, 3);
  ASSERT_TRUE((*region)->Pin(0, 32 * kPage).ok());
  for (int pass = 0; pass < 3; pass++)
    for (uint64_t i = 32; i < 1024; i++) WritePage(base + i * kPage, i, pass);
  MmRegion* mm = ImplOf(**region)->mm();
  for (uint64_t i = 0; i < 32; i++) {
    std::lock_guard l(mm->block_lock(i));
    EXPECT_EQ(mm->pte(i).state, PageState::kResident) << i;
  }
  for (uint64_t i = 0; i < 32; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 3));
  EXPECT_TRUE((*region)->Unpin(0, 32 * kPage).ok());
  EXPECT_FALSE((*region)->Unpin(0, kPage).ok());  // not pinned any more
  EXPECT_FALSE((*region)->Pin((*region)->size(), 1).ok());
}

TEST_F(EngineTest, ReadSyscallIntoSwappedOutBuffer) {
  auto space = OpenSpace(SmallConfig(256, NewSwapFile("a.swap", 4096)));
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 1);
  // Pages 0..15 are swapped out by now; the kernel writes into them.
  std::string src = dir_.File("data");
  {
    std::vector<uint8_t> buf(16 * kPage);
    for (uint64_t i = 0; i < 16; i++) WritePage(buf.data() + i * kPage, 5000 + i, 9);
    int fd = ::open(src.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, buf.data(), buf.size()), static_cast<ssize_t>(buf.size()));
    ::close(fd);
  }
  MmRegion* mm = ImplOf(**region)->mm();
  {
    std::lock_guard l(mm->block_lock(0));
    EXPECT_EQ(mm->pte(0).state, PageState::kSwapped);
  }
  int fd = ::open(src.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(FillFromFd(fd, base, 16 * kPage), static_cast<ssize_t>(16 * kPage));
  ::close(fd);
  for (uint64_t i = 0; i < 16; i++) EXPECT_TRUE(CheckPage(base + i * kPage, 5000 + i, 9)) << i;
  for (uint64_t i = 16; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 1)) << i;
}

// The acceptance model test: a region 4x the budget, a million random reads
// and writes of whole pages by several threads, every read checked against
// a model (every word), then every page. The kernel-measured resident
// memory (the memfd's allocated blocks) never exceeds the budget: frames
// are charged before a page materialises and uncharged only after its
// memory was freed, and with plenty of swap nothing is charged past the
// budget. It is measured after every reclaim round ("reclaim_done") and at
// the end.
TEST_F(EngineTest, RandomAccessMatchesModelWithinBudget) {
  const uint64_t budget = 512, pages = 4 * budget;
  auto space = OpenSpace(SmallConfig(budget, NewSwapFile("a.swap", pages * 2)));
  ASSERT_TRUE(space);
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());

  struct Ctx {
    MmRegion* mm = nullptr;
    uint64_t limit = 0;  // bytes
    std::atomic<uint64_t> checks{0}, over{0}, max_resident{0};
  } ctx;
  ctx.mm = ImplOf(**region)->mm();
  ctx.limit = budget * kPage;
  SetTestHook(
      [](const char* point, void* arg) {
        if (std::strcmp(point, "reclaim_done") != 0) return;
        auto* c = static_cast<Ctx*>(arg);
        const uint64_t r = c->mm->ResidentBytes();
        c->checks++;
        if (r > c->limit) c->over++;
        uint64_t m = c->max_resident.load();
        while (r > m && !c->max_resident.compare_exchange_weak(m, r)) {
        }
      },
      &ctx);
  const unsigned kThreads = 3;
  const uint64_t kAccessesPerThread = 1'000'000 / kThreads + 1;
  const uint64_t mismatches = RunRandomModel(base, {.pages = pages,
                                                    .budget = budget,
                                                    .threads = kThreads,
                                                    .accesses_per_thread = kAccessesPerThread,
                                                    .seed = 1234,
                                                    .window_step = 20000});
  ClearTestHook(*space);
  Stats st = space->stats();
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(ctx.checks.load(), 10u) << "the reclaim_done point never ran";
  EXPECT_EQ(ctx.over.load(), 0u) << "max " << ctx.max_resident.load() / kPage << " pages\n"
                                 << st.ToText();
  EXPECT_LE(ctx.mm->ResidentBytes(), budget * kPage) << st.ToText();
  EXPECT_LE(st.resident_pages, budget) << st.ToText();
  EXPECT_EQ(st.budget_overshoot_pages, 0u);
  EXPECT_GT(st.pswpout, 0u);
  EXPECT_GT(st.pswpin, 0u);
}

TEST_F(EngineTest, SwapoffReadsEverythingBack) {
  std::string a = NewSwapFile("a.swap", 4096);
  auto space = OpenSpace(SmallConfig(1024, a));
  ASSERT_TRUE(space);
  const uint64_t pages = 768;  // fits in the budget once read back
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 2);
  // Push everything out: a second region churns the budget.
  auto other = space->Map(2048 * kPage);
  ASSERT_TRUE(other.ok());
  uint8_t* ob = static_cast<uint8_t*>((*other)->data());
  for (uint64_t i = 0; i < 2048; i++) WritePage(ob + i * kPage, 100000 + i, 1);
  other->reset();
  EXPECT_GT(AreaInuse(*space), 0u);
  Status st = space->Swapoff(a);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(space->stats().areas.empty());
  for (uint64_t i = 0; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 2)) << i;
  // The area can come back.
  ASSERT_TRUE(space->Swapon(a).ok());
}

TEST_F(EngineTest, SwapoffMovesPagesToAnotherAreaWhenBudgetIsShort) {
  std::string a = NewSwapFile("a.swap", 4096);
  std::string b = NewSwapFile("b.swap", 4096);
  Config cfg = SmallConfig(256, a);
  cfg.swap_areas[0].priority = 10;
  cfg.swap_areas.push_back({b, 1});
  auto space = OpenSpace(cfg);
  ASSERT_TRUE(space);
  const uint64_t pages = 1024;
  auto region = space->Map(pages * kPage);
  ASSERT_TRUE(region.ok());
  uint8_t* base = static_cast<uint8_t*>((*region)->data());
  for (uint64_t i = 0; i < pages; i++) WritePage(base + i * kPage, i, 4);
  Status st = space->Swapoff(a);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Stats s = space->stats();
  ASSERT_EQ(s.areas.size(), 1u);
  EXPECT_GT(s.areas[0].inuse_pages, 0u);
  for (uint64_t i = 0; i < pages; i++) ASSERT_TRUE(CheckPage(base + i * kPage, i, 4)) << i;
}

TEST_F(EngineTest, SigbusDeliveryResolvesFaults) {
#if defined(__SANITIZE_THREAD__)
  // The SIGBUS handler allocates; ThreadSanitizer flags any allocation in a
  // signal handler, although this one only ever runs synchronously on an
  // access to region memory (never inside libc). Runs in the other builds.
  GTEST_SKIP() << "SIGBUS delivery allocates in its signal handler (see options.h)";
#endif
  // In a child: the SIGBUS handler is process-wide.
  std::string a = NewSwapFile("a.swap", 4096);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Config cfg = SmallConfig(256, a);
    cfg.fault_delivery = FaultDelivery::kSigbus;
    auto s = Space::Open(cfg);
    if (!s.ok()) _exit(10);
    auto r = (*s)->Map(1024 * kPage);
    if (!r.ok()) _exit(11);
    uint8_t* base = static_cast<uint8_t*>((*r)->data());
    for (uint64_t i = 0; i < 1024; i++) WritePage(base + i * kPage, i, 1);
    for (uint64_t i = 0; i < 1024; i++)
      if (!CheckPage(base + i * kPage, i, 1)) _exit(12);
    if ((*s)->stats().pswpin == 0) _exit(13);
    r->reset();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace uswap::testing
