// Tests of SwapDevices: swapon checks, priorities and round-robin, two-phase
// swapoff, the flock against other processes and the kernel-in-use check.
// Areas are small files in a mkdtemp directory, removed at the end.

#include "swap/swap_devices.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/unique_fd.h"
#include "io/mem_store.h"
#include "swap/swap_header.h"

namespace uswap {
namespace {

constexpr size_t kPage = 4096;

struct AreaSpec {
  uint32_t pages = 16;
  size_t page_size = kPage;
  std::vector<uint32_t> bad;
  mode_t mode = 0600;
  bool sparse = false;  // only the header page is written: the rest is a hole
  bool magic = true;    // false: no swap header at all

  AreaSpec& Pages(uint32_t n) {
    pages = n;
    return *this;
  }
  AreaSpec& PageSize(size_t n) {
    page_size = n;
    return *this;
  }
  AreaSpec& Mode(mode_t m) {
    mode = m;
    return *this;
  }
  AreaSpec& Sparse() {
    sparse = true;
    return *this;
  }
  AreaSpec& NoHeader() {
    magic = false;
    return *this;
  }
};

Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

class SwapDevicesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("uswap_devices_XXXXXX"); }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static std::string MakeTempDir(const char* pattern) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + pattern;
    char* d = ::mkdtemp(templ.data());
    EXPECT_NE(d, nullptr) << std::strerror(errno);
    return templ;
  }

  // Writes an area file the way mkswap + fallocate would make it.
  std::string MakeArea(const std::string& name, const AreaSpec& spec = {}) {
    const std::string path = dir_ + "/" + name;
    UniqueFd fd(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd.valid()) << path << ": " << std::strerror(errno);
    const off_t bytes = static_cast<off_t>(spec.pages) * static_cast<off_t>(spec.page_size);
    if (spec.sparse) {
      EXPECT_EQ(::ftruncate(fd.get(), bytes), 0);
    } else {
      EXPECT_EQ(::posix_fallocate(fd.get(), 0, bytes), 0);
    }
    if (spec.magic) {
      SwapHeader h;
      h.page_size = spec.page_size;
      h.last_page = spec.pages - 1;
      h.bad_pages = spec.bad;
      std::vector<uint8_t> page = h.Serialize();
      EXPECT_EQ(::pwrite(fd.get(), page.data(), page.size(), 0), static_cast<ssize_t>(page.size()));
    }
    EXPECT_EQ(::fchmod(fd.get(), spec.mode), 0);
    return path;
  }

  unsigned MustSwapon(SwapDevices& d, const std::string& path,
                      int prio = SwapDevices::kNoPriority) {
    Result<unsigned> t = d.Swapon(path, prio);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : kMaxSwapFiles;
  }

  // Fails the test unless `r` failed with `code` and a message naming `path`
  // and containing `reason`.
  template <typename R>
  void ExpectRefused(const R& r, Status::Code code, const std::string& path,
                     const std::string& reason) {
    const Status st = StatusOf(r);
    ASSERT_FALSE(st.ok()) << path << " was accepted";
    EXPECT_EQ(st.code(), code) << st.ToString();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find(reason), std::string::npos) << st.ToString();
  }

  std::string dir_;
};

TEST_F(SwapDevicesTest, DefaultPrioritiesDescendInSwaponOrder) {
  SwapDevices d(kPage);
  for (const char* n : {"a", "b", "c"}) MustSwapon(d, MakeArea(n));
  std::vector<SwapDeviceInfo> list = d.List();
  ASSERT_EQ(list.size(), 3u);
  for (unsigned i = 0; i < 3; ++i) {
    EXPECT_EQ(list[i].type, i);
    EXPECT_EQ(list[i].prio, -1 - static_cast<int>(i));
    EXPECT_EQ(list[i].pages, 16u);
    EXPECT_EQ(list[i].usable_pages, 15u);
    EXPECT_EQ(list[i].page_size, kPage);
    EXPECT_TRUE(list[i].writable);
    EXPECT_FALSE(list[i].store.empty());
  }
  EXPECT_EQ(d.free_slots(), 45u);
  // The highest default (-1, the first area) is used first.
  auto e = d.Allocate();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type(), 0u);
}

