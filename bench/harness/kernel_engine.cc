// The kernel engine: the workload on ordinary anonymous memory in a forked
// child that a memory cgroup limits to the RAM budget, with a swap file of
// its own switched on for the run.
//
// Set-up, in order (each step an RAII guard, undone in reverse on every
// path, including SIGINT/SIGTERM, which make the parent's wait fail with
// EINTR): swap file (create, fallocate, 0600, SWAPSPACE2 header) -> swapon
// at the highest priority (so this file, not any other active swap, takes
// the pages) -> memory cgroup -> child process. The child joins the cgroup
// before it maps or touches anything, runs RunWorkload() and writes its
// WorkloadResult to a pipe. Teardown: SIGKILL + reap the child (its memory
// and swap slots are freed with it) -> rmdir the cgroup -> swapoff (quick:
// no slot is in use any more) -> remove the file.
//
// Counters: major faults from the child's getrusage(); pages swapped in/out
// from the cgroup's memory.stat when it counts them (cgroup v2 on newer
// kernels), else from /proc/vmstat (system-wide: fine on a quiet machine).
//
// zswap (kernel_zswap.h): the first guard of all, so it is undone last. The
// kernel engine runs with zswap forced off; kernel+zswap with it on, and the
// parent samples /proc/meminfo's pool every kZswapSampleMs while it waits
// for the child (ZswapPoolTracker): the pool's peak, the pages it held then,
// and the child's swapped-out bytes then.
//
// --equal-memory (kernel+zswap): a v1 cgroup does not charge the pool, so
// the same limit gives the kernel the pool on top of uswap's budget. The
// first round of each pattern and thread count is a calibration run at the
// budget; SolveEqualMemory() turns its pool per swapped-out byte into the
// limit L at which L + pool = budget, and the run at L is the one reported
// (later rounds reuse L). When no L fits, the calibration run is reported,
// saying so. cgroup v2 charges the pool: the budget already is equal memory.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <type_traits>
#include <utility>

#include "base/unique_fd.h"
#include "engine.h"
#include "kernel_zswap.h"
#include "memory_cgroup.h"
#include "swap_file.h"

namespace uswap::bench {
namespace {

static_assert(std::is_trivially_copyable_v<WorkloadResult>, "sent through a pipe");

constexpr int kSwapPriority = 32767;  // the highest: used before any other active area
// How often the parent samples the zswap pool: a 64 MiB fill takes ~0.1 s.
constexpr int kZswapSampleMs = 10;
constexpr int kPollMs = 100;  // otherwise

// The peak of the kernel's zswap pool over one child's run, sampled by the
// parent; figures are deltas from the pool at construction.
class ZswapPoolTracker {
 public:
  explicit ZswapPoolTracker(const MemoryCgroup& cg)
      : cg_(cg), start_(ReadZswapSample().value_or(ZswapSample{})) {}

  void Sample() {
    std::optional<ZswapSample> s = ReadZswapSample();
    if (!s) return;
    const uint64_t pool = Delta(s->pool_bytes, start_.pool_bytes);
    if (pool <= peak_.pool_peak_bytes) return;
    peak_.pool_peak_bytes = pool;
    peak_.stored_bytes = Delta(s->stored_bytes, start_.stored_bytes);
    // The cgroup's own count when it has swap accounting, else the machine's
    // swap in use (zswap's pages hold slots too), else what the pool holds.
    uint64_t swapped =
        cg_.SwappedBytes().value_or(Delta(s->swap_used_bytes, start_.swap_used_bytes));
    peak_.swapped_bytes = swapped ? swapped : peak_.stored_bytes;
    peak_.usage_bytes = cg_.UsageBytes().value_or(0);
  }
  const ZswapFigures& peak() const { return peak_; }

 private:
  static uint64_t Delta(uint64_t now, uint64_t start) { return now > start ? now - start : 0; }
  const MemoryCgroup& cg_;
  const ZswapSample start_;
  ZswapFigures peak_;
};

// A forked child, killed (SIGKILL) and reaped by the destructor unless Wait()
// reaped it first.
class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reaps the child (retrying on EINTR); returns its wait status.
  int Wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

// `oom_kills`: the cgroup's OOM kill count (nullopt: not counted).
std::string DescribeExit(int status, std::optional<uint64_t> oom_kills) {
  char buf[160];
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGKILL && oom_kills && *oom_kills > 0) {
      std::snprintf(buf, sizeof buf, "killed by its cgroup's OOM killer (oom_kill %llu)",
                    static_cast<unsigned long long>(*oom_kills));
    } else {
      std::snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", sig, strsignal(sig),
                    sig == SIGKILL && !oom_kills ? ", the cgroup's OOM killer? (swap full?)" : "");
    }
  } else {
    std::snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
  }
  return buf;
}

