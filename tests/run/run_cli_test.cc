// `uswap run` end to end: each run_matrix mode runs under `uswap run` and
// without it; the output must be byte-identical, the status the program's,
// and the peak resident memory (the kernel's ru_maxrss: anonymous, shared
// and file pages) within the budget plus the fixed overhead doc/run.md
// gives. Refusals must not start the program. No swap file may be left.
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr long kBudgetMiB = 32;
// doc/run.md: the engine, its threads, the shim and libraries, measured
// at 8-10 MiB resident; the aim for the fixed overhead is 24 MiB.
constexpr long kOverheadMiB = 24;

struct Outcome {
  int status = -1;
  std::string out, err;
  long maxrss_kib = 0;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class RunCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/run_cli_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);  // the unprivileged test writes here too
  }
  void TearDown() override {
    // Nothing may be left: every swap area is removed as soon as it is open.
    std::vector<std::string> left;
    if (DIR* d = opendir(dir_.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        if (n.rfind("keep.", 0) != 0) left.push_back(n);
        unlink((dir_ + "/" + n).c_str());
      }
      closedir(d);
    }
    rmdir(dir_.c_str());
    EXPECT_TRUE(left.empty()) << "left behind: " << left[0];
  }

  // Starts argv with stdout and stderr in files named after `tag`; `uid`
  // >= 0 drops to it. Finish() waits for it.
  pid_t Start(std::vector<std::string> argv, const std::string& tag, int uid = -1,
              const std::vector<std::string>& env = {}) {
    const std::string out = dir_ + "/keep." + tag + ".out", err = dir_ + "/keep." + tag + ".err";
    pid_t pid = fork();
    if (pid == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(o, 1);
      dup2(e, 2);
      for (const std::string& kv : env) putenv(strdup(kv.c_str()));
      if (uid >= 0 && (setgroups(0, nullptr) != 0 || setresgid(uid, uid, uid) != 0 ||
                       setresuid(uid, uid, uid) != 0))
        _exit(99);
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(98);
    }
    return pid;
  }
  Outcome Finish(pid_t pid, const std::string& tag) {
    Outcome r;
    rusage ru{};
    EXPECT_EQ(wait4(pid, &r.status, 0, &ru), pid);
    r.maxrss_kib = ru.ru_maxrss;
    r.out = ReadAll(dir_ + "/keep." + tag + ".out");
    r.err = ReadAll(dir_ + "/keep." + tag + ".err");
    return r;
  }
  Outcome Run(std::vector<std::string> argv, int uid = -1,
              const std::vector<std::string>& env = {}) {
    return Finish(Start(std::move(argv), "run", uid, env), "run");
  }
  // Runs the program without uswap and under uswap run: both exit 0 with
  // the same output. Returns the run under uswap.
  Outcome ExpectSameUnderUswap(std::vector<std::string> program);
  void ExpectForkCopy(const char* mode);
  // `uswap run` with this test's swap directory, at a budget of ram_mib.
  std::vector<std::string> Uswap(std::vector<std::string> program, long ram_mib = kBudgetMiB) {
    std::vector<std::string> v = {USWAP_CLI,    "run", "--ram",       std::to_string(ram_mib) + "M",
                                  "--swap-dir", dir_,  "--swap-size", "1G",
                                  "--"};
    v.insert(v.end(), program.begin(), program.end());
    return v;
  }
  std::string dir_;
};

void ExpectExited(const Outcome& r, int code, const char* what) {
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == code)
      << what << ": status " << r.status << "\nstderr: " << r.err;
}

// Same output, within the budget (plus overhead), where the plain run was not.
void Compare(RunCliTest* t, const Outcome& plain, const Outcome& under, long plain_min_mib) {
  (void)t;
  ExpectExited(plain, 0, "without uswap");
  ExpectExited(under, 0, "under uswap run");
  EXPECT_EQ(plain.out, under.out);
  EXPECT_FALSE(under.out.empty());
  EXPECT_GE(plain.maxrss_kib, plain_min_mib << 10) << "the workload must exceed the budget";
  EXPECT_LE(under.maxrss_kib, (kBudgetMiB + kOverheadMiB) << 10)
      << "peak resident memory under uswap run";
}

