// End-to-end tests of `uswap bench` through the CLI binary: results are
// clean (0 mismatches) and the kernel engine leaves no swap area, cgroup or
// file behind - after a normal run and after SIGINT in the middle of one -
// and gives the machine its zswap setting back.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kernel_zswap.h"
#include "memory_cgroup.h"
#include "swap_file.h"

namespace uswap::bench {
namespace {

// A scratch directory for TMPDIR; removed (with anything left in it) at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/var/tmp/uswap-bench-test-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    for (const std::string& f : Files()) ::unlink((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
      }
      ::closedir(d);
    }
    return out;
  }

 private:
  std::string path_;
};

// The bench run as a child process with its stdout in a pipe.
class BenchProcess {
 public:
  BenchProcess(const std::vector<std::string>& args, const std::string& tmpdir) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::setenv("TMPDIR", tmpdir.c_str(), 1);
      std::vector<char*> argv{const_cast<char*>(USWAP_CLI_PATH), const_cast<char*>("bench")};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(USWAP_CLI_PATH, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~BenchProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  pid_t pid() const { return pid_; }

  // Waits up to `timeout` for the exit; the exit code, 128+signal, or -1 on timeout.
  int Wait(std::chrono::seconds timeout = std::chrono::seconds(300)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      Drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  const std::string& Output() {
    Drain();
    return output_;
  }

 private:
  void Drain() {
    char buf[4096];
    ::fcntl(out_, F_SETFL, O_NONBLOCK);
    ssize_t n;
    while ((n = ::read(out_, buf, sizeof buf)) > 0) output_.append(buf, static_cast<size_t>(n));
  }
  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
};

// Polls `cond` every 20 ms until it holds (true) or `timeout` passes (false).
template <typename Cond>
bool WaitFor(Cond cond, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Why this machine cannot run the uswap engine at all, or "" when it can:
// no userfaultfd this process could open (a user-mode-only one would do:
// the bench touches region memory from user space only), or a kernel that
// lacks a feature the engine requires (Userfaultfd::Open's list; POISON
// comes with Linux 6.6, as does UFFDIO_CONTINUE_MODE_WP). Decided with the
// raw system calls, not through uswap: a regression that makes Space::Open
// fail on a capable machine must fail these tests, not skip them.
std::string MissingUserfaultfd() {
#ifndef UFFD_FEATURE_POISON
  constexpr uint64_t UFFD_FEATURE_POISON = 1 << 14;
#endif
  const int flags = O_CLOEXEC | O_NONBLOCK;
  int fd = static_cast<int>(::syscall(SYS_userfaultfd, flags));
  if (fd < 0 && errno == EPERM) {
    int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      fd = ::ioctl(dev, _IO(0xAA, 0x00) /* USERFAULTFD_IOC_NEW */, flags);
      ::close(dev);
    }
    if (fd < 0) fd = static_cast<int>(::syscall(SYS_userfaultfd, flags | 1 /* USER_MODE_ONLY */));
  }
  if (fd < 0) return std::string("no userfaultfd: ") + std::strerror(errno);
  uffdio_api api{};
  api.api = UFFD_API;
  const int rc = ::ioctl(fd, UFFDIO_API, &api);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return std::string("UFFDIO_API: ") + std::strerror(err);
  const struct {
    uint64_t bit;
    const char* name;
  } need[] = {{UFFD_FEATURE_MISSING_SHMEM, "UFFD_FEATURE_MISSING_SHMEM"},
              {UFFD_FEATURE_MINOR_SHMEM, "UFFD_FEATURE_MINOR_SHMEM"},
              {UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "UFFD_FEATURE_WP_HUGETLBFS_SHMEM"},
              {UFFD_FEATURE_POISON, "UFFD_FEATURE_POISON"}};
  for (const auto& f : need)
    if (!(api.features & f.bit)) return std::string("the kernel lacks ") + f.name;
  return "";
}

// The resident size of process `pid`'s uswap region mappings (the memfds'
// user views, "uswap-region-N"), in bytes, from /proc/<pid>/smaps.
uint64_t RegionRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool in_region = false;
  uint64_t kb = 0;
  while (std::getline(in, line)) {
    // Mapping headers start with the address range; fields with a name.
    const bool header = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
                        line.find('-') < line.find(' ');
    if (header) {
      in_region = line.find("uswap-region-") != std::string::npos;
    } else if (in_region && line.rfind("Rss:", 0) == 0) {
      kb += std::strtoull(line.c_str() + 4, nullptr, 10);
    }
  }
  return kb * 1024;
}

// The JSON number after "key": in `line`; -1 when absent.
double JsonNumber(const std::string& line, const std::string& key) {
  size_t at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::strtod(line.c_str() + at + key.size() + 3, nullptr);
}

TEST(BenchCliTest, RamRandWriteHasNoMismatches) {
  TempDir dir;
  BenchProcess bench({"--engine", "ram", "--pattern", "rand-write", "--region", "64M", "--ops",
                      "100000", "--json"},
                     dir.path());
  ASSERT_EQ(bench.Wait(), 0) << bench.Output();
  const std::string& out = bench.Output();
  EXPECT_NE(out.find("\"engine\":\"ram\""), std::string::npos) << out;
  EXPECT_EQ(JsonNumber(out, "mismatches"), 0) << out;
  EXPECT_EQ(JsonNumber(out, "accesses"), 100000) << out;
  EXPECT_EQ(JsonNumber(out, "verified_pages"), 16384) << out;
  EXPECT_TRUE(dir.Files().empty());
}

TEST(BenchCliTest, TablePrintsEveryPatternOfAList) {
  TempDir dir;
  BenchProcess bench({"--engine", "ram", "--pattern", "seq-read,zipf-read,mixed", "--region", "8M",
                      "--threads", "1,2"},
                     dir.path());
  ASSERT_EQ(bench.Wait(), 0) << bench.Output();
  for (const char* p : {"seq-read", "zipf-read", "mixed"}) {
    EXPECT_NE(bench.Output().find(p), std::string::npos) << p;
  }
}

// --plot draws every pattern and thread count of the run with gnuplot.
TEST(BenchCliTest, PlotDrawsEveryCase) {
  TempDir dir;
  const std::string svg = dir.path() + "/bench.svg";
  BenchProcess bench({"--engine", "ram", "--pattern", "seq-read,rand-read", "--region", "8M",
                      "--threads", "1,2", "--plot", svg},
                     dir.path());
  ASSERT_EQ(bench.Wait(), 0) << bench.Output();
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos) << "not an SVG: " << text.substr(0, 200);
  for (const char* label :
       {"seq-read/1t", "seq-read/2t", "rand-read/1t", "rand-read/2t", "ram-p99", "region 8 MiB"})
    EXPECT_NE(text.find(label), std::string::npos) << label << " not drawn";
  BenchProcess bad({"--engine", "ram", "--region", "8M", "--plot", dir.path() + "/bench.pdf"},
                   dir.path());
  EXPECT_EQ(bad.Wait(), 2) << bad.Output();
}