TEST_F(SwapDevicesTest, HighestPriorityFirstThenRoundRobinAmongEquals) {
  SwapDevices d(kPage);
  const unsigned a = MustSwapon(d, MakeArea("a"), 5);
  const unsigned b = MustSwapon(d, MakeArea("b"), 5);
  const unsigned c = MustSwapon(d, MakeArea("c"), 10);
  const unsigned low = MustSwapon(d, MakeArea("low"));  // -1
  for (int i = 0; i < 15; ++i) {
    auto e = d.Allocate();
    ASSERT_TRUE(e);
    ASSERT_EQ(e->type(), c) << i;
  }
  // c is full: a and b take turns.
  std::map<unsigned, int> got;
  unsigned prev = kMaxSwapFiles;
  for (int i = 0; i < 30; ++i) {
    auto e = d.Allocate();
    ASSERT_TRUE(e);
    ASSERT_TRUE(e->type() == a || e->type() == b) << e->type();
    EXPECT_NE(e->type(), prev) << "round-robin at " << i;
    prev = e->type();
    ++got[e->type()];
  }
  EXPECT_EQ(got[a], 15);
  EXPECT_EQ(got[b], 15);
  auto e = d.Allocate();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type(), low);
  // A freed slot in the best area is used again before lower ones.
  ASSERT_TRUE(*d.Free(SwapEntry(c, 7)));
  EXPECT_EQ(d.Allocate(), SwapEntry(c, 7));
}

TEST_F(SwapDevicesTest, AllocateUpToAndEntryOperations) {
  SwapDevices d(kPage);
  const unsigned t = MustSwapon(d, MakeArea("a", AreaSpec().Pages(600)));
  auto r = d.AllocateUpTo(64);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first.type(), t);
  EXPECT_EQ(r->second, 64u);
  const SwapEntry e = r->first;
  EXPECT_TRUE(d.Duplicate(e).ok());
  EXPECT_EQ(d.area(t)->Count(e.offset()), 2);
  EXPECT_FALSE(*d.Free(e));
  EXPECT_TRUE(*d.Free(e));
  EXPECT_FALSE(d.Free(e).ok());
  EXPECT_TRUE(d.MarkBad(SwapEntry(t, e.offset() + 1)).ok());
  EXPECT_EQ(d.List()[0].bad_pages, 1u);
  // Entries naming no active area.
  EXPECT_TRUE(d.Duplicate(SwapEntry(7, 1)).IsInvalidArgument());
  EXPECT_TRUE(d.Free(SwapEntry(7, 1)).status().IsInvalidArgument());
  EXPECT_TRUE(d.MarkBad(SwapEntry(7, 1)).IsInvalidArgument());
  EXPECT_EQ(d.store(7), nullptr);
  EXPECT_EQ(d.area(7), nullptr);
  EXPECT_EQ(d.area(kMaxSwapFiles + 3), nullptr);
}

TEST_F(SwapDevicesTest, StoreReadsAndWritesTheAreaFile) {
  SwapDevices d(kPage);
  const std::string path = MakeArea("a");
  const unsigned t = MustSwapon(d, path);
  BlockStore* store = d.store(t);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->nr_slots(), 16u);
  void* buf = nullptr;
  ASSERT_EQ(::posix_memalign(&buf, kPage, kPage), 0);
  std::unique_ptr<void, decltype(&std::free)> own(buf, &std::free);
  std::memset(buf, 0x5a, kPage);
  ASSERT_TRUE(store->Write(3, 1, buf).ok());
  ASSERT_TRUE(store->Sync().ok());
  std::memset(buf, 0, kPage);
  ASSERT_TRUE(store->Read(3, 1, buf).ok());
  EXPECT_EQ(static_cast<unsigned char*>(buf)[kPage - 1], 0x5a);
  // The header survived: the area can be opened again after swapoff.
  ASSERT_TRUE(d.FinishSwapoff(t).ok());
  MustSwapon(d, path);
}

TEST_F(SwapDevicesTest, StoreWrapperSeesTheStoresOfLaterSwapons) {
  SwapDevices d(kPage);
  const unsigned before = MustSwapon(d, MakeArea("before"));
  BlockStore* opened = nullptr;
  BlockStore* wrapper = nullptr;
  d.SetStoreWrapper([&](std::unique_ptr<BlockStore> store) -> std::unique_ptr<BlockStore> {
    opened = store.get();
    auto w = std::make_unique<MemStore>(store->page_size(), store->nr_slots());
    wrapper = w.get();
    return w;
  });
  const unsigned wrapped = MustSwapon(d, MakeArea("wrapped"));
  d.SetStoreWrapper(nullptr);
  const unsigned after = MustSwapon(d, MakeArea("after"));
  ASSERT_NE(opened, nullptr);
  EXPECT_EQ(d.store(wrapped), wrapper);
  EXPECT_EQ(d.store(wrapped)->name(), "mem");
  EXPECT_NE(d.store(before)->name(), "mem");
  EXPECT_NE(d.store(after)->name(), "mem");
}

