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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "base/unique_fd.h"
#include "engine.h"
#include "memory_cgroup.h"
#include "swap_file.h"

namespace uswap::bench {
namespace {

static_assert(std::is_trivially_copyable_v<WorkloadResult>, "sent through a pipe");

constexpr int kSwapPriority = 32767;  // the highest: used before any other active area

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

std::string DescribeExit(int status) {
  char buf[128];
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", sig, strsignal(sig),
                  sig == SIGKILL ? ", the cgroup's OOM killer? (swap full?)" : "");
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
  explicit KernelEngine(EngineConfig config) : config_(std::move(config)) {}
  const char* name() const override { return "kernel"; }

  Result<EngineResult> Run(const WorkloadSpec& spec) override {
    if (::geteuid() != 0) {
      return Status::NotSupported("needs root (swapon(2) and a memory cgroup)");
    }
    const std::string tag = "uswap-bench-" + std::to_string(::getpid());
    const std::string swap_path = config_.swap_dir + "/" + tag + ".kswap";
    const int other_areas = CountKernelSwapAreas();  // ours is preferred by priority
    USWAP_ASSIGN_OR_RETURN(auto file, SwapFile::Create(swap_path, config_.swap_bytes));
    USWAP_ASSIGN_OR_RETURN(auto swapon, KernelSwapon::On(swap_path, kSwapPriority));
    const uint64_t limit =
        config_.kernel_limit_bytes ? config_.kernel_limit_bytes : config_.ram_bytes;
    USWAP_ASSIGN_OR_RETURN(auto cgroup, MemoryCgroup::Create(tag, limit));
    if (InterruptFlag().load()) return Interrupted();
    Result<EngineResult> r = RunChild(*cgroup, spec);
    if (r.ok()) r->peak_bytes = cgroup->PeakBytes().value_or(0);
    if (r.ok() && other_areas > 0) {
      r->note += (r->note.empty() ? "" : "; ") + std::to_string(other_areas) +
                 " other kernel swap area(s) active";
    }
    return r;
  }

 private:
  Result<EngineResult> RunChild(const MemoryCgroup& cg, const WorkloadSpec& spec) {
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
      struct pollfd pfd = {in.get(), POLLIN, 0};
      int ready = ::poll(&pfd, 1, 100);
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
      return Status::IOError("kernel engine child " + DescribeExit(status));
    }
    if (cg.version() == 1) r.note = "pswpin/pswpout system-wide (cgroup v1)";
    return r;
  }

  EngineConfig config_;
};

}  // namespace

std::unique_ptr<Engine> MakeKernelEngine(const EngineConfig& config) {
  return std::make_unique<KernelEngine>(config);
}

}  // namespace uswap::bench