// run_matrix MODE 96 (fork, forkzip) with and without uswap: the same
// output, within the budget, the child's checks passed, nothing on stderr.
void RunCliTest::ExpectForkCopy(const char* mode) {
  Outcome plain = Run({RUN_MATRIX, mode, "96"});
  Outcome under = Run(Uswap({RUN_MATRIX, mode, "96"}));
  Compare(this, plain, under, 96);
  EXPECT_NE(under.out.find("fork child: ok"), std::string::npos) << under.out << under.err;
  EXPECT_EQ(under.err, "");
}

Outcome RunCliTest::ExpectSameUnderUswap(std::vector<std::string> program) {
  Outcome plain = Run(program);
  Outcome under = Run(Uswap(program));
  ExpectExited(plain, 0, "without uswap");
  ExpectExited(under, 0, "under uswap run");
  EXPECT_EQ(plain.out, under.out);
  return under;
}

TEST_F(RunCliTest, ThreadsKeepTheirHeapWithinTheBudget) {
  Outcome plain = Run({RUN_MATRIX, "threads", "160"});
  Outcome under = Run(Uswap({RUN_MATRIX, "threads", "160"}));
  Compare(this, plain, under, 150);
}

TEST_F(RunCliTest, MmapMunmapMremapMadviseMprotectMlockKeepTheirSemantics) {
  Outcome plain = Run({RUN_MATRIX, "mm", "128"});
  Outcome under = Run(Uswap({RUN_MATRIX, "mm", "128"}));
  Compare(this, plain, under, 120);
  EXPECT_NE(under.out.find("mlock ok"), std::string::npos);
}

// mlockall/munlockall under uswap run lock the program's heap and
// mappings in uswap (Region::Mlock), not the kernel's way (which would
// populate the whole region): same results as without uswap, and the
// counters at exit show the pages mlockall(MCL_CURRENT) left locked.
TEST_F(RunCliTest, MlockallLocksTheProgramsMemoryAndMunlockallLetsItPage) {
  Outcome plain = Run({RUN_MATRIX, "mlockall", "64"});
  const std::string stats = dir_ + "/keep.mlock-stats";
  std::vector<std::string> v = Uswap({RUN_MATRIX, "mlockall", "64"});
  v.insert(v.begin() + 2, {"--stats", stats});
  Outcome under = Run(v);
  Compare(this, plain, under, 64);
  EXPECT_NE(under.out.find("mlockall again ok"), std::string::npos) << under.out << under.err;
  const std::string text = ReadAll(stats);
  auto value = [&](const std::string& name) {
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
  };
  // At least the 4 MiB and 2 MiB heap buffers and the two 2 MiB mappings.
  EXPECT_GE(value("mlocked_pages"), double((10u << 20) / 4096)) << text;
  EXPECT_EQ(value("mlock_limit_refusals"), 0.0) << text;
}

TEST_F(RunCliTest, SystemCallsReadIntoSwappedOutHeapIncludingODirect) {
  Outcome plain = Run({RUN_MATRIX, "syscall", "96"});
  Outcome under = Run(Uswap({RUN_MATRIX, "syscall", "96"}));
  Compare(this, plain, under, 96);
}

// What the shim cannot interpose — O_DIRECT and io_uring's registered
// buffers through direct system calls — the pin guard refuses on uswap
// memory, one line each on the program's stderr, and lets through
// elsewhere: the C library's calls (made buffered), shared memory, and a
// child the shim is not in. --no-pin-guard leaves it out.
TEST_F(RunCliTest, ThePinGuardRefusesDirectCallsThatWouldPinUswapMemory) {
  const std::vector<std::string> program = {RUN_MATRIX, "pinguard", "64"};
  Outcome plain = Run(program);
  ExpectExited(plain, 0, "without uswap");
  const size_t no_uring = plain.out.find("io_uring unavailable");  // its line is kept
  const bool uring = no_uring == std::string::npos;
  Outcome under = Run(Uswap(program));
  ExpectExited(under, 0, "under uswap run");
  std::string want =
      "raw open O_DIRECT: EINVAL\n"
      "open O_DIRECT: ok\n"
      "raw fcntl O_DIRECT: EINVAL\n"
      "fcntl O_DIRECT: ok\n";
  want += uring ? "register heap buffers: EOPNOTSUPP\nregister shared buffers: ok\n"
                : plain.out.substr(no_uring, plain.out.find('\n', no_uring) + 1 - no_uring);
  EXPECT_EQ(under.out, want + "child raw open O_DIRECT: ok\n");
  for (const char* line : {"]: open(O_DIRECT) refused (EINVAL): O_DIRECT would DMA",
                           "]: fcntl(F_SETFL, O_DIRECT) refused (EINVAL)",
                           uring ? "]: io_uring_register(IORING_REGISTER_BUFFERS) refused "
                                   "(EOPNOTSUPP): the buffers are uswap memory"
                                 : "uswap run: run_matrix["})
    EXPECT_NE(under.err.find(line), std::string::npos) << line << "\nstderr: " << under.err;
  std::vector<std::string> off = Uswap(program);
  off.insert(off.begin() + 2, "--no-pin-guard");
  Outcome unguarded = Run(off);
  ExpectExited(unguarded, 0, "--no-pin-guard");
  EXPECT_EQ(unguarded.out, plain.out);
  EXPECT_EQ(unguarded.err, "");
}