// Runs in the child; never returns.
[[noreturn]] void ChildMain(const MemoryCgroup& cg, const WorkloadSpec& spec, int out_fd) {
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the bench
  Status st = cg.AddProcess(0);
  if (!st.ok()) {
    std::fprintf(stderr, "uswap bench: kernel child: %s\n", st.ToString().c_str());
    ::_exit(3);
  }
  Result<AnonMapping> region = AnonMapping::Create(spec.region_bytes);
  if (!region.ok()) {
    std::fprintf(stderr, "uswap bench: kernel child: %s\n", region.status().ToString().c_str());
    ::_exit(3);
  }
  const bool per_group = cg.Stat("pswpin").has_value();
  const std::string stat_file = per_group ? cg.path() + "/memory.stat" : "/proc/vmstat";
  WorkloadResult r = RunWorkload(
      region->data(), spec, [&] { return ProcessCounters(stat_file); }, nullptr);
  const char* p = reinterpret_cast<const char*>(&r);
  for (size_t done = 0; done < sizeof r;) {
    ssize_t n = ::write(out_fd, p + done, sizeof r - done);
    if (n <= 0 && errno != EINTR) ::_exit(4);
    if (n > 0) done += static_cast<size_t>(n);
  }
  ::_exit(0);
}

class KernelEngine final : public Engine {
 public:
  KernelEngine(EngineConfig config, bool zswap) : config_(std::move(config)), zswap_(zswap) {}
  const char* name() const override { return zswap_ ? "kernel+zswap" : "kernel"; }

  Result<EngineResult> Run(const WorkloadSpec& spec) override {
    if (::geteuid() != 0) {
      return Status::NotSupported("needs root (swapon(2) and a memory cgroup)");
    }
    // zswap is one system-wide setting: on for kernel+zswap, forced off for
    // kernel (so its figures do not depend on the machine's setting).
    std::unique_ptr<KernelZswap> zswap;
    if (zswap_) {
      USWAP_ASSIGN_OR_RETURN(zswap, KernelZswap::On(config_.zswap_compressor));
    } else if (KernelZswap::Available()) {
      USWAP_ASSIGN_OR_RETURN(zswap, KernelZswap::Off());
    }
    const std::string tag = "uswap-bench-" + std::to_string(::getpid());
    const std::string swap_path = config_.swap_dir + "/" + tag + ".kswap";
    const int other_areas = CountKernelSwapAreas();  // ours is preferred by priority
    USWAP_ASSIGN_OR_RETURN(auto file, SwapFile::Create(swap_path, config_.swap_bytes));
    USWAP_ASSIGN_OR_RETURN(auto swapon, KernelSwapon::On(swap_path, kSwapPriority));
    Result<EngineResult> r =
        zswap_ && config_.equal_memory
            ? RunEqualMemory(tag, spec)
            : RunAt(tag,
                    config_.kernel_limit_bytes ? config_.kernel_limit_bytes : config_.ram_bytes,
                    spec);
    if (r.ok() && zswap_) r->zswap.compressor = zswap->compressor();
    if (r.ok() && other_areas > 0) {
      r->note += (r->note.empty() ? "" : "; ") + std::to_string(other_areas) +
                 " other kernel swap area(s) active";
    }
    return r;
  }

 private:
  // One run of `spec` in a fresh cgroup `tag` limited to `limit`.
  Result<EngineResult> RunAt(const std::string& tag, uint64_t limit, const WorkloadSpec& spec) {
    USWAP_ASSIGN_OR_RETURN(auto cgroup, MemoryCgroup::Create(tag, limit));
    if (InterruptFlag().load()) return Interrupted();
    std::optional<ZswapPoolTracker> tracker;
    if (zswap_) tracker.emplace(*cgroup);
    Result<EngineResult> r = RunChild(*cgroup, spec, tracker ? &*tracker : nullptr);
    if (!r.ok()) return r;
    r->peak_bytes = cgroup->PeakBytes().value_or(0);
    r->limit_bytes = limit;
    if (tracker) {
      r->zswap = tracker->peak();
      r->zswap.pool_charged = cgroup->version() == 2;
    }
    return r;
  }

