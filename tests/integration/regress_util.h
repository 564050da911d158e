// Helpers for the audit regression tests (fork_test, pinned_io_test,
// budget_test, ...): child processes with bounded waits, region fillers
// and checkers, a routed test hook, /proc readers and a minimal io_uring.
//
// Region memory: every access from test code goes through a function here
// (or engine_test_util.h's WritePage/CheckPage) whose name starts with
// Fill, Check or Touch; those that access region bytes themselves are
// noinline so that the frame is in every stack. Page contents move between
// threads through the kernel (pread/pwrite on the memfd, UFFDIO_CONTINUE),
// which ThreadSanitizer cannot see; tests/tsan.supp suppresses races by
// these names (uswap::testing::Fill*, Check*, Touch*). Test bodies never
// touch region bytes inline.
//
// Child processes: RunChild() forks, runs the body in a new process group,
// and waits at most the given time (pidfd + poll, no sleeps); a child that
// is still running then is killed with its whole group and the result says
// timed_out. Children report "key value" lines through a pipe
// (ReportToParent, async-signal-safe).
//
// Include this header from exactly one translation unit per test binary:
// under ThreadSanitizer it defines __tsan_on_report, so that a race
// reported inside a child makes the child fail (a child ends with _exit,
// which skips the sanitizer's own exit-code logic).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/test_hook.h"
#include "engine_test_util.h"

#if defined(__SANITIZE_THREAD__)
#define USWAP_REGRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define USWAP_REGRESS_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define USWAP_REGRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USWAP_REGRESS_ASAN 1
#endif
#endif