TEST_F(RunCliTest, PosixSpawnVforkAndSystemRunChildrenUnderUswap) {
  Outcome under = ExpectSameUnderUswap({RUN_MATRIX, "spawn"});
  EXPECT_NE(under.out.find("system status 3"), std::string::npos) << under.out;
}

// fork(): a child and a grandchild read what their parent had at fork time
// (heap and mmap, more than the budget, much of it on swap), neither side
// sees the other's later writes, protections, MADV_WIPEONFORK and
// MADV_DONTFORK are the kernel's, and every process stays within the budget.
TEST_F(RunCliTest, ForkGivesTheChildAPrivateCopyWithinTheBudget) { ExpectForkCopy("fork"); }

// fork() while the program's other threads write and allocate: each child
// gets one instant of the parent's memory (the other threads are stopped
// for the copy, as the kernel's fork write-protects the parent's pages),
// mimalloc's structures in it are whole (the child allocates), and the
// threads go on afterwards.
// Pages in the parent's compressed tier go to the child as their objects
// (neither decompressed nor compressed again) and read back intact: the
// child's counters (--stats, FILE.PID) count them. At 64M the parent's
// 96 MiB (that compress 2:1) are half in its pool, and the tree has room
// for the child's pool beside it; a budget too small for that makes the
// members write their pools back to disk (BalanceOnce), and the copy then
// sends those pages from their slots.
TEST_F(RunCliTest, ForkCopiesCompressedPagesAsTheyAre) {
  const std::vector<std::string> program = {RUN_MATRIX, "forkzip", "96"};
  Outcome plain = Run(program);
  std::vector<std::string> argv = Uswap(program, 64);
  argv.insert(argv.begin() + 2, {"--stats", dir_ + "/keep.stats"});
  Outcome under = Run(argv);
  ExpectExited(plain, 0, "without uswap");
  ExpectExited(under, 0, "under uswap run");
  EXPECT_EQ(plain.out, under.out);
  EXPECT_NE(under.out.find("fork child: ok"), std::string::npos) << under.out << under.err;
  std::string child;
  if (DIR* d = opendir(dir_.c_str())) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name).rfind("keep.stats.", 0) == 0)
        child = ReadAll(dir_ + "/" + e->d_name);
    closedir(d);
  }
  const size_t at = child.find("\nzswap_copied_in ");
  ASSERT_NE(at, std::string::npos) << "the child's stats file:\n" << child;
  EXPECT_GT(std::stoull(child.substr(at + 17)), 1000u) << child;
}

// The same at 32M: the three processes' compressed pools would hold more
// than the tree's budget. A member asked for its share that has nothing
// resident left writes pool objects back to disk (MemoryNode::BalanceOnce)
// instead of letting another member's charges overshoot the budget (which
// they did, by up to 36 881 pages, logged as "shared RAM budget exceeded").
TEST_F(RunCliTest, PoolsGiveWayWhenTheTreeIsShort) { ExpectForkCopy("forkzip"); }

TEST_F(RunCliTest, ForkWhileOtherThreadsWriteAndAllocateCopiesOneInstant) {
  EXPECT_EQ(ExpectSameUnderUswap({RUN_MATRIX, "forkwrite", "16"}).err, "");
}