TEST(BenchCliTest, BadUsageExitsWith2) {
  TempDir dir;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--engine", "ram"},
        std::vector<std::string>{"--engine", "ram", "--region", "64M", "--pattern", "nope"},
        std::vector<std::string>{"--engine", "kernel", "--region", "64M"},
        std::vector<std::string>{"--region", "64M", "--ram", "8M", "--zipf", "1.5"},
        std::vector<std::string>{"--region", "64M", "--ram", "8M", "--inactive-percent", "0"},
        std::vector<std::string>{"--region", "64M", "--ram", "8M", "--inactive-percent", "91"},
        // --equal-memory is about kernel+zswap's pool only.
        std::vector<std::string>{"--engine", "kernel", "--region", "64M", "--ram", "8M",
                                 "--equal-memory"},
        // --kernel-zswap changes the kernel engine: it must be there.
        std::vector<std::string>{"--engine", "uswap,ram", "--region", "64M", "--ram", "8M",
                                 "--kernel-zswap"},
        std::vector<std::string>{"--engine", "kernel", "--region", "64M", "--ram", "8M",
                                 "--kernel-zswap="},
        // --equal-memory chooses the limit itself.
        std::vector<std::string>{"--engine", "kernel", "--region", "64M", "--ram", "8M",
                                 "--kernel-zswap", "--equal-memory", "--kernel-limit", "16M"},
        std::vector<std::string>{"--engine", "kernel+zswap,nope", "--region", "64M", "--ram",
                                 "8M"}}) {
    BenchProcess bench(args, dir.path());
    EXPECT_EQ(bench.Wait(), 2) << args[1] << " " << args.back();
  }
}