TEST_F(SwapDevicesTest, SwaponRefusesWhatCannotBeUsed) {
  SwapDevices d(kPage);
  const std::string missing = dir_ + "/missing";
  ExpectRefused(d.Swapon(missing), Status::Code::kNotFound, missing, "No such file");

  const std::string zeros = MakeArea("zeros", AreaSpec().NoHeader());
  ExpectRefused(d.Swapon(zeros), Status::Code::kCorruption, zeros, "not a valid swap area");

  const std::string target = MakeArea("target");
  const std::string link = dir_ + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ExpectRefused(d.Swapon(link), Status::Code::kInvalidArgument, link, "is a symlink");

  const std::string sparse = MakeArea("sparse", AreaSpec().Pages(64).Sparse());
  ExpectRefused(d.Swapon(sparse), Status::Code::kInvalidArgument, sparse, "holes");

  const std::string big_pages = MakeArea("p8k", AreaSpec().PageSize(8192));
  ExpectRefused(d.Swapon(big_pages), Status::Code::kInvalidArgument, big_pages, "page size 8192");

  ExpectRefused(d.Swapon(target, 40000), Status::Code::kInvalidArgument, target, "priority");
  ExpectRefused(d.Swapon(dir_), Status::Code::kIOError, dir_, "directory");

  EXPECT_TRUE(d.List().empty()) << "no refused area entered the table";
  MustSwapon(d, target);  // the target itself is fine
}

TEST_F(SwapDevicesTest, SameAreaTwiceIsBusyWhateverItsName) {
  SwapDevices d(kPage);
  const std::string path = MakeArea("a");
  const unsigned t = MustSwapon(d, path);
  ExpectRefused(d.Swapon(path), Status::Code::kBusy, path, "already active");
  const std::string hard = dir_ + "/hardlink";
  ASSERT_EQ(::link(path.c_str(), hard.c_str()), 0);
  ExpectRefused(d.Swapon(hard), Status::Code::kBusy, hard, "already active");
  const std::string dotted = dir_ + "/./a";
  Result<unsigned> found = d.Find(dotted);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, t);
  EXPECT_EQ(*d.Find(hard), t);
  EXPECT_TRUE(d.Find(MakeArea("other")).status().IsNotFound());
  EXPECT_TRUE(d.Find(dir_ + "/missing").status().IsNotFound());
}

TEST_F(SwapDevicesTest, AtMost32Areas) {
  SwapDevices d(kPage);
  for (unsigned i = 0; i < kMaxSwapFiles; ++i) {
    ASSERT_EQ(MustSwapon(d, MakeArea("a" + std::to_string(i))), i);
  }
  const std::string extra = MakeArea("extra");
  ExpectRefused(d.Swapon(extra), Status::Code::kNoSpace, extra, "too many swap areas");
  // A freed type is reused.
  ASSERT_TRUE(d.FinishSwapoff(5).ok());
  EXPECT_EQ(MustSwapon(d, extra), 5u);
}

TEST_F(SwapDevicesTest, WarnsWhenOthersCanReadTheArea) {
  std::mutex mu;
  std::vector<std::string> warnings;
  SetLogSink([&](LogLevel level, const std::string& line) {
    std::lock_guard<std::mutex> l(mu);
    if (level == LogLevel::kWarning) warnings.push_back(line);
  });
  SwapDevices d(kPage);
  const std::string open = MakeArea("open", AreaSpec().Mode(0644));
  MustSwapon(d, MakeArea("private"));
  EXPECT_TRUE(warnings.empty());
  MustSwapon(d, open);
  SetLogSink(nullptr);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(open), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("0644"), std::string::npos) << warnings[0];
}