namespace uswap::testing {

inline constexpr size_t kPage = 4096;

#if defined(USWAP_REGRESS_TSAN)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#if defined(USWAP_REGRESS_ASAN)
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif
inline constexpr bool kSanitized = kTsan || kAsan;

// Why SIGBUS-delivery cases are skipped under ThreadSanitizer (as in
// engine_test.cc and reliability_test.cc): uswap resolves those faults in
// its SIGBUS handler, which takes mutexes and allocates; ThreadSanitizer
// reports every allocation in a signal handler ("signal-unsafe call"),
// although the handler only runs synchronously on an access to region
// memory. The other builds run them.
inline constexpr const char* kTsanSigbusSkip =
    "SIGBUS delivery resolves faults in a signal handler that allocates (ThreadSanitizer "
    "reports that); runs in the other builds";

inline const char* DeliveryName(FaultDelivery d) {
  return d == FaultDelivery::kSigbus ? "Sigbus" : "Threads";
}

// ---------------------------------------------------------------------------
// Region memory: fillers, checkers, touches

// Writes version v of pages first, first+stride, ... < end.
inline void FillPages(uint8_t* base, uint64_t first, uint64_t end, uint32_t v,
                      uint64_t stride = 1) {
  for (uint64_t i = first; i < end; i += stride) WritePage(base + i * kPage, i, v);
}

// The number of pages first, first+stride, ... < end that do not hold
// version v (every word checked).
inline uint64_t CheckPages(const uint8_t* base, uint64_t first, uint64_t end, uint32_t v,
                           uint64_t stride = 1) {
  uint64_t bad = 0;
  for (uint64_t i = first; i < end; i += stride) bad += !CheckPage(base + i * kPage, i, v);
  return bad;
}

// True when the page at p is all zero.
__attribute__((noinline)) inline bool CheckZeroPage(const uint8_t* p) {
  for (size_t k = 0; k < kPage; k++)
    if (p[k] != 0) return false;
  return true;
}

// The number of pages in [first, end) that are all zero.
inline uint64_t CheckZeroPages(const uint8_t* base, uint64_t first, uint64_t end) {
  uint64_t n = 0;
  for (uint64_t i = first; i < end; i++) n += CheckZeroPage(base + i * kPage);
  return n;
}

// Which version in [1, max_version] of page `index` the bytes at p hold;
// 0 when none (or all zero).
inline uint32_t CheckWhichVersion(const uint8_t* p, uint64_t index, uint32_t max_version) {
  for (uint32_t v = 1; v <= max_version; v++)
    if (CheckPage(p, index, v)) return v;
  return 0;
}

// One load from region memory (faults the page in).
__attribute__((noinline)) inline uint8_t TouchRead(const void* p) {
  return *static_cast<const volatile uint8_t*>(p);
}

// read(2) / pread(2) into region memory (the kernel writes the page; under
// ThreadSanitizer the interceptor records a write to the buffer).
__attribute__((noinline)) inline ssize_t FillByRead(int fd, void* dst, size_t len) {
  return ::read(fd, dst, len);
}
__attribute__((noinline)) inline ssize_t FillByPread(int fd, void* dst, size_t len, off_t off) {
  return ::pread(fd, dst, len, off);
}

// ---------------------------------------------------------------------------
// Page-table inspection (tests only; takes the page's block lock)

struct PteSnapshot {
  PageState state = PageState::kNone;
  uint8_t flags = 0;
  uint16_t pins = 0;
  bool has_slot = false;
  unsigned slot_type = 0;
  uint64_t slot = 0;
};

inline PteSnapshot SnapshotPte(Region& region, uint64_t index) {
  MmRegion* mm = ImplOf(region)->mm();
  std::lock_guard l(mm->block_lock(index));  // std::mutex or uswap::Mutex
  const PageEntry& p = mm->pte(index);
  PteSnapshot s;
  s.state = p.state;
  s.flags = p.flags;
  s.pins = mm->pins(index);
  s.has_slot = static_cast<bool>(p.entry());
  if (s.has_slot) {
    s.slot_type = p.entry().type();
    s.slot = p.entry().offset();
  }
  return s;
}

inline std::string Describe(const PteSnapshot& s) {
  static const char* const kStates[] = {"none", "resident", "swapin", "swapped", "poisoned"};
  std::ostringstream o;
  o << kStates[static_cast<int>(s.state)] << " flags=0x" << std::hex << int{s.flags} << std::dec
    << " pins=" << s.pins;
  if (s.has_slot) o << " slot=" << s.slot_type << ":" << s.slot;
  return o.str();
}

// The first page in [from, end) whose entry satisfies pred, or end.
inline uint64_t FindPage(Region& region, uint64_t from, uint64_t end,
                         const std::function<bool(const PteSnapshot&)>& pred) {
  for (uint64_t i = from; i < end; i++)
    if (pred(SnapshotPte(region, i))) return i;
  return end;
}

// The pages in [first, end) (or the whole region) whose entry satisfies pred.
inline uint64_t CountPages(Region& region, uint64_t first, uint64_t end,
                           const std::function<bool(const PteSnapshot&)>& pred) {
  uint64_t n = 0;
  for (uint64_t i = first; i < end; i++) n += pred(SnapshotPte(region, i));
  return n;
}
inline uint64_t CountPages(Region& region, const std::function<bool(const PteSnapshot&)>& pred) {
  return CountPages(region, 0, ImplOf(region)->mm()->pages(), pred);
}

inline uint64_t AreaInuse(const Stats& s) {
  uint64_t n = 0;
  for (const AreaStats& a : s.areas) n += a.inuse_pages;
  return n;
}

// ---------------------------------------------------------------------------
// Child processes

#if defined(USWAP_REGRESS_TSAN)
inline std::atomic<int> g_tsan_reports{0};
#endif

// Ends a child: flushes stdio, exits with `code` (66, ThreadSanitizer's
// own exit code, when a race was reported in this process).
[[noreturn]] inline void ChildExit(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
#if defined(USWAP_REGRESS_TSAN)
  if (g_tsan_reports.load() != 0) _exit(66);
#endif
  _exit(code);
}

// Exit codes a child body uses for "the set-up failed" (anything but 0).
enum ChildCode : int {
  kChildOk = 0,
  kChildSetupFailed = 10,
  kChildOpenFailed = 11,
  kChildMapFailed = 12,
  kChildCheckFailed = 13,
  kChildUnexpected = 14,
};

struct ChildResult {
  bool forked = false;
  bool timed_out = false;
  int status = 0;
  std::chrono::milliseconds elapsed{0};
  std::map<std::string, uint64_t> report;