TEST(BenchCliTest, UswapEngineRandWriteHasNoMismatches) {
  const std::string missing = MissingUserfaultfd();
  if (!missing.empty()) GTEST_SKIP() << missing;
  TempDir dir;
  BenchProcess bench({"--engine", "uswap", "--pattern", "rand-write", "--region", "64M", "--ram",
                      "16M", "--ops", "20000", "--json"},
                     dir.path());
  int rc = bench.Wait();
  const std::string& out = bench.Output();
  ASSERT_EQ(out.find("\"skipped\":true"), std::string::npos)
      << "the uswap engine skipped on a machine that has userfaultfd: " << out;
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(JsonNumber(out, "mismatches"), 0) << out;
  EXPECT_GT(JsonNumber(out, "fill_pswpout"), 0) << out;
  EXPECT_TRUE(dir.Files().empty()) << "the default swap file must be removed";
}

TEST(BenchCliTest, UswapEngineRemovesItsSwapFileOnSigint) {
  const std::string missing = MissingUserfaultfd();
  if (!missing.empty()) GTEST_SKIP() << missing;
  TempDir dir;
  BenchProcess bench({"--engine", "uswap", "--pattern", "rand-read", "--region", "64M", "--ram",
                      "16M", "--seconds", "300", "--json"},
                     dir.path());
  ASSERT_TRUE(WaitFor([&] { return !dir.Files().empty(); }, std::chrono::seconds(60)))
      << "no swap file appeared: " << bench.Output();
  // Into the fill: the region is mapped and a quarter of the RAM budget of
  // it is resident, so the Space is open and its fault threads at work.
  const bool filling = WaitFor(
      [&] {
        return RegionRss(bench.pid()) >= (4u << 20) ||
               bench.Output().find("\"skipped\":true") != std::string::npos;
      },
      std::chrono::seconds(120));
  ASSERT_EQ(bench.Output().find("\"skipped\":true"), std::string::npos)
      << "the uswap engine skipped on a machine that has userfaultfd: " << bench.Output();
  ASSERT_TRUE(filling) << "the uswap engine never filled its region: " << bench.Output();
  ::kill(bench.pid(), SIGINT);
  int rc = bench.Wait(std::chrono::seconds(60));
  EXPECT_EQ(rc, 130) << bench.Output();
  EXPECT_TRUE(dir.Files().empty()) << "the default swap file must be removed";
}

#ifndef USWAP_BENCH_SANITIZED
// What the kernel engine of bench process `pid` sets up, and the checks and
// last-resort cleanup around it (a failing test must not leave swap on).
class KernelTrace {
 public:
  KernelTrace(const TempDir& dir, pid_t pid) {
    const std::string tag = "uswap-bench-" + std::to_string(pid);
    swap_ = dir.path() + "/" + tag + ".kswap";
    if (auto h = FindMemoryHierarchy()) cgroup_ = h->root + "/" + tag;
  }
  ~KernelTrace() {
    if (KernelSwapActive(swap_)) ::swapoff(swap_.c_str());
    ::rmdir(cgroup_.c_str());
  }
  bool SwapOn() const { return KernelSwapActive(swap_); }
  bool CgroupExists() const { return ::access(cgroup_.c_str(), F_OK) == 0; }

 private:
  std::string swap_, cgroup_;
};

bool CanRunKernelEngine() { return ::geteuid() == 0 && FindMemoryHierarchy().has_value(); }

TEST(BenchCliTest, KernelEngineRunsCleanAndTearsDown) {
  if (!CanRunKernelEngine()) GTEST_SKIP() << "needs root and a memory cgroup";
  TempDir dir;
  BenchProcess bench({"--engine", "kernel", "--pattern", "rand-read", "--region", "64M", "--ram",
                      "16M", "--ops", "20000", "--json"},
                     dir.path());
  KernelTrace trace(dir, bench.pid());
  ASSERT_EQ(bench.Wait(), 0) << bench.Output();
  const std::string& out = bench.Output();
  EXPECT_EQ(JsonNumber(out, "mismatches"), 0) << out;
  EXPECT_GT(JsonNumber(out, "fill_pswpout"), 0) << "a 64M fill at 16M must swap: " << out;
  EXPECT_GT(JsonNumber(out, "major_faults"), 0) << out;
  EXPECT_FALSE(trace.SwapOn());
  EXPECT_FALSE(trace.CgroupExists());
  EXPECT_TRUE(dir.Files().empty());
}

TEST(BenchCliTest, KernelEngineTearsDownOnSigint) {
  if (!CanRunKernelEngine()) GTEST_SKIP() << "needs root and a memory cgroup";
  TempDir dir;
  BenchProcess bench({"--engine", "kernel", "--pattern", "rand-read", "--region", "64M", "--ram",
                      "16M", "--seconds", "300", "--json"},
                     dir.path());
  KernelTrace trace(dir, bench.pid());
  ASSERT_TRUE(
      WaitFor([&] { return trace.SwapOn() && trace.CgroupExists(); }, std::chrono::seconds(60)))
      << "the kernel engine never started";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // mid fill or run
  ::kill(bench.pid(), SIGINT);
  EXPECT_EQ(bench.Wait(std::chrono::seconds(60)), 130) << bench.Output();
  EXPECT_FALSE(trace.SwapOn());
  EXPECT_FALSE(trace.CgroupExists());
  EXPECT_TRUE(dir.Files().empty());
}