// A fork whose atfork handler waits for a lock that a thread uswap
// stopped for the copy may hold: the stopped thread goes on after 2 s, so
// the fork ends (a fork never hangs on the stop).
TEST_F(RunCliTest, AForkWhoseAtforkHandlerWaitsForAStoppedThreadEnds) {
  EXPECT_EQ(ExpectSameUnderUswap({RUN_MATRIX, "forkatfork"}).err, "");
}

// A real program: python3's multiprocessing pool with the fork start
// method, 4 workers forked from a parent holding twice the budget, each
// verifying and hashing its share of the inherited objects.
TEST_F(RunCliTest, PythonMultiprocessingForkPoolReadsInheritedData) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  Outcome plain = Run({"/usr/bin/python3", MP_FORK_PY, "64"});
  Outcome under = Run(Uswap({"/usr/bin/python3", MP_FORK_PY, "64"}));
  Compare(this, plain, under, 64);
  EXPECT_EQ(std::count(under.out.begin(), under.out.end(), '\n'), 4) << under.out;
}

// A shell forks for every pipeline stage, command substitution and
// subshell, then execs (or not: a subshell runs on in the fork).
TEST_F(RunCliTest, ShellForksSubshellsAndPipelines) {
  const std::string script =
      "x=$(echo hi | tr a-z A-Z); (y=sub; echo \"$y $x\"); "
      "for i in 1 2 3; do echo \"$i $x\" | cat; done; exit 3";
  Outcome plain = Run({"/bin/sh", "-c", script});
  Outcome under = Run(Uswap({"/bin/sh", "-c", script}));
  ExpectExited(plain, 3, "without uswap");
  ExpectExited(under, 3, "under uswap run");
  EXPECT_EQ(plain.out, under.out);
  EXPECT_EQ(under.out, "sub HI\n1 HI\n2 HI\n3 HI\n");
  EXPECT_EQ(under.err, "");
}

// A long-lived parent that forks again and again (a shell loop): what its
// forking thread allocates during each copy comes from the setup heap, and
// must all be reused (before aligned blocks were: std::bad_alloc in the
// parent within 1000 forks).
TEST_F(RunCliTest, AShellLoopForksAThousandTimes) {
  const std::string script =
      "i=0; while [ $i -lt 1000 ]; do x=$(echo $i); i=$((i+1)); done; echo \"$x\"";
  Outcome under = Run(Uswap({"/bin/sh", "-c", script}));
  ExpectExited(under, 0, "a shell loop under uswap run");
  EXPECT_EQ(under.out, "999\n");
  EXPECT_EQ(under.err, "");
}

TEST_F(RunCliTest, ExitStatusAndSignalsAreTheProgramsOwn) {
  ExpectExited(Run(Uswap({RUN_MATRIX, "exit", "7"})), 7, "exit 7");
  Outcome segv = Run(Uswap({RUN_MATRIX, "segv"}));
  EXPECT_TRUE(WIFSIGNALED(segv.status) && WTERMSIG(segv.status) == SIGSEGV) << segv.status;
}

TEST_F(RunCliTest, StatsFileHoldsTheCounters) {
  const std::string stats = dir_ + "/keep.stats";
  std::vector<std::string> v = {USWAP_CLI,  "run",         "--ram", "32M",     "--swap-dir",
                                dir_,       "--swap-size", "1G",    "--stats", stats,
                                RUN_MATRIX, "mm",          "64"};
  ExpectExited(Run(v), 0, "with --stats");
  std::string text = ReadAll(stats);
  EXPECT_NE(text.find("pgfault "), std::string::npos) << text;
  EXPECT_NE(text.find("pswpout "), std::string::npos) << text;
}