TEST_F(SwapDevicesTest, TwoPhaseSwapoff) {
  SwapDevices d(kPage);
  const std::string path_a = MakeArea("a");
  const unsigned a = MustSwapon(d, path_a, 10);
  const unsigned b = MustSwapon(d, MakeArea("b"), 1);
  auto e = d.Allocate();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->type(), a);

  ASSERT_TRUE(d.BeginSwapoff(a).ok());
  EXPECT_FALSE(d.List()[0].writable);
  EXPECT_EQ(d.free_slots(), 15u) << "only b counts";
  for (int i = 0; i < 15; ++i) ASSERT_EQ(d.Allocate()->type(), b);
  EXPECT_FALSE(d.Allocate()) << "a takes no new slots while being swapped off";
  ASSERT_TRUE(d.CancelSwapoff(a).ok());
  auto again = d.Allocate();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->type(), a);

  ASSERT_TRUE(d.BeginSwapoff(a).ok());
  ExpectRefused(d.FinishSwapoff(a), Status::Code::kBusy, path_a, "2 slots still in use");
  ASSERT_TRUE(*d.Free(*e));
  ASSERT_TRUE(*d.Free(*again));
  ASSERT_TRUE(d.FinishSwapoff(a).ok());
  EXPECT_EQ(d.area(a), nullptr);
  EXPECT_EQ(d.store(a), nullptr);
  EXPECT_TRUE(d.Find(path_a).status().IsNotFound());
  EXPECT_TRUE(d.FinishSwapoff(a).IsNotFound());
  EXPECT_TRUE(d.BeginSwapoff(a).IsNotFound());
  EXPECT_TRUE(d.CancelSwapoff(a).IsNotFound());

  // The flock went with the area: another table (as another process would)
  // can open the file now.
  SwapDevices other(kPage);
  MustSwapon(other, path_a);
}

TEST_F(SwapDevicesTest, AreaHeldByAnotherTableIsBusy) {
  const std::string path = MakeArea("a");
  SwapDevices first(kPage);
  MustSwapon(first, path);
  SwapDevices second(kPage);
  ExpectRefused(second.Swapon(path), Status::Code::kBusy, path, "held by another uswap process");
}

// Waits for (and if need be kills) a forked child, whatever the test's path.
struct ChildGuard {
  pid_t pid = -1;
  UniqueFd release;  // closing it lets the child exit
  ~ChildGuard() { Reap(); }
  int Reap() {
    if (pid <= 0) return -1;
    release.Reset();
    int status = 0;
    for (int i = 0; i < 200; ++i) {  // up to 10 s
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return status;
      }
      ::usleep(50 * 1000);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
};

TEST_F(SwapDevicesTest, AreaHeldByAnotherProcessIsBusyUntilItExits) {
  const std::string path = MakeArea("a");
  int ready[2], release[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(release, O_CLOEXEC), 0);
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  ChildGuard child;
  child.release.Reset(release[1]);
  UniqueFd release_r(release[0]);

  child.pid = ::fork();
  ASSERT_GE(child.pid, 0) << std::strerror(errno);
  if (child.pid == 0) {
    ::alarm(20);  // never outlive a stuck parent
    ready_r.Reset();
    child.release.Reset();
    char c;
    {
      SwapDevices d(kPage);
      c = d.Swapon(path).ok() ? 'y' : 'n';
      if (::write(ready_w.get(), &c, 1) != 1) ::_exit(2);
      // Holds the area until the parent closes its end (or dies).
      while (::read(release_r.get(), &c, 1) > 0) {
      }
    }
    ::_exit(0);
  }
  ready_w.Reset();
  release_r.Reset();
  char c = 0;
  ASSERT_EQ(::read(ready_r.get(), &c, 1), 1);
  ASSERT_EQ(c, 'y') << "the child could not swapon " << path;

  SwapDevices d(kPage);
  ExpectRefused(d.Swapon(path), Status::Code::kBusy, path, "held by another uswap process");
  const int status = child.Reap();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  MustSwapon(d, path);
}

// Turns a file into real kernel swap for the test's duration.
struct KernelSwapGuard {
  std::string path;
  bool on = false;
  ~KernelSwapGuard() {
    if (on && ::swapoff(path.c_str()) != 0) {
      ADD_FAILURE() << "swapoff " << path << ": " << std::strerror(errno);
    }
  }
};

TEST_F(SwapDevicesTest, AreaTheKernelSwapsOnIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for swapon(2)";
  // A space in the name: /proc/swaps shows it as \040.
  const std::string path = MakeArea("kernel swap", AreaSpec().Pages(64));
  KernelSwapGuard guard{path};
  if (::swapon(path.c_str(), 0) != 0) {
    if (errno == EPERM) GTEST_SKIP() << "swapon(2) not permitted here (no CAP_SYS_ADMIN)";
    FAIL() << "swapon(2) " << path << ": " << std::strerror(errno);
  }
  guard.on = true;
  SwapDevices d(kPage);
  ExpectRefused(d.Swapon(path), Status::Code::kBusy, path, "/proc/swaps");
  EXPECT_TRUE(d.List().empty());
}

}  // namespace
}  // namespace uswap