// The JSON line of `engine` in a --json output ("" when absent).
std::string EngineLine(const std::string& out, const std::string& engine) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.find("\"engine\":\"" + engine + "\"") != std::string::npos) return line;
  return "";
}

// Both engines' whole-process peak is measured the same way (a memory
// cgroup's peak); --kernel-limit gives the kernel another limit than --ram;
// uswap's observe-only cgroup is removed afterwards.
TEST(BenchCliTest, PeakMemoryIsMeasuredForBothEngines) {
  if (!CanRunKernelEngine()) GTEST_SKIP() << "needs root and a memory cgroup";
  TempDir dir;
  BenchProcess bench({"--engine", "uswap,kernel", "--pattern", "rand-read", "--region", "64M",
                      "--ram", "16M", "--kernel-limit", "24M", "--ops", "20000", "--json"},
                     dir.path());
  KernelTrace trace(dir, bench.pid());
  const std::string observe =
      FindMemoryHierarchy()->root + "/uswap-bench-" + std::to_string(bench.pid()) + "-uswap";
  ASSERT_EQ(bench.Wait(), 0) << bench.Output();
  const std::string& out = bench.Output();
  const std::string u = EngineLine(out, "uswap"), k = EngineLine(out, "kernel");
  ASSERT_FALSE(u.empty() || k.empty()) << out;
  constexpr double kMiB = 1 << 20;
  // uswap filled 64 MiB through a 16 MiB budget: its peak holds the budget's
  // frames, and stays far below the region.
  EXPECT_GT(JsonNumber(u, "peak_bytes"), 8 * kMiB) << u;
  EXPECT_LT(JsonNumber(u, "peak_bytes"), 48 * kMiB) << u;
  // The kernel's cgroup was limited to 24 MiB, not to --ram's 16 MiB.
  EXPECT_GT(JsonNumber(k, "peak_bytes"), 16 * kMiB) << k;
  EXPECT_LE(JsonNumber(k, "peak_bytes"), 24 * kMiB) << k;
  EXPECT_NE(::access(observe.c_str(), F_OK), 0) << observe << " was left behind";
  EXPECT_FALSE(trace.CgroupExists());
  EXPECT_TRUE(dir.Files().empty());
}
// The zswap module parameter `name` ("" when the kernel has no zswap).
std::string ZswapParam(const std::string& name) {
  std::ifstream in(ZswapPaths().params + "/" + name);
  std::string v;
  std::getline(in, v);
  return v;
}

void SetZswapParam(const std::string& name, const std::string& value) {
  std::ofstream(ZswapPaths().params + "/" + name) << value;
}

// The machine's zswap setting when the test started; put back by the
// destructor if the bench did not (a failing test must not leave zswap
// switched), after the test has checked that the bench did.
class ZswapSetting {
 public:
  ZswapSetting() : enabled_(ZswapParam("enabled")), compressor_(ZswapParam("compressor")) {}
  ~ZswapSetting() {
    if (ZswapParam("enabled") != enabled_) SetZswapParam("enabled", enabled_);
    if (ZswapParam("compressor") != compressor_) SetZswapParam("compressor", compressor_);
  }
  const std::string& enabled() const { return enabled_; }
  const std::string& compressor() const { return compressor_; }

 private:
  const std::string enabled_, compressor_;
};

bool CanRunKernelZswap() { return CanRunKernelEngine() && KernelZswap::Available(); }