// One budget for the whole tree (a memory cgroup's): the parent, its child
// and grandchild each hold a private copy of 96 MiB, yet together they
// never charged more than --ram (plus the page tables, charged as they
// grow, and a few MiB charged after the fact), as the shared counter the
// top process reports at exit says.
TEST_F(RunCliTest, TheWholeTreeSharesOneBudget) {
  const std::string stats = dir_ + "/keep.tree-stats";
  std::vector<std::string> v = Uswap({RUN_MATRIX, "fork", "96"});
  v.insert(v.begin() + 2, {"--stats", stats});
  Outcome under = Run(v);
  ExpectExited(under, 0, "fork under uswap run");
  EXPECT_NE(under.out.find("fork child: ok"), std::string::npos) << under.out << under.err;
  const std::string text = ReadAll(stats);
  auto value = [&](const std::string& name) {
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
  };
  EXPECT_EQ(value("group_limit_bytes"), double(kBudgetMiB << 20)) << text;
  EXPECT_GT(value("group_peak_bytes"), double(kBudgetMiB << 20) * 0.8) << text;
  // Frames are charged within the limit; what is charged after the fact
  // (page tables, the compressed pool, the processes' own memory sampled
  // every 100 ms) may pass it until reclaim catches up: a few MiB.
  EXPECT_LE(value("group_peak_bytes"), double((kBudgetMiB + 8) << 20)) << text;
  // The parent was asked for its share while its children needed frames.
  EXPECT_GT(value("group_reclaim_requests"), 0) << text;
}

TEST_F(RunCliTest, UswapStatReadsARunningProgram) {
  const std::string go = dir_ + "/keep.go";
  pid_t pid = Start(Uswap({RUN_MATRIX, "wait", go}), "waiting", -1, {"USWAP_STATS_SOCKET=auto"});
  // The program publishes its socket once its Space is open; ask until it
  // answers (the program waits for `go` for up to 60 s).
  Outcome stat;
  for (int i = 0; i < 200; i++) {
    stat = Run({USWAP_CLI, "stat", "--count", "1", std::to_string(pid)});
    if (WIFEXITED(stat.status) && WEXITSTATUS(stat.status) == 0) break;
    usleep(50000);
  }
  close(open(go.c_str(), O_WRONLY | O_CREAT, 0600));
  Outcome waited = Finish(pid, "waiting");
  ExpectExited(stat, 0, "uswap stat PID");
  EXPECT_NE(stat.out.find("pgfault"), std::string::npos) << stat.out;
  ExpectExited(waited, 0, "the waiting program");
  // The socket went with the program.
  Outcome after = Run({USWAP_CLI, "stat", "--count", "1", std::to_string(pid)});
  EXPECT_NE(WEXITSTATUS(after.status), 0) << after.out;
  EXPECT_NE(after.err.find(std::to_string(pid)), std::string::npos) << after.err;
}