  // --equal-memory (see the top of this file).
  Result<EngineResult> RunEqualMemory(const std::string& tag, const WorkloadSpec& spec) {
    const uint64_t budget = config_.ram_bytes;
    const auto key = std::make_pair(spec.pattern, spec.threads);
    auto plan = plans_.find(key);
    if (plan == plans_.end()) {
      std::optional<MemoryHierarchy> h = FindMemoryHierarchy();
      if (h && h->version == 2) {
        EqualMemory e;
        e.asked = e.solved = true;
        e.budget_bytes = e.limit_bytes = budget;
        e.why = "cgroup v2 charges the pool to the cgroup: its limit is equal memory";
        plan = plans_.emplace(key, e).first;
      } else {
        WorkloadSpec cal = spec;
        if (!cal.progress_label.empty()) cal.progress_label += " (calibration)";
        USWAP_ASSIGN_OR_RETURN(EngineResult c, RunAt(tag, budget, cal));
        plan = plans_.emplace(key, SolveEqualMemory(budget, c.zswap)).first;
        if (!plan->second.solved) {  // the calibration run is the same-limit figure
          c.equal_memory = plan->second;
          return c;
        }
      }
    }
    const EqualMemory& e = plan->second;
    USWAP_ASSIGN_OR_RETURN(EngineResult r, RunAt(tag, e.solved ? e.limit_bytes : budget, spec));
    r.equal_memory = e;
    return r;
  }

  Result<EngineResult> RunChild(const MemoryCgroup& cg, const WorkloadSpec& spec,
                                ZswapPoolTracker* tracker) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
    UniqueFd in(fds[0]), out(fds[1]);
    std::fflush(nullptr);  // the child must not flush the parent's buffered output again
    pid_t pid = ::fork();
    if (pid < 0) return Status::FromErrno("fork", errno);
    if (pid == 0) {
      in.Reset();
      ChildMain(cg, spec, out.get());
    }
    ChildProcess child(pid);
    out.Reset();

    EngineResult r;
    char* p = reinterpret_cast<char*>(&r.workload);
    size_t got = 0;
    while (got < sizeof r.workload) {
      // poll with a timeout rather than a blocking read: a signal that lands
      // just before the read would otherwise wait for the whole run.
      if (InterruptFlag().load()) return Interrupted();  // ~ChildProcess kills it
      if (tracker) tracker->Sample();
      struct pollfd pfd = {in.get(), POLLIN, 0};
      int ready = ::poll(&pfd, 1, tracker ? kZswapSampleMs : kPollMs);
      if (ready < 0 && errno != EINTR) return Status::FromErrno("poll the kernel child", errno);
      if (ready <= 0) continue;
      ssize_t n = ::read(in.get(), p + got, sizeof r.workload - got);
      if (n == 0) break;
      if (n < 0) {
        if (errno != EINTR) return Status::FromErrno("read from the kernel child", errno);
        continue;
      }
      got += static_cast<size_t>(n);
    }
    int status = child.Wait();
    if (got != sizeof r.workload || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (InterruptFlag().load()) return Interrupted();
      return Status::IOError("kernel engine child " + DescribeExit(status, cg.OomKills()));
    }
    if (cg.version() == 1) r.note = "swap counts system-wide (cgroup v1)";
    return r;
  }

  EngineConfig config_;
  bool zswap_;
  // --equal-memory: the limit found for each pattern and thread count.
  std::map<std::pair<Pattern, unsigned>, EqualMemory> plans_;
};

}  // namespace

std::unique_ptr<Engine> MakeKernelEngine(const EngineConfig& config, bool zswap) {
  return std::make_unique<KernelEngine>(config, zswap);
}

EqualMemory SolveEqualMemory(uint64_t budget, const ZswapFigures& cal) {
  EqualMemory e;
  e.asked = true;
  e.budget_bytes = budget;
  e.calibration_pool_bytes = cal.pool_peak_bytes;
  if (cal.pool_peak_bytes == 0 || cal.swapped_bytes == 0) {
    e.solved = true;
    e.limit_bytes = budget;
    e.why = "no pool at the budget: nothing to subtract";
    return e;
  }
  const double r = static_cast<double>(cal.pool_peak_bytes) / cal.swapped_bytes;
  const double touched = static_cast<double>(cal.usage_bytes ? cal.usage_bytes : budget) +
                         static_cast<double>(cal.swapped_bytes);
  e.pool_per_swapped = r;
  const double l = r < 1 ? (static_cast<double>(budget) - r * touched) / (1 - r) : -1;
  char buf[200];
  if (l < kMinEqualMemoryLimit) {
    std::snprintf(buf, sizeof buf,
                  "no limit > 0 fits: the pool alone (%.2f B per swapped-out B of %.0f MiB "
                  "touched = %.0f MiB) outgrows the budget",
                  r, touched / 1048576.0, r * touched / 1048576.0);
    e.why = buf;
    return e;
  }
  e.solved = true;
  e.limit_bytes = std::min<uint64_t>(budget, static_cast<uint64_t>(l) / kPageSize * kPageSize);
  return e;
}

}  // namespace uswap::bench