// A short kernel+zswap run: the pool's peak and ratio are reported (the
// fill alone pushes ~32 MiB of compressible pages into it), and zswap is
// back as it was.
TEST(BenchCliTest, KernelZswapReportsItsPoolAndRestoresZswap) {
  if (!CanRunKernelZswap()) GTEST_SKIP() << "needs root, a memory cgroup and zswap";
  ZswapSetting before;
  TempDir dir;
  BenchProcess bench({"--engine", "kernel", "--kernel-zswap", "--pattern", "rand-read", "--region",
                      "64M", "--ram", "32M", "--data", "compressible", "--runs", "1", "--json"},
                     dir.path());
  KernelTrace trace(dir, bench.pid());
  ASSERT_EQ(bench.Wait(std::chrono::seconds(60)), 0) << bench.Output();
  const std::string k = EngineLine(bench.Output(), "kernel+zswap");
  ASSERT_FALSE(k.empty()) << bench.Output();
  EXPECT_EQ(JsonNumber(k, "mismatches"), 0) << k;
  EXPECT_GT(JsonNumber(k, "zswap_pool_peak_bytes"), 0) << k;
  EXPECT_LT(JsonNumber(k, "zswap_pool_peak_bytes"), 32 << 20) << "64M at 32M, ~3:1: " << k;
  EXPECT_GT(JsonNumber(k, "zswap_ratio"), 1.5) << k;
  EXPECT_GT(JsonNumber(k, "fill_zswpout"), 0) << k;
  EXPECT_NE(k.find("\"zswap_compressor\":\""), std::string::npos) << k;
  EXPECT_EQ(ZswapParam("enabled"), before.enabled());
  EXPECT_EQ(ZswapParam("compressor"), before.compressor());
  EXPECT_FALSE(trace.SwapOn());
  EXPECT_FALSE(trace.CgroupExists());
  EXPECT_TRUE(dir.Files().empty());
}

// --equal-memory: the reported run's limit + pool peak is about the budget.
TEST(BenchCliTest, KernelZswapEqualMemoryFitsLimitAndPoolInTheBudget) {
  if (!CanRunKernelZswap()) GTEST_SKIP() << "needs root, a memory cgroup and zswap";
  ZswapSetting before;
  TempDir dir;
  BenchProcess bench(
      {"--engine", "kernel", "--kernel-zswap", "--equal-memory", "--pattern", "rand-read",
       "--region", "64M", "--ram", "32M", "--data", "compressible", "--json"},
      dir.path());
  KernelTrace trace(dir, bench.pid());
  ASSERT_EQ(bench.Wait(std::chrono::seconds(60)), 0) << bench.Output();
  const std::string k = EngineLine(bench.Output(), "kernel+zswap");
  ASSERT_NE(k.find("\"equal_memory\":true"), std::string::npos) << k;
  constexpr double kBudget = 32 << 20;
  EXPECT_EQ(JsonNumber(k, "equal_memory_budget_bytes"), kBudget) << k;
  EXPECT_LT(JsonNumber(k, "limit_bytes"), kBudget) << k;
  EXPECT_GT(JsonNumber(k, "limit_bytes"), 0) << k;
  // The solve is a linear model of one calibration run: within 15%.
  EXPECT_NEAR(JsonNumber(k, "equal_memory_total_bytes"), kBudget, 0.15 * kBudget) << k;
  EXPECT_EQ(JsonNumber(k, "mismatches"), 0) << k;
  EXPECT_EQ(ZswapParam("enabled"), before.enabled());
  EXPECT_FALSE(trace.CgroupExists());
  EXPECT_TRUE(dir.Files().empty());
}

// Interrupted mid-run, both kernel engines give zswap back: kernel+zswap
// had switched it on, kernel had forced it off (here from a machine that
// had it on).
TEST(BenchCliTest, KernelEnginesRestoreZswapOnSigint) {
  if (!CanRunKernelZswap()) GTEST_SKIP() << "needs root, a memory cgroup and zswap";
  ZswapSetting before;
  for (const std::string machine : {"N", "Y"}) {
    SetZswapParam("enabled", machine);
    const std::string engine = machine == "N" ? "kernel+zswap" : "kernel";
    const std::string during = machine == "N" ? "Y" : "N";
    TempDir dir;
    BenchProcess bench({"--engine", engine, "--pattern", "rand-read", "--region", "64M", "--ram",
                        "16M", "--seconds", "300", "--json"},
                       dir.path());
    KernelTrace trace(dir, bench.pid());
    ASSERT_TRUE(
        WaitFor([&] { return trace.SwapOn() && trace.CgroupExists(); }, std::chrono::seconds(60)))
        << engine << " never started";
    EXPECT_EQ(ZswapParam("enabled"), during) << engine;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // mid fill or run
    ::kill(bench.pid(), SIGINT);
    EXPECT_EQ(bench.Wait(std::chrono::seconds(60)), 130) << bench.Output();
    EXPECT_EQ(ZswapParam("enabled"), machine) << engine << " did not restore zswap";
    EXPECT_EQ(ZswapParam("compressor"), before.compressor()) << engine;
    EXPECT_FALSE(trace.SwapOn());
    EXPECT_FALSE(trace.CgroupExists());
  }
}
#endif  // USWAP_BENCH_SANITIZED

}  // namespace
}  // namespace uswap::bench