  bool ExitedWith(int code) const {
    return forked && !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == code;
  }
  bool Ok() const { return ExitedWith(0); }
  bool KilledBy(int sig) const {
    return forked && !timed_out && WIFSIGNALED(status) && WTERMSIG(status) == sig;
  }
  bool Has(const std::string& key) const { return report.count(key) != 0; }
  uint64_t Get(const std::string& key, uint64_t missing = UINT64_MAX) const {
    auto it = report.find(key);
    return it == report.end() ? missing : it->second;
  }
  std::string Describe() const {
    std::ostringstream o;
    if (!forked) o << "fork failed; ";
    if (timed_out) o << "TIMED OUT after " << elapsed.count() << " ms (killed); ";
    if (WIFEXITED(status)) o << "exit " << WEXITSTATUS(status);
    if (WIFSIGNALED(status))
      o << "killed by signal " << WTERMSIG(status) << " (" << strsignal(WTERMSIG(status)) << ")";
    if (WEXITSTATUS(status) == 66 && WIFEXITED(status)) o << " (ThreadSanitizer report)";
    for (const auto& [k, v] : report) o << "; " << k << "=" << v;
    return o.str();
  }
};

// Waits for `pid` (a direct child) at most `timeout`. Returns true and
// sets *status when it ended; false on timeout (the child is left alone).
inline bool WaitChildFor(pid_t pid, int* status, std::chrono::milliseconds timeout,
                         int extra_fd = -1, std::string* extra_out = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  bool extra_open = extra_fd >= 0;
  for (;;) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (pidfd >= 0) ::close(pidfd);
      return false;
    }
    pollfd fds[2];
    int n = 0;
    if (pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    if (extra_open) fds[n++] = {extra_fd, POLLIN, 0};
    // Without a pidfd (old kernel) poll for at most 10 ms between checks.
    int wait_ms = pidfd >= 0 ? static_cast<int>(std::min<int64_t>(left.count(), 1000))
                             : static_cast<int>(std::min<int64_t>(left.count(), 10));
    int rc = ::poll(fds, n, wait_ms);
    if (rc > 0 && extra_open) {
      char buf[4096];
      ssize_t got = ::read(extra_fd, buf, sizeof buf);
      if (got > 0 && extra_out) extra_out->append(buf, static_cast<size_t>(got));
      if (got == 0) extra_open = false;  // EOF: stop polling it (no busy loop)
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return true;
}

// Runs body(report_fd) in a forked child (its own process group) that exits
// with body's return value. Waits at most `timeout`; on timeout the group
// is killed (SIGKILL) and reaped and the result says timed_out.
inline ChildResult RunChild(const std::function<int(int report_fd)>& body,
                            std::chrono::milliseconds timeout) {
  ChildResult out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return out;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return out;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::close(fds[0]);
#if defined(USWAP_REGRESS_TSAN)
    g_tsan_reports.store(0);
#endif
    struct rlimit no_core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // children killed by SIGBUS/SIGSEGV dump no core
    // An exception must end the child here: escaping to gtest, the child
    // would go on to run the rest of the suite.
    int rc = kChildUnexpected;
    try {
      rc = body(fds[1]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
      ReportToParent(fds[1], "exception", 1);
    } catch (...) {
      ReportToParent(fds[1], "exception", 1);
    }
    ChildExit(rc);
  }
  ::setpgid(pid, pid);
  out.forked = true;
  ::close(fds[1]);
  int fl = ::fcntl(fds[0], F_GETFL);
  ::fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
  std::string text;
  if (!WaitChildFor(pid, &out.status, timeout, fds[0], &text)) {
    out.timed_out = true;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &out.status, 0);
  }
  ::kill(-pid, SIGKILL);  // a grandchild left behind must not outlive the test
  out.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
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

// A child's child: fork, run body (exit with its result, via ChildExit),
// wait at most `timeout`; on timeout kill it. Returns the wait status, or
// -1 (and *timed_out) when it had to be killed.
inline int RunGrandchild(const std::function<int()>& body, std::chrono::milliseconds timeout,
                         bool* timed_out) {
  *timed_out = false;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return -2;
  if (pid == 0) {
    int rc = kChildUnexpected;
    try {
      rc = body();
    } catch (...) {
      std::fprintf(stderr, "grandchild: exception\n");
    }
    ChildExit(rc);
  }
  int status = 0;
  if (!WaitChildFor(pid, &status, timeout)) {
    *timed_out = true;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return status;
}

// Polls `cond` every `every` until it holds (true) or `timeout` passed
// (false): for waiting on an observable condition (a counter), never on
// time alone.
template <typename Cond>
bool PollUntil(Cond cond, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    ::poll(nullptr, 0, static_cast<int>(every.count()));
  }
  return true;
}

// Brings the engine to rest: one balance pass on this thread (free frames
// up to the high watermark), then waits (bounded) until kswapd is idle, no
// I/O is in flight (the swap cache is empty: a handler may still finish a
// swap-in after the faulting thread ran on) and the reclaim counters did
// not move over a whole 20 ms interval. Returns false if that never
// happened within `timeout`.
inline bool SettleReclaim(Space& space,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  constexpr auto kInterval = std::chrono::milliseconds(20);
  ImplOf(space)->BalanceOnce();
  auto key = [&] {
    Stats s = space.stats();
    return std::vector<uint64_t>{s.pswpout,      s.pgsteal,        s.pgscan,
                                 s.pgdeactivate, s.kswapd_wakeups, AreaInuse(s),
                                 s.pgfault,      s.resident_pages, s.swap_cache_pages};
  };
  std::vector<uint64_t> last = key();
  ::poll(nullptr, 0, static_cast<int>(kInterval.count()));  // a whole interval first
  return PollUntil(
      [&] {
        // Stable counters alone are not enough: a woken kswapd that has not
        // been scheduled yet for 20 ms changes nothing either.
        if (!ImplOf(space)->KswapdIdle() || space.stats().swap_cache_pages != 0) return false;
        std::vector<uint64_t> now = key();
        bool same = now == last;
        last = now;
        return same;
      },
      timeout, kInterval);
}

// ---------------------------------------------------------------------------
// Test hook routing

// Routes uswap's test hook (base/test_hook.h) to `fn` for the life of the
// object. Declare it BEFORE the Space it observes, so that it is removed
// only after the engine threads that may call it have stopped.
class ScopedTestHook {
 public:
  explicit ScopedTestHook(std::function<void(const char* point)> fn) : fn_(std::move(fn)) {
    SetTestHook(&Trampoline, this);
  }
  ~ScopedTestHook() { SetTestHook(nullptr, nullptr); }
  ScopedTestHook(const ScopedTestHook&) = delete;
  ScopedTestHook& operator=(const ScopedTestHook&) = delete;

 private:
  static void Trampoline(const char* point, void* arg) {
    static_cast<ScopedTestHook*>(arg)->fn_(point);  // never another hook's argument
  }
  std::function<void(const char*)> fn_;
};

// ---------------------------------------------------------------------------
// /proc

// Resident set of this process in bytes (/proc/self/statm, field 2).
inline uint64_t RssBytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

struct TaskInfo {
  pid_t tid = 0;
  std::string comm;
};

// The threads of this process and their names.
inline std::vector<TaskInfo> ListThreads() {
  std::vector<TaskInfo> out;
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    TaskInfo t;
    t.tid = static_cast<pid_t>(std::atoi(e->d_name));
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::getline(in, t.comm);
    out.push_back(t);
  }
  ::closedir(d);
  return out;
}

inline int CountThreadsNamed(const std::string& prefix) {
  int n = 0;
  for (const TaskInfo& t : ListThreads()) n += t.comm.rfind(prefix, 0) == 0;
  return n;
}

// A field of /proc/self/task/TID/status parsed as a number in `base`
// ("voluntary_ctxt_switches", ...); false when the thread is gone or the
// field is missing.
inline bool TaskStatusNumber(pid_t tid, const std::string& field, int base, uint64_t* value) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    *value = std::stoull(line.substr(field.size() + 1), nullptr, base);
    return true;
  }
  return false;
}

