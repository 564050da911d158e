// End-to-end tests of `uswap bench` through the CLI binary: results are
// clean (0 mismatches) and the kernel engine leaves no swap area, cgroup or
// file behind - after a normal run and after SIGINT in the middle of one.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

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
#ifdef USWAP_BENCH_TSAN
      // TSan's deadlock detector aborts (a CHECK, not a report) when one
      // thread holds more than 64 mutexes, as the engine's reclaim does when
      // it isolates a batch of frames (MemoryNode::RefillInactiveLocked).
      // Data races are still reported.
      std::string tsan = std::getenv("TSAN_OPTIONS") ? std::getenv("TSAN_OPTIONS") : "";
      ::setenv("TSAN_OPTIONS", (tsan + " detect_deadlocks=0").c_str(), 1);
#endif
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

TEST(BenchCliTest, BadUsageExitsWith2) {
  TempDir dir;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--engine", "ram"},
        std::vector<std::string>{"--engine", "ram", "--region", "64M", "--pattern", "nope"},
        std::vector<std::string>{"--engine", "kernel", "--region", "64M"},
        std::vector<std::string>{"--region", "64M", "--ram", "8M", "--zipf", "1.5"}}) {
    BenchProcess bench(args, dir.path());
    EXPECT_EQ(bench.Wait(), 2) << args[1];
  }
}

TEST(BenchCliTest, UswapEngineRandWriteHasNoMismatches) {
  TempDir dir;
  BenchProcess bench({"--engine", "uswap", "--pattern", "rand-write", "--region", "64M", "--ram",
                      "16M", "--ops", "20000", "--json"},
                     dir.path());
  int rc = bench.Wait();
  const std::string& out = bench.Output();
  if (out.find("\"skipped\":true") != std::string::npos) GTEST_SKIP() << out;
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(JsonNumber(out, "mismatches"), 0) << out;
  EXPECT_GT(JsonNumber(out, "fill_pswpout"), 0) << out;
  EXPECT_TRUE(dir.Files().empty()) << "the default swap file must be removed";
}

TEST(BenchCliTest, UswapEngineRemovesItsSwapFileOnSigint) {
  TempDir dir;
  BenchProcess bench({"--engine", "uswap", "--pattern", "rand-read", "--region", "64M", "--ram",
                      "16M", "--seconds", "300", "--json"},
                     dir.path());
  WaitFor([&] { return !dir.Files().empty(); }, std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // into the fill
  ::kill(bench.pid(), SIGINT);
  int rc = bench.Wait(std::chrono::seconds(60));
  if (bench.Output().find("\"skipped\":true") != std::string::npos) GTEST_SKIP();
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
#endif  // USWAP_BENCH_SANITIZED

}  // namespace
}  // namespace uswap::bench