// Refusals: one line naming the cause, status != 0, the program not run
// (its "child" mode would print).
void ExpectRefused(const Outcome& r, int code, const std::string& says) {
  ExpectExited(r, code, says.c_str());
  EXPECT_TRUE(r.out.empty()) << "the program ran: " << r.out;
  EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(RunCliTest, RefusesAStaticProgram) {
  ExpectRefused(Run(Uswap({RUN_MATRIX_STATIC, "child", "x"})), 126, "statically linked");
}

// Section names of an ELF file ("" entries when it cannot be read).
std::vector<std::string> SectionNames(const std::string& path) {
  const std::string bytes = ReadAll(path);
  std::vector<std::string> names;
  if (bytes.size() < sizeof(Elf64_Ehdr)) return names;
  Elf64_Ehdr eh;
  memcpy(&eh, bytes.data(), sizeof eh);
  if (eh.e_shoff + uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > bytes.size() ||
      eh.e_shstrndx >= eh.e_shnum)
    return names;
  auto shdr = [&](size_t i) {
    Elf64_Shdr sh;
    memcpy(&sh, bytes.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
    return sh;
  };
  const Elf64_Shdr strtab = shdr(eh.e_shstrndx);
  for (size_t i = 0; i < eh.e_shnum; i++) {
    const uint64_t at = strtab.sh_offset + shdr(i).sh_name;
    names.push_back(at < bytes.size() ? std::string(bytes.c_str() + at) : "");
  }
  return names;
}

// The shim is mapped into every process of the tree and the CLI starts it:
// their debug information lives in .debug files beside them, so that
// read-ahead does not bring it into the tree's page cache (doc/run.md).
TEST_F(RunCliTest, TheShimAndTheCliCarryNoDebugInformation) {
  if (!USWAP_SPLIT_DEBUG) GTEST_SKIP() << "no objcopy at build time";
  const std::string cli = USWAP_CLI;
  const std::string shim = cli.substr(0, cli.rfind('/')) + "/libuswap_run.so";
  for (const std::string& file : {cli, shim}) {
    const std::vector<std::string> names = SectionNames(file);
    ASSERT_FALSE(names.empty()) << file;
    EXPECT_EQ(std::count(names.begin(), names.end(), ".debug_info"), 0) << file;
    EXPECT_EQ(std::count(names.begin(), names.end(), ".gnu_debuglink"), 1) << file;
    EXPECT_FALSE(SectionNames(file + ".debug").empty()) << file << ".debug";
  }
}

// --record-faults: the faults of the run, as a trace `uswap sim` reads.
TEST_F(RunCliTest, RecordFaultsWritesATraceUswapSimReads) {
  const std::string trace = dir_ + "/keep.trace";
  std::vector<std::string> v = Uswap({RUN_MATRIX, "mm", "64"});
  v.insert(v.begin() + 2, {"--record-faults", trace});
  ExpectExited(Run(v), 0, "with --record-faults");
  const std::string text = ReadAll(trace);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text[0], '#') << "a header line says the trace holds faults";
  // At least one fault per 16 pages the program first touches (fault-around
  // maps 16 at a time): 64 MiB / 64 KiB.
  EXPECT_GE(std::count(text.begin(), text.end(), '\n'), 1024) << text.substr(0, 200);
  Outcome sim = Run({USWAP_CLI, "sim", "--trace", trace, "--format", "text", "--cache", "25%",
                     "--policy", "lru"});
  ExpectExited(sim, 0, "uswap sim on the trace");
  EXPECT_NE(sim.out.find("lru"), std::string::npos) << sim.out;
}

// --policy: the program runs under the named reclaim policy with the same
// output; a name the engine does not know is refused before it starts.
TEST_F(RunCliTest, PolicyFlagRunsTheProgramUnderTheNamedPolicy) {
  Outcome plain = Run({RUN_MATRIX, "mm", "128"});
  std::vector<std::string> v = Uswap({RUN_MATRIX, "mm", "128"});
  v.insert(v.begin() + 2, {"--policy", "lirs"});
  Compare(this, plain, Run(v), 120);
  v = Uswap({RUN_MATRIX, "child", "x"});
  v.insert(v.begin() + 2, {"--policy", "no-such-policy"});
  ExpectRefused(Run(v), 2, "unknown --policy 'no-such-policy'");
}

TEST_F(RunCliTest, RefusesASetUidProgram) {
  const std::string copy = dir_ + "/keep.setuid";
  ASSERT_EQ(system(("cp '" RUN_MATRIX "' '" + copy + "'").c_str()), 0);
  ASSERT_EQ(chmod(copy.c_str(), 04755), 0);
  ExpectRefused(Run(Uswap({copy, "child", "x"})), 126, "set-user-ID");
}

TEST_F(RunCliTest, RefusesAMissingProgramOrShim) {
  ExpectRefused(Run(Uswap({"no-such-program-uswap", "x"})), 127, "command not found");
  ExpectRefused(Run(Uswap({RUN_MATRIX, "child", "x"}), -1, {"USWAP_RUN_LIB=/nonexistent.so"}), 125,
                "libuswap_run.so not found");
}

TEST_F(RunCliTest, RefusesWithoutUserfaultfdPermission) {
  std::ifstream sysctl("/proc/sys/vm/unprivileged_userfaultfd");
  int unprivileged = 1;
  sysctl >> unprivileged;
  struct stat st {};
  const bool dev_open = stat("/dev/userfaultfd", &st) == 0 && (st.st_mode & S_IROTH);
  if (getuid() != 0 || unprivileged != 0 || dev_open)
    GTEST_SKIP() << "needs root, vm.unprivileged_userfaultfd=0 and a closed /dev/userfaultfd";
  // `nobody` must be able to reach the binaries; skip when the tree is private.
  if (access(USWAP_CLI, X_OK) != 0) GTEST_SKIP();
  Outcome r = Run(Uswap({RUN_MATRIX, "child", "x"}), 65534);
  if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 98)
    GTEST_SKIP() << "nobody cannot execute the build tree";
  ExpectRefused(r, 125, "no permission for userfaultfd");
}

}  // namespace
