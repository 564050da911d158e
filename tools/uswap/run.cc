// uswap run: runs an unmodified, dynamically linked program with its
// anonymous memory (malloc heap, private anonymous mmaps) in uswap memory
// under a RAM budget, paged to a swap area of its own (issue 9; doc/run.md).
// It checks what would make the shim fail (a static or set-id program, no
// userfaultfd, no shim), then execs the program with the shim preloaded,
// so that the program's exit status and signals are its own.
#include <elf.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli_util.h"
#include "commands.h"
#include "fault/uffd.h"
#include "mm/policy/reclaim_policy.h"
#include "run/pin_guard.h"
#include "run/run_env.h"
#include "uswap/space.h"

#ifndef USWAP_RUN_LIBDIR
#define USWAP_RUN_LIBDIR "lib/uswap"
#endif

namespace uswap::cli {
namespace {

constexpr char kCmd[] = "run";

constexpr char kHelp[] =
    "usage: uswap run [--ram SIZE] [--swap FILE | --swap-dir DIR] [--swap-size SIZE]\n"
    "                 [--compress ALG] [--policy NAME] [--stats FILE]\n"
    "                 [--record-faults FILE] [--count-process-memory] [--no-pin-guard]\n"
    "                 [--] PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM (dynamically linked) with its anonymous memory - the malloc\n"
    "heap and private anonymous mmaps - in uswap memory under a RAM budget: cold\n"
    "pages go to a swap area and come back on the next touch. No root, no cgroup,\n"
    "no kernel swap needed. The exit status and signals are the program's.\n"
    "\n"
    "  --ram SIZE        RAM budget of the program and every process it starts,\n"
    "                    together, as a memory cgroup's limit (default 256M)\n"
    "  --swap FILE       an existing swap area (uswap mkswap) for the program;\n"
    "                    processes it starts make their own in --swap-dir\n"
    "  --swap-dir DIR    where each process creates its swap area (0600, removed\n"
    "                    as soon as it is open; default $TMPDIR or /var/tmp)\n"
    "  --swap-size SIZE  size of a created area (default 8G, at most half the\n"
    "                    free space of DIR; allocated, not written)\n"
    "  --compress ALG    compressed RAM tier: auto (default), lz4, zstd, off\n"
    "  --policy NAME     reclaim policy: two-list (default), lru, fifo, clock,\n"
    "                    arc, s3fifo, lirs, rdist (doc/policies.md)\n"
    "  --stats FILE      write the counters at exit (processes the program\n"
    "                    starts: FILE.PID)\n"
    "  --record-faults FILE  write the faults uswap resolves as a page trace\n"
    "                    for `uswap sim` (text, '#' header; others: FILE.PID)\n"
    "  --count-process-memory  the budget also holds each process's own memory\n"
    "                    outside uswap (the allocator's, the interpreter's):\n"
    "                    the whole tree, as a memory cgroup counts it\n"
    "  --no-pin-guard    leave out the guard that keeps the kernel from pinning\n"
    "                    uswap memory (O_DIRECT and io_uring buffers made by\n"
    "                    direct system calls: refused there, as data would be\n"
    "                    lost); without it uswap run needs no no_new_privs\n"
    "\n"
    "Threads, fork() (the child gets a private copy of the memory), exec,\n"
    "posix_spawn and system() work; the processes share the budget, each has\n"
    "its own swap area (doc/run.md). Exit status: the program's; 125 when uswap cannot set\n"
    "it up, 126 when PROGRAM cannot run, 127 when it is not found, 2 on bad\n"
    "usage.\n";

constexpr int kSetupFailed = 125;

int Refuse(const std::string& message, int code = kSetupFailed) {
  std::fprintf(stderr, "uswap run: %s\n", message.c_str());
  return code;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ExeDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

// The shim: $USWAP_RUN_LIB, beside this binary (the build tree), or the
// install's library directory relative to the binary's.
std::string FindShim() {
  if (const char* env = std::getenv("USWAP_RUN_LIB"); env && *env) return IsFile(env) ? env : "";
  const std::string dir = ExeDir();
  for (const std::string& p :
       {dir + "/libuswap_run.so", dir + "/../" USWAP_RUN_LIBDIR "/libuswap_run.so"}) {
    if (IsFile(p)) return p;
  }
  return "";
}

// execvp's search, to check the program before exec.
std::string Which(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (IsFile(candidate) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Refuses what the shim cannot reach: a set-id program (the dynamic loader
// ignores LD_PRELOAD for it) and a static one (no dynamic loader at all).
// A script is judged by its interpreter.
int CheckProgram(const std::string& path, int depth = 0) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Refuse(path + ": " + std::strerror(errno), 127);
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0)
    return Refuse(path + ": not an executable file", 126);
  if (st.st_mode & (S_ISUID | S_ISGID))
    return Refuse(path +
                      " is set-user-ID or set-group-ID: the dynamic loader ignores "
                      "LD_PRELOAD for it, so uswap cannot manage its memory",
                  126);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Refuse(path + ": " + std::strerror(errno), 126);
  unsigned char head[256] = {};
  ssize_t n = ::pread(fd, head, sizeof(head), 0);
  if (n >= 2 && head[0] == '#' && head[1] == '!' && depth == 0) {
    ::close(fd);
    std::string line(reinterpret_cast<char*>(head) + 2, static_cast<size_t>(n) - 2);
    line = line.substr(0, line.find('\n'));
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) return Refuse(path + ": empty #! line", 126);
    std::string interp = line.substr(b, line.find_first_of(" \t", b) - b);
    return CheckProgram(interp, depth + 1);
  }
  if (n < static_cast<ssize_t>(sizeof(Elf64_Ehdr)) || std::memcmp(head, ELFMAG, SELFMAG) != 0) {
    ::close(fd);
    return 0;  // not ELF: execve decides (e.g. ENOEXEC)
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, head, sizeof(eh));
  bool interp = false;
  for (unsigned i = 0; i < eh.e_phnum && eh.e_ident[EI_CLASS] == ELFCLASS64; i++) {
    Elf64_Phdr ph;
    if (::pread(fd, &ph, sizeof(ph), static_cast<off_t>(eh.e_phoff + i * eh.e_phentsize)) !=
        static_cast<ssize_t>(sizeof(ph)))
      break;
    if (ph.p_type == PT_INTERP) interp = true;
  }
  ::close(fd);
  if (!interp)
    return Refuse(path +
                      " is statically linked: uswap run reaches a program through the "
                      "dynamic loader (LD_PRELOAD); use a dynamically linked build",
                  126);
  return 0;
}

// System calls into swapped-out memory (read(2) into the heap) need a
// userfaultfd that sees kernel-mode faults; the library would fall back to
// user-mode-only faults, which `uswap run` must not.
int CheckUserfaultfd() {
  Result<Userfaultfd> uffd = Userfaultfd::Open(/*sigbus=*/false, /*kernel_faults=*/true);
  if (!uffd.ok()) return Refuse(uffd.status().message());
  return 0;
}

}  // namespace

int RunMain(int argc, char** argv) {
  static const option kOptions[] = {{"ram", required_argument, nullptr, 'r'},
                                    {"swap", required_argument, nullptr, 's'},
                                    {"swap-dir", required_argument, nullptr, 'd'},
                                    {"swap-size", required_argument, nullptr, 'z'},
                                    {"compress", required_argument, nullptr, 'c'},
                                    {"policy", required_argument, nullptr, 'p'},
                                    {"record-faults", required_argument, nullptr, 'R'},
                                    {"stats", required_argument, nullptr, 'S'},
                                    {"count-process-memory", no_argument, nullptr, 'P'},
                                    {"no-pin-guard", no_argument, nullptr, 'G'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  RunSettings s;
  s.ram_bytes = 256u << 20;
  uint64_t swap_bytes = 8ull << 30;
  bool sized = false;
  bool pin_guard = true;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "+h", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'r':
      case 'z': {
        Result<uint64_t> v = ParseSize(optarg);
        if (!v.ok()) return UsageError(kCmd, v.status().message());
        (c == 'r' ? s.ram_bytes : swap_bytes) = *v;
        sized |= c == 'z';
        break;
      }
      case 's':
        s.swap_file = optarg;
        break;
      case 'd':
        s.swap_dir = optarg;
        break;
      case 'c':
        s.compress = optarg;
        break;
      case 'p':
        s.policy = optarg;
        break;
      case 'R':
        s.record_file = optarg;
        break;
      case 'S':
        s.stats_file = optarg;
        break;
      case 'P':
        s.count_process = true;
        break;
      case 'G':
        pin_guard = false;
        break;
      default:
        return HelpOrUsageError(kCmd, c, argv, kHelp);
    }
  }
  if (optind >= argc) return UsageError(kCmd, "no PROGRAM given");
  if (!s.swap_file.empty() && !s.swap_dir.empty())
    return UsageError(kCmd, "--swap and --swap-dir exclude each other");
  if (s.ram_bytes < 64 * 4096) return UsageError(kCmd, "--ram must hold at least 64 pages (256K)");
  if (!s.compress.empty() && s.compress != "auto" && s.compress != "lz4" && s.compress != "zstd" &&
      s.compress != "off")
    return UsageError(kCmd, "--compress must be auto, lz4, zstd or off");
  if (!s.policy.empty()) {
    // The engine's own table decides (mm/policy/policy_registry.cc).
    const std::vector<std::string>& names = ReclaimPolicyNames();
    if (std::find(names.begin(), names.end(), s.policy) == names.end()) {
      std::string known;
      for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
      return UsageError(kCmd, "unknown --policy '" + s.policy + "' (" + known + ")");
    }
  }

  const std::string shim = FindShim();
  if (shim.empty())
    return Refuse(
        "libuswap_run.so not found ($USWAP_RUN_LIB, beside the uswap binary, or "
        "its " USWAP_RUN_LIBDIR
        ")"
        " (this uswap was built without mimalloc? scripts/install-deps.sh installs it)");
  if (!s.swap_file.empty() && !IsFile(s.swap_file))
    return Refuse(s.swap_file + ": not a swap file (make one with `uswap mkswap`)");
  if (s.swap_dir.empty()) s.swap_dir = TempDir();
  // Processes the program starts make their areas in swap_dir even with --swap.
  struct statvfs vfs;
  if (::statvfs(s.swap_dir.c_str(), &vfs) != 0 || ::access(s.swap_dir.c_str(), W_OK) != 0)
    return Refuse(s.swap_dir + ": not a writable directory for swap areas");
  const uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (sized && swap_bytes > avail)
    return Refuse("--swap-size " + HumanSize(swap_bytes) + " is more than the " + HumanSize(avail) +
                  " free in " + s.swap_dir);
  s.swap_bytes = (sized ? swap_bytes : std::min(swap_bytes, avail / 2)) & ~uint64_t{4095};
  if (s.swap_bytes < 64 * 4096) return Refuse(s.swap_dir + ": no room for a swap area");

  const std::string program = Which(argv[optind]);
  if (program.empty()) return Refuse(std::string(argv[optind]) + ": command not found", 127);
  if (int rc = CheckProgram(program); rc != 0) return rc;
  if (int rc = CheckUserfaultfd(); rc != 0) return rc;

  s.top_pid = getpid();
  // One RAM budget for the whole tree, as a memory cgroup would give it: a
  // memfd every process of the tree joins (doc/run.md, "One budget for the
  // tree"), at a high descriptor number that scripts do not reuse.
  Result<int> budget = CreateSharedBudget(s.ram_bytes, /*inheritable=*/true);
  if (!budget.ok()) return Refuse("shared RAM budget: " + budget.status().ToString());
  rlimit nofile{};
  const int low = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur > 1024 + 64
                      ? 1024
                      : std::max(3, static_cast<int>(nofile.rlim_cur) - 64);
  if (const int high = ::fcntl(*budget, F_DUPFD, low); high >= 0) {
    ::close(*budget);
    *budget = high;
  }
  struct stat bst;
  if (::fstat(*budget, &bst) != 0)
    return Refuse(std::string("shared RAM budget: fstat: ") + std::strerror(errno));
  s.budget_fd = *budget;
  s.budget_inode = bst.st_ino;
  // An experiment knob: how long a handler thread polls for the next fault.
  if (const char* poll = std::getenv("USWAP_RUN_HANDLER_POLL_US"); poll && *poll)
    s.handler_poll_us = static_cast<int>(std::min(std::strtoul(poll, nullptr, 10), 1000000ul));
  for (const std::string& kv : s.Encode()) putenv(strdup(kv.c_str()));
  std::string preload = shim;
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old) preload += std::string(":") + old;
  setenv("LD_PRELOAD", preload.c_str(), 1);
  // Last: from here on the filter judges this process's calls too.
  if (pin_guard)
    if (Status st = StartPinGuard(); !st.ok())
      return Refuse(st.ToString() +
                    " (--no-pin-guard runs without it: then O_DIRECT and io_uring buffers "
                    "in direct system calls can lose data)");
  execv(program.c_str(), argv + optind);
  const int err = errno;
  return Refuse(program + ": " + std::strerror(err), err == ENOENT ? 127 : 126);
}

}  // namespace uswap::cli