// A field of /proc/self/task/TID/status parsed as hex ("SigBlk", ...);
// false when the thread is gone or the field is missing.
inline bool TaskStatusHex(pid_t tid, const std::string& field, uint64_t* value) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    *value = std::stoull(line.substr(field.size() + 1), nullptr, 16);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Files

// Writes `pages` pages to a new file at `path`: page k holds version
// versions[k] of region page `index`.
inline bool WriteVersionsFile(const std::string& path, uint64_t index,
                              const std::vector<uint32_t>& versions) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::vector<uint8_t> buf(kPage);
  bool ok = true;
  for (size_t k = 0; k < versions.size() && ok; k++) {
    WritePage(buf.data(), index, versions[k]);
    ok = ::pwrite(fd, buf.data(), kPage, static_cast<off_t>(k * kPage)) ==
         static_cast<ssize_t>(kPage);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// ---------------------------------------------------------------------------
// A minimal io_uring (raw system calls; liburing is optional in this tree):
// one ring, used by one thread, one request at a time.
class MiniUring {
 public:
  MiniUring() = default;
  ~MiniUring() {
    if (sqes_) ::munmap(sqes_, sqes_size_);
    if (cq_ptr_ && cq_ptr_ != sq_ptr_) ::munmap(cq_ptr_, cq_size_);
    if (sq_ptr_) ::munmap(sq_ptr_, sq_size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MiniUring(const MiniUring&) = delete;
  MiniUring& operator=(const MiniUring&) = delete;

  // 0, or -errno of the failed set-up call.
  int Init(unsigned entries) {
    io_uring_params p;
    std::memset(&p, 0, sizeof p);
    int fd = static_cast<int>(::syscall(__NR_io_uring_setup, entries, &p));
    if (fd < 0) return -errno;
    fd_ = fd;
    sq_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cq_size_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    const bool single = p.features & IORING_FEAT_SINGLE_MMAP;
    if (single) sq_size_ = cq_size_ = std::max(sq_size_, cq_size_);
    void* sq = ::mmap(nullptr, sq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                      IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) return -errno;
    sq_ptr_ = sq;
    if (single) {
      cq_ptr_ = sq_ptr_;
    } else {
      void* cq = ::mmap(nullptr, cq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                        IORING_OFF_CQ_RING);
      if (cq == MAP_FAILED) return -errno;
      cq_ptr_ = cq;
    }
    sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
    void* sqes = ::mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                        IORING_OFF_SQES);
    if (sqes == MAP_FAILED) return -errno;
    sqes_ = static_cast<io_uring_sqe*>(sqes);
    auto* sqb = static_cast<uint8_t*>(sq_ptr_);
    auto* cqb = static_cast<uint8_t*>(cq_ptr_);
    sq_tail_ = reinterpret_cast<unsigned*>(sqb + p.sq_off.tail);
    sq_mask_ = *reinterpret_cast<unsigned*>(sqb + p.sq_off.ring_mask);
    sq_array_ = reinterpret_cast<unsigned*>(sqb + p.sq_off.array);
    cq_head_ = reinterpret_cast<unsigned*>(cqb + p.cq_off.head);
    cq_tail_ = reinterpret_cast<unsigned*>(cqb + p.cq_off.tail);
    cq_mask_ = *reinterpret_cast<unsigned*>(cqb + p.cq_off.ring_mask);
    cqes_ = reinterpret_cast<io_uring_cqe*>(cqb + p.cq_off.cqes);
    return 0;
  }

  // io_uring_register_buffers with one buffer (pins its pages long-term).
  int RegisterBuffer(void* addr, size_t len) {
    iovec iov{addr, len};
    long r = ::syscall(__NR_io_uring_register, fd_, IORING_REGISTER_BUFFERS, &iov, 1);
    return r < 0 ? -errno : 0;
  }
  int UnregisterBuffers() {
    long r = ::syscall(__NR_io_uring_register, fd_, IORING_UNREGISTER_BUFFERS, nullptr, 0);
    return r < 0 ? -errno : 0;
  }

  // One IORING_OP_READ_FIXED of `len` bytes at `off` of `file_fd` into
  // `buf` (inside registered buffer `buf_index`); waits for it. Returns
  // the completion's res (bytes, or -errno).
  int ReadFixed(int file_fd, void* buf, unsigned len, uint64_t off, uint16_t buf_index) {
    const unsigned tail = *sq_tail_;
    const unsigned idx = tail & sq_mask_;
    io_uring_sqe* sqe = &sqes_[idx];
    std::memset(sqe, 0, sizeof *sqe);
    sqe->opcode = IORING_OP_READ_FIXED;
    sqe->fd = file_fd;
    sqe->addr = reinterpret_cast<uint64_t>(buf);
    sqe->len = len;
    sqe->off = off;
    sqe->buf_index = buf_index;
    sqe->user_data = 0x5eed;
    sq_array_[idx] = idx;
    __atomic_store_n(sq_tail_, tail + 1, __ATOMIC_RELEASE);
    long r = ::syscall(__NR_io_uring_enter, fd_, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
    if (r < 0) return -errno;
    for (;;) {
      const unsigned head = __atomic_load_n(cq_head_, __ATOMIC_RELAXED);
      if (head != __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE)) {
        const int res = cqes_[head & cq_mask_].res;
        __atomic_store_n(cq_head_, head + 1, __ATOMIC_RELEASE);
        return res;
      }
      r = ::syscall(__NR_io_uring_enter, fd_, 0, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
      if (r < 0 && errno != EINTR) return -errno;
    }
  }

 private:
  int fd_ = -1;
  void* sq_ptr_ = nullptr;
  void* cq_ptr_ = nullptr;
  size_t sq_size_ = 0, cq_size_ = 0, sqes_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
};

}  // namespace uswap::testing

#if defined(USWAP_REGRESS_TSAN)
// Called by ThreadSanitizer for every report it prints (not for suppressed
// ones): counted so that ChildExit fails a child that raced.
extern "C" __attribute__((used)) void __tsan_on_report(const void*) {
  uswap::testing::g_tsan_reports.fetch_add(1);
}
#endif
