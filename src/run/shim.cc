// libuswap_run.so: the shim `uswap run` preloads (LD_PRELOAD) into a
// program, so that the program's anonymous memory lives in a uswap Region
// under one RAM budget, without the program knowing (issue 9, stage 1:
// one process; see doc/run.md for what it covers and what not yet).
//
// What it interposes, and why:
//  - the malloc family: glibc's allocator gets its memory through an
//    internal mmap that cannot be interposed, so the shim replaces it:
//    mimalloc (Debian's libmimalloc) with an exclusive arena on the
//    region's heap part, one mimalloc heap per program thread;
//  - mmap/munmap/mremap/madvise/mlock on private anonymous memory: placed
//    in and handled by the region (AnonSpace), the rest goes to the kernel;
//  - fork(): the child gets a private copy of the uswap memory in a Space
//    of its own (AnonSpace::Fork: the region is MADV_DONTFORK, so a plain
//    fork would leave the child without it), taken while the program's
//    other threads are stopped (StopOtherThreads);
//  - open() and fcntl(F_SETFL) with O_DIRECT: the flag is dropped, so that
//    the kernel reads into program memory through copy_to_user, which
//    userfaultfd sees (engine audit F3: DMA into a page uswap may evict
//    loses data); the same calls made without the C library, and io_uring's
//    pinned buffers, are the pin guard's (run/pin_guard.h);
//  - pthread_create: threads the engine starts are marked as engine
//    threads (their allocations and system calls bypass the region).
//
// Two thread-local flags route every call:
//  t_engine > 0: inside the engine (an engine thread, or the shim calling
//    the engine): allocations come from kernel memory and system calls go
//    straight to the kernel; the engine must never depend on memory it
//    pages itself.
//  t_alloc > 0: inside mimalloc: its own bookkeeping mappings come from
//    the kernel, but what it does to the region (purge: madvise, mmap
//    MAP_FIXED) is done to the region.
// Allocations before the constructor has opened the Space (the dynamic
// loader's and libraries' initialisers) come from kernel memory too; they
// stay valid, and free() takes them back wherever they came from.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <mimalloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "api/space_impl.h"
#include "base/proc_file.h"
#include "base/unique_fd.h"
#include "run/anon_space.h"
#include "run/pin_guard.h"
#include "run/proc_maps.h"
#include "run/run_env.h"
#include "uswap/swap_area.h"

#define USWAP_EXPORT extern "C" __attribute__((visibility("default")))

namespace uswap {
namespace {

enum State : int { kDormant, kReady };
std::atomic<int> g_state{kDormant};
AnonSpace* g_space = nullptr;  // never destroyed: other threads may run until _exit
mi_arena_id_t g_arena = 0;
std::string* g_stats_file = nullptr;
RunSettings* g_settings = nullptr;         // as decoded at start
std::vector<int>* g_engine_fds = nullptr;  // the file descriptors the Space opened
int g_budget_fd = -1;  // the tree's shared RAM budget, or -1 (a budget of this process's own)

__attribute__((tls_model("initial-exec"))) thread_local int t_engine = 0;
__attribute__((tls_model("initial-exec"))) thread_local int t_alloc = 0;
__attribute__((tls_model("initial-exec"))) thread_local mi_heap_t* t_heap = nullptr;

// A fork's request to stop that came while this thread was inside the
// engine or mimalloc: it stops when it leaves them (StopOtherThreads, below).
__attribute__((tls_model("initial-exec"))) thread_local bool t_stop_pending = false;
// The stop round this thread last stopped in: the signal of a round may
// arrive while the thread already stopped for it on leaving the engine,
// and it must count once.
__attribute__((tls_model("initial-exec"))) thread_local uint32_t t_parked_gen = 0;
void ParkForFork();

struct EngineScope {
  EngineScope() { t_engine++; }
  ~EngineScope() {
    if (--t_engine == 0 && t_stop_pending && !t_alloc) ParkForFork();
  }
};
struct AllocScope {
  AllocScope() { t_alloc++; }
  ~AllocScope() {
    if (--t_alloc == 0 && t_stop_pending && !t_engine) ParkForFork();
  }
};

bool Ready() { return g_state.load(std::memory_order_acquire) == kReady; }

// The code of the C library and of the dynamic loader (executable
// segments), found at start.
struct CodeRange {
  uintptr_t begin, end;
};
CodeRange g_libc_code[8];
int g_libc_ranges = 0;

// Whether an allocation was asked for by the C library or the dynamic
// loader for itself: the locale data setlocale() loads, the link maps, TLS
// blocks and slot tables of dlopen(), stdio's buffers. The engine's own
// threads read some of it — every new thread reads the locale at start,
// pthread_create reads the TLS tables, snprintf reads LC_NUMERIC — so it
// must never be paged by the engine (a fault-handling thread that faulted
// on it would wait for itself), and a fork child must have it before its
// copy of the region arrives. It comes from kernel memory, outside the
// budget. What the C library allocates on the program's behalf goes there
// too (getline's and qsort's buffers, strdup): doc/run.md.
bool FromCLibrary(const void* caller) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(caller);
  for (int i = 0; i < g_libc_ranges; i++)
    if (a >= g_libc_code[i].begin && a < g_libc_code[i].end) return true;
  return false;
}
int AddCLibraryCode(dl_phdr_info* info, size_t, void*) {
  const char* name = info->dlpi_name ? std::strrchr(info->dlpi_name, '/') : nullptr;
  name = name ? name + 1 : info->dlpi_name;
  if (!name || (std::strncmp(name, "libc.so", 7) != 0 && std::strncmp(name, "ld-linux", 8) != 0))
    return 0;
  for (int i = 0; i < info->dlpi_phnum && g_libc_ranges < 8; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    const uintptr_t b = info->dlpi_addr + ph.p_vaddr;
    g_libc_code[g_libc_ranges++] = {b, b + ph.p_memsz};
  }
  return 0;
}

// The heap of the calling program thread (in the region's arena), or
// nullptr when allocations must come from kernel memory. `caller`: the
// return address of the allocation function the program called.
mi_heap_t* ProgramHeap(const void* caller) {
  if (t_engine || t_alloc || !Ready() || FromCLibrary(caller)) return nullptr;
  if (!t_heap) {
    AllocScope a;
    t_heap = mi_heap_new_in_arena(g_arena);
  }
  return t_heap;
}

void* SysMmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}
int Fail(int err) {
  errno = err;
  return -1;
}
uintptr_t U(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// The heap of a fork child's setup. From fork() until the child has its
// copy of the region, the region's bytes are not there — mimalloc's
// segment headers among them — and mimalloc reads them when it allocates
// (it searches the free spans of every segment of the calling thread, and
// reclaims abandoned segments). So in that window every allocation of the
// child, on any thread, comes from this area instead: the new Space's
// objects, and the temporary buffers of the reclaim that makes room for
// the copy. Reserved once (address space only). Blocks of up to 16-byte
// alignment come in power-of-two classes, and a freed one goes back on
// its class's list (the copy's reclaim allocates and frees the same
// buffers thousands of times). Blocks aligned up to a page (O_DIRECT
// buffers) have classes and lists of their own, their blocks placed at
// their own size's alignment (at most a page): the parent's forking thread
// allocates here at every fork of a long-lived program (a shell loop), so
// nothing it frees may be lost. More aligned blocks are never reused.
// Two words precede each block: its class and the size asked for.
class SetupHeap {
 public:
  static constexpr size_t kBytes = 256u << 20;
  bool Reserve() {
    if (base_) return true;
    void* p = SysMmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    base_ = static_cast<uint8_t*>(p);
    return true;
  }
  void* Alloc(size_t n, size_t align) {
    if (n > kBytes) return (errno = ENOMEM, nullptr);
    if (align <= 16) {
      const size_t c = Class(n);
      return FromClass(&free_[c], c, 16, c, n);
    }
    if (align <= kPageBytes) {
      const size_t c = Class(n > align ? n : align);
      const size_t block = size_t{1} << c;
      return FromClass(&aligned_free_[c], c, block < kPageBytes ? block : kPageBytes, kAligned + c,
                       n);
    }
    void* p = Bump(n, align);
    if (p) Header(p, kNoClass, n);
    return p;
  }
  void Free(void* p) {
    const size_t c = static_cast<size_t*>(p)[-2];
    if (c == kNoClass) return;
    void** list = c >= kAligned ? &aligned_free_[c - kAligned] : &free_[c];
    Lock();
    *static_cast<void**>(p) = *list;
    *list = p;
    Unlock();
  }
  bool Owns(const void* p) const { return base_ && p >= base_ && p < base_ + kBytes; }
  static size_t SizeOf(const void* p) { return static_cast<const size_t*>(p)[-1]; }
  // Gives the pages inside free blocks of two pages or more back to the
  // kernel (MADV_DONTNEED: they read as zeros when a block is reused; a
  // block's header and link stay in its first page). Called when a copy is
  // over, on both sides: the child never uses this heap again unless it
  // forks, and the parent's blocks wait for its next fork, so the copy's
  // buffers (a megabyte to send, one to receive, the reclaim's) would
  // otherwise stay resident for the process's life, outside any budget.
  void Trim() {
    Lock();
    for (size_t c = kTrimClass; c < 64; c++)
      for (void** list : {&free_[c], &aligned_free_[c]})
        for (void* p = *list; p; p = *static_cast<void**>(p)) {
          const uintptr_t b = (U(p) + sizeof(void*) + kPageBytes - 1) & ~(kPageBytes - 1);
          const uintptr_t e = (U(p) + (uintptr_t{1} << c)) & ~(kPageBytes - 1);
          if (b < e) (void)::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
        }
    Unlock();
  }
  // In a fork child (one thread): a lock another thread of the parent held
  // at fork time is free. The lists stay valid: a push stores the link
  // before the head.
  void AfterFork() { lock_.clear(std::memory_order_relaxed); }

 private:
  static constexpr size_t kNoClass = ~size_t{0};
  static constexpr size_t kAligned = 64;  // class + kAligned: an aligned block's
  static constexpr size_t kPageBytes = 4096;
  static constexpr size_t kTrimClass = 13;  // 8 KiB: blocks with a whole page past their first
  static size_t Class(size_t n) {
    size_t c = 4;  // 16 bytes: room for the free-list link
    while ((size_t{1} << c) < n) c++;
    return c;
  }
  // A block of class c for n bytes: the head of `list`, or a new one of
  // 2^c bytes at `align` whose header names `header_class`.
  void* FromClass(void** list, size_t c, size_t align, size_t header_class, size_t n) {
    Lock();
    if (void* p = *list) {
      *list = *static_cast<void**>(p);
      Unlock();
      static_cast<size_t*>(p)[-1] = n;
      return p;
    }
    Unlock();
    void* p = Bump(size_t{1} << c, align);
    if (p) Header(p, header_class, n);
    return p;
  }
  static void Header(void* p, size_t c, size_t n) {
    static_cast<size_t*>(p)[-2] = c;
    static_cast<size_t*>(p)[-1] = n;
  }
  void* Bump(size_t n, size_t align) {
    align = align < 16 ? 16 : align;
    const size_t need = (n + align + 16 + 15) & ~size_t{15};
    const size_t at = used_.fetch_add(need, std::memory_order_relaxed);
    if (at + need > kBytes) return (errno = ENOMEM, nullptr);
    return reinterpret_cast<void*>((U(base_ + at) + 16 + align - 1) & ~(uintptr_t{align} - 1));
  }
  void Lock() {
    while (lock_.test_and_set(std::memory_order_acquire)) {
    }
  }
  void Unlock() { lock_.clear(std::memory_order_release); }
  uint8_t* base_ = nullptr;
  std::atomic<size_t> used_{0};
  std::atomic_flag lock_ = ATOMIC_FLAG_INIT;
  void* free_[64] = {};
  void* aligned_free_[64] = {};
};
SetupHeap g_setup_heap;
std::atomic<bool> g_in_setup{false};          // a fork child before its copy is complete
pid_t (*g_libc_fork)() = nullptr;             // the C library's fork
pid_t (*g_libc_underscore_fork)() = nullptr;  // and _Fork

// The parent's forking thread while AnonSpace::Fork sends the region to
// the child: its allocations come from the setup heap too. mimalloc keeps
// a thread's free spans of all its segments, the region arena's and kernel
// memory's alike, in queues linked through the segments themselves; an
// allocation that made a kernel-memory segment during the copy wrote
// pointers to it into region pages the copy then sent, and the child
// followed them into memory it never had (SIGSEGV in mimalloc: the
// debug-full suite's `sh -c 'x=$(echo hi | tr a-z A-Z)'`). The program's
// other threads are stopped meanwhile (StopOtherThreads).
__attribute__((tls_model("initial-exec"))) thread_local bool t_copying = false;
// What that thread frees of mimalloc's meanwhile waits in its own list
// (in the setup heap, kept for the next fork): a free that empties a page
// gives its span back, relinking the same queues. Per thread: another
// thread's fork may begin before this one has freed its list.
__attribute__((tls_model("initial-exec"))) thread_local void** t_deferred = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local size_t t_deferred_n = 0;
__attribute__((tls_model("initial-exec"))) thread_local size_t t_deferred_cap = 0;
bool DeferFree(void* p) {
  if (t_deferred_n == t_deferred_cap) {
    const size_t cap = t_deferred_cap ? 2 * t_deferred_cap : 64;
    void** grown = static_cast<void**>(g_setup_heap.Alloc(cap * sizeof(void*), 16));
    if (!grown) return false;  // no room: freed at once
    if (t_deferred) {
      std::memcpy(grown, t_deferred, t_deferred_n * sizeof(void*));
      g_setup_heap.Free(t_deferred);
    }
    t_deferred = grown;
    t_deferred_cap = cap;
  }
  t_deferred[t_deferred_n++] = p;
  return true;
}

// The numbered entries of a /proc directory (/proc/self/fd, /proc/self/task),
// ascending. drop_own_fd: without the descriptor that reads the directory
// (listing /proc/self/fd).
std::vector<int> NumberedEntries(const char* dir, bool drop_own_fd) {
  std::vector<int> out;
  DIR* d = ::opendir(dir);
  if (!d) return out;
  while (dirent* ent = ::readdir(d))
    if (ent->d_name[0] != '.') out.push_back(std::atoi(ent->d_name));
  if (drop_own_fd) std::erase(out, ::dirfd(d));
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// ---- stopping the program's other threads for a fork --------------------
// The kernel's fork is a snapshot: dup_mmap write-protects the parent's
// pages under its mmap_lock, so a thread that writes meanwhile waits, and
// the child gets the memory of one instant. AnonSpace::Fork instead sends
// the region's pages one by one after the kernel's fork; a thread that
// kept running would be copied torn — some of its writes in the child,
// others not — and a thread that allocated would leave pointers to kernel
// memory the child never got in mimalloc's queues (see t_copying). So the
// forking thread first stops every other program thread with a signal
// (the way a garbage collector stops the world), forks, sends the copy,
// and lets them go.
//  - A thread inside the engine or mimalloc stops when it leaves them
//    (t_stop_pending): there it may hold the locks the copy needs, and
//    mimalloc's structures are only consistent between calls.
//  - Engine threads are never stopped: they serve the faults of the copy.
//  - A thread that blocks the signal, or a program that took it over, is
//    not stopped (the copy is then not a snapshot for it: doc/run.md).
//  - If the kernel's fork has not returned 2 s after the stop (a stopped
//    thread may hold a lock of the C library's fork or of an atfork
//    handler), the stopped threads go on: a fork never hangs for this.
// Forks are serialised (g_fork_mu), and a thread waiting for that lock
// stops like any other.
constexpr int kMaxEngineThreads = 256;
std::atomic<pid_t> g_engine_tids[kMaxEngineThreads];
std::atomic<int> g_engine_ntids{0};
std::atomic<uint32_t> g_stop_gen{0};  // odd while a fork holds the other threads
std::atomic<uint32_t> g_parked{0};    // threads stopped in this round
std::atomic<bool> g_stop_forked{false};
std::atomic<int64_t> g_stop_started_ns{0};
constexpr int64_t kStopStallNs = 2'000'000'000;
pthread_mutex_t g_fork_mu = PTHREAD_MUTEX_INITIALIZER;
bool g_stop_installed = false;  // StopHandler is the stop signal's handler since start

int StopSignal() { return SIGRTMAX - 2; }
int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000 + ts.tv_nsec;
}
long Futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, timeout, nullptr, 0);
}

void RegisterEngineThread() {
  const int i = g_engine_ntids.fetch_add(1, std::memory_order_acq_rel);
  if (i < kMaxEngineThreads) g_engine_tids[i].store(gettid(), std::memory_order_release);
}
bool IsEngineThread(pid_t tid) {
  const int n = std::min(g_engine_ntids.load(std::memory_order_acquire), kMaxEngineThreads);
  for (int i = 0; i < n; i++)
    if (g_engine_tids[i].load(std::memory_order_acquire) == tid) return true;
  return false;
}

// Async-signal-safe: atomics and futex only.
void ParkForFork() {
  t_stop_pending = false;
  const uint32_t gen = g_stop_gen.load(std::memory_order_acquire);
  if ((gen & 1) == 0 || t_parked_gen == gen) return;  // that fork is over, or counted
  t_parked_gen = gen;
  g_parked.fetch_add(1, std::memory_order_acq_rel);
  (void)Futex(&g_parked, FUTEX_WAKE_PRIVATE, 1, nullptr);
  const timespec slice = {0, 50'000'000};
  while (g_stop_gen.load(std::memory_order_acquire) == gen) {
    if (!g_stop_forked.load(std::memory_order_acquire) &&
        MonotonicNs() - g_stop_started_ns.load(std::memory_order_relaxed) > kStopStallNs)
      break;  // the fork stalls before the kernel's fork: maybe on a lock this thread holds
    (void)Futex(&g_stop_gen, FUTEX_WAIT_PRIVATE, gen, &slice);
  }
}
void StopHandler(int, siginfo_t*, void*) {
  const int saved = errno;
  if (t_engine || t_alloc) {
    t_stop_pending = true;
  } else {
    ParkForFork();
  }
  errno = saved;
}
void InstallStopHandler() {
  // A handler a library's constructor installed before ours stays: forks
  // then copy without stopping (as when the program takes it over later).
  struct sigaction before = {};
  if (sigaction(StopSignal(), nullptr, &before) != 0 || before.sa_handler != SIG_DFL) return;
  struct sigaction sa = {};
  sa.sa_sigaction = &StopHandler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  // The program's handlers must not run on a stopped thread (they would
  // write its memory during the copy): other signals wait, except the
  // synchronous ones, which a blocked mask turns into a kill (a fault in
  // this handler itself, on a poisoned stack page).
  sigfillset(&sa.sa_mask);
  for (int sync : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP}) sigdelset(&sa.sa_mask, sync);
  g_stop_installed = sigaction(StopSignal(), &sa, nullptr) == 0;
}

// Whether thread `tid` has the stop signal blocked (/proc/self/task/TID/status).
bool StopSignalBlocked(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/status", static_cast<int>(tid));
  char buf[4096];
  if (!ReadSmallFile(path, buf, sizeof(buf))) return true;  // gone
  const char* at = std::strstr(buf, "SigBlk:");
  if (!at) return false;
  const unsigned long long blocked = std::strtoull(at + 7, nullptr, 16);
  return (blocked >> (StopSignal() - 1)) & 1;
}

// Stops the program's other threads (see above); ResumeOtherThreads lets
// them go. REQUIRES: g_fork_mu.
void StopOtherThreads() {
  g_parked.store(0, std::memory_order_relaxed);
  g_stop_forked.store(false, std::memory_order_relaxed);
  g_stop_started_ns.store(MonotonicNs(), std::memory_order_relaxed);
  g_stop_gen.fetch_add(1, std::memory_order_acq_rel);  // odd: stopping
  struct sigaction now = {};
  if (!g_stop_installed || sigaction(StopSignal(), nullptr, &now) != 0 ||
      now.sa_sigaction != &StopHandler)
    return;  // the program took the signal over
  const pid_t self = gettid(), pid = getpid();
  std::vector<pid_t> sent;
  // Rounds until no new thread shows up: a thread not yet stopped may have
  // started one after the list was read.
  for (bool fresh = true; fresh;) {
    fresh = false;
    for (const pid_t tid : NumberedEntries("/proc/self/task", /*drop_own_fd=*/false)) {
      if (tid == self || IsEngineThread(tid)) continue;
      if (std::find(sent.begin(), sent.end(), tid) != sent.end()) continue;
      if (StopSignalBlocked(tid)) continue;
      if (syscall(SYS_tgkill, pid, tid, StopSignal()) != 0) continue;
      sent.push_back(tid);
      fresh = true;
    }
    // Until each has stopped or is gone, or the stall limit passes.
    for (;;) {
      const uint32_t parked = g_parked.load(std::memory_order_acquire);
      uint32_t live = 0;
      for (pid_t tid : sent) live += syscall(SYS_tgkill, pid, tid, 0) == 0;
      if (parked >= live) break;
      if (MonotonicNs() - g_stop_started_ns.load(std::memory_order_relaxed) > kStopStallNs) {
        fresh = false;
        break;
      }
      const timespec slice = {0, 1'000'000};
      (void)Futex(&g_parked, FUTEX_WAIT_PRIVATE, parked, &slice);
    }
  }
}
void ResumeOtherThreads() {
  g_stop_gen.fetch_add(1, std::memory_order_acq_rel);  // even: go on
  (void)Futex(&g_stop_gen, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
}

bool InSetup() { return t_copying || g_in_setup.load(std::memory_order_relaxed); }
// The fork AnonSpace::Fork calls: the child allocates from the setup heap
// from its first instruction on, the parent's forking thread until the
// copy is sent (ForkWith).
template <pid_t (**kLibcFork)()>
pid_t ForkIntoSetup() {
  const pid_t pid = (*kLibcFork)();
  if (pid == 0) {
    g_setup_heap.AfterFork();
    g_in_setup.store(true, std::memory_order_relaxed);
    // The only thread: the parent's engine threads and stopped ones are not here.
    g_engine_ntids.store(0, std::memory_order_relaxed);
    g_stop_gen.store(0, std::memory_order_relaxed);
  } else if (pid > 0) {
    t_copying = true;
  }
  g_stop_forked.store(true, std::memory_order_release);
  return pid;
}

void Warn(const std::string& what) {
  std::string line = "uswap run: " + what + "\n";
  (void)!::write(2, line.data(), line.size());
}

[[noreturn]] void Die(const std::string& what) {
  Warn(what);
  _exit(125);
}

// At exit: the counters to --stats FILE, and the stats socket (if the
// program published one) removed. The Space itself is never destroyed
// (other threads may run until _exit), so its destructor cannot do this.
void AtExit() {
  EngineScope e;
  if (!Ready()) return;
  const std::string socket = ImplOf(g_space->space())->stats_socket();
  if (!socket.empty()) ::unlink(socket.c_str());
  if (Status s = ImplOf(g_space->space())->FlushFaultTrace(); !s.ok())
    Warn("--record-faults: " + s.ToString());
  if (!g_stats_file) return;
  std::string text = g_space->space().stats().ToText();
  FILE* f = std::fopen(g_stats_file->c_str(), "w");
  if (!f) return;
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

// Creates a swap area of `bytes` in `dir` (0600, allocated: the engine
// refuses files with holes, as swapon(2) does), for this process only; the
// caller unlinks it once the Space holds it open.
Result<std::string> MakeOwnSwap(const std::string& dir, uint64_t bytes) {
  for (int attempt = 0; attempt < 16; attempt++) {
    std::string path =
        dir + "/uswap-run-" + std::to_string(getpid()) + "-" + std::to_string(attempt) + ".swap";
    Result<SwapAreaInfo> made = MakeSwapArea(path, bytes);
    if (made.ok()) return path;
    if (!made.status().IsBusy()) return made.status();  // Busy: the name exists
  }
  return Status::Busy("no free swap file name in " + dir);
}

// The tree's shared RAM budget (RunSettings::budget_fd), or -1 with one
// line saying why this process has a budget of its own. Found, in order:
// the inherited descriptor, else the same number in the parent or in the
// first process (/proc/PID/fd/N: a program may close descriptors it did not
// open, e.g. Python's subprocess), each checked by its inode. A descriptor
// found by path moves to the advertised number when that is free, so that
// this process's children inherit it.
int FindTreeBudget(const RunSettings& settings) {
  if (settings.budget_fd < 0) return -1;
  auto is_budget = [&](int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
           static_cast<uint64_t>(st.st_ino) == settings.budget_inode;
  };
  const int n = settings.budget_fd;
  if (is_budget(n)) return n;
  for (pid_t holder : {::getppid(), settings.top_pid}) {
    const std::string path = "/proc/" + std::to_string(holder) + "/fd/" + std::to_string(n);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid() || !is_budget(fd.get())) continue;
    if (::fcntl(n, F_GETFD) == -1 && errno == EBADF && ::dup2(fd.get(), n) == n) return n;
    return fd.Release();
  }
  Warn("this process (pid " + std::to_string(::getpid()) +
       ") could not find the tree's shared RAM budget (descriptor " + std::to_string(n) +
       " was closed, and its parent and the first process no longer hold it): it runs with a "
       "RAM budget of its own");
  return -1;
}

// --stats FILE and --record-faults FILE: FILE for the first process,
// FILE.PID for every other one.
std::string PerProcess(const std::string& file, bool top) {
  return top ? file : file + "." + std::to_string(getpid());
}

// Whether this process may lock memory past RLIMIT_MEMLOCK (CAP_IPC_LOCK
// in its effective set, /proc/self/status).
bool CanLockUnlimited() {
  char buf[4096];
  if (!ReadSmallFile("/proc/self/status", buf, sizeof buf)) return false;
  const char* cap = std::strstr(buf, "\nCapEff:");
  if (!cap) return false;
  const unsigned long long eff = std::strtoull(cap + 8, nullptr, 16);
  return eff & (1ull << 14);  // CAP_IPC_LOCK
}

// The Config of this process's Space. The first process uses the swap area
// `uswap run` was given, if any; every other one (exec'd, spawned, forked)
// creates its own, whose path goes to *own: the caller unlinks it once the
// Space holds it open, so that nothing is left behind however the process
// ends.
Result<Config> ProcessConfig(const RunSettings& settings, bool top, std::string* own) {
  Config config;
  config.ram_budget_bytes = settings.ram_bytes;
  // mlock and mlockall are limited as the kernel limits them (RLIMIT_MEMLOCK
  // without CAP_IPC_LOCK), and to the engine's default share of the budget.
  config.mlock_limit_bytes = settings.ram_bytes / 4 * 3;
  struct rlimit memlock;
  if (!CanLockUnlimited() && ::getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 &&
      memlock.rlim_cur != RLIM_INFINITY)
    config.mlock_limit_bytes = std::min<size_t>(config.mlock_limit_bytes, memlock.rlim_cur);
  config.shared_budget_fd = g_budget_fd;
  config.shared_budget_counts_process = settings.count_process;
  if (!settings.compress.empty()) config.compress = settings.compress;
  if (!settings.policy.empty()) config.reclaim_policy = settings.policy;
  if (!settings.record_file.empty()) config.record_faults = PerProcess(settings.record_file, top);
  // Handler threads poll for the next fault by default: measured, that won
  // even against a program keeping both CPUs busy (doc/run.md).
  if (settings.handler_poll_us >= 0)
    config.handler_poll_us = static_cast<unsigned>(settings.handler_poll_us);
  if (top && !settings.swap_file.empty()) {
    config.swap_areas.push_back({settings.swap_file});
  } else {
    // Every process of the tree holds an area of its own (allocated: the
    // engine refuses holes, as swapon does): a later one takes at most a
    // quarter of the room left, so that a pool of workers cannot fill the
    // disk with areas.
    uint64_t bytes = settings.swap_bytes;
    struct statvfs fs;
    if (!top && ::statvfs(settings.swap_dir.c_str(), &fs) == 0)
      bytes = std::min<uint64_t>(bytes, uint64_t{fs.f_bavail} * fs.f_frsize / 4 & ~uint64_t{4095});
    if (bytes < 64 * 4096)
      return Status::NoSpace(settings.swap_dir + ": no room left for a swap area of this process");
    USWAP_ASSIGN_OR_RETURN(*own, MakeOwnSwap(settings.swap_dir, bytes));
    config.swap_areas.push_back({*own});
  }
  return config;
}

// The open file descriptors, ascending.
std::vector<int> OpenFds() { return NumberedEntries("/proc/self/fd", /*drop_own_fd=*/true); }
// The descriptors in `after` and not in `before`: the ones the engine
// opened meanwhile (the shim opens its Space before the program runs, and
// a fork child while it is the only thread).
std::vector<int>* NewFds(const std::vector<int>& before) {
  auto* out = new std::vector<int>();
  const std::vector<int> after = OpenFds();
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(*out));
  return out;
}

std::string StatsFile(bool top) { return PerProcess(g_settings->stats_file, top); }

void Start() {
  EngineScope e;
  Result<RunSettings> settings = RunSettings::Decode();
  if (!settings.ok()) {
    if (settings.status().IsNotFound()) return;  // preloaded by hand: stay dormant
    Die(settings.status().ToString());
  }
  g_settings = new RunSettings(*settings);
  dl_iterate_phdr(&AddCLibraryCode, nullptr);
  const bool top = settings->top_pid == getpid();
  g_budget_fd = FindTreeBudget(*settings);  // before `before`: not an engine descriptor
  std::string own;
  Result<Config> config = ProcessConfig(*settings, top, &own);
  if (!config.ok()) Die(config.status().ToString());
  const std::vector<int> before = OpenFds();
  Result<std::unique_ptr<AnonSpace>> as = AnonSpace::Open(*config, AnonSpace::Layout{});
  if (!own.empty()) ::unlink(own.c_str());
  if (!as.ok()) Die(as.status().ToString());
  g_engine_fds = NewFds(before);
  {
    AllocScope a;
    if (!mi_manage_os_memory_ex((*as)->heap_begin(), (*as)->heap_bytes(), /*is_committed=*/true,
                                /*is_large=*/false, /*is_zero=*/true, /*numa_node=*/-1,
                                /*exclusive=*/true, &g_arena))
      Die("mimalloc refused the heap arena");
  }
  g_space = as->release();
  if (!settings->stats_file.empty()) g_stats_file = new std::string(StatsFile(top));
  std::atexit(AtExit);
  InstallStopHandler();
  g_state.store(kReady, std::memory_order_release);
}

__attribute__((constructor)) void UswapRunInit() { Start(); }

struct EngineStart {
  void* (*fn)(void*);
  void* arg;
};
void* EngineTrampoline(void* p) {
  EngineStart s = *static_cast<EngineStart*>(p);
  {
    EngineScope e;
    delete static_cast<EngineStart*>(p);
  }
  t_engine = 1;  // for the thread's whole life
  RegisterEngineThread();
  return s.fn(s.arg);
}

template <typename F>
F Next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace
}  // namespace uswap

using namespace uswap;  // NOLINT: the exported C entry points below

// ---- the malloc family ----------------------------------------------------

USWAP_EXPORT void* malloc(size_t n) noexcept {
  if (InSetup()) return g_setup_heap.Alloc(n, 16);
  mi_heap_t* h = ProgramHeap(__builtin_return_address(0));
  AllocScope a;
  return h ? mi_heap_malloc(h, n) : mi_malloc(n);
}
USWAP_EXPORT void* calloc(size_t count, size_t size) noexcept {
  if (InSetup()) {
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) return (errno = ENOMEM, nullptr);
    void* p = g_setup_heap.Alloc(n, 16);
    if (p) std::memset(p, 0, n);  // a block freed before is not
    return p;
  }
  mi_heap_t* h = ProgramHeap(__builtin_return_address(0));
  AllocScope a;
  return h ? mi_heap_calloc(h, count, size) : mi_calloc(count, size);
}
USWAP_EXPORT void* realloc(void* p, size_t n) noexcept {
  if (InSetup() || g_setup_heap.Owns(p)) {
    void* q = InSetup() ? g_setup_heap.Alloc(n, 16) : malloc(n);
    if (q && p) {
      const size_t old = g_setup_heap.Owns(p) ? SetupHeap::SizeOf(p) : mi_usable_size(p);
      std::memcpy(q, p, old < n ? old : n);
      free(p);
    }
    return q;
  }
  mi_heap_t* h = ProgramHeap(__builtin_return_address(0));
  AllocScope a;
  return h ? mi_heap_realloc(h, p, n) : mi_realloc(p, n);
}
USWAP_EXPORT void* reallocarray(void* p, size_t count, size_t size) noexcept {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, n);
}
USWAP_EXPORT void free(void* p) noexcept {
  if (g_setup_heap.Owns(p)) return g_setup_heap.Free(p);
  if (p && t_copying && DeferFree(p)) return;
  AllocScope a;
  mi_free(p);
}
USWAP_EXPORT void cfree(void* p) noexcept { free(p); }
static void* Aligned(size_t align, size_t n, const void* caller) {
  if (InSetup()) return g_setup_heap.Alloc(n, align);
  mi_heap_t* h = ProgramHeap(caller);
  AllocScope a;
  return h ? mi_heap_malloc_aligned(h, n, align) : mi_malloc_aligned(n, align);
}
USWAP_EXPORT int posix_memalign(void** out, size_t align, size_t n) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  void* p = Aligned(align, n, __builtin_return_address(0));
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
USWAP_EXPORT void* aligned_alloc(size_t align, size_t n) noexcept {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return Aligned(align, n, __builtin_return_address(0));
}
USWAP_EXPORT void* memalign(size_t align, size_t n) noexcept {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return Aligned(align, n, __builtin_return_address(0));
}
USWAP_EXPORT void* valloc(size_t n) noexcept {
  return Aligned(4096, n, __builtin_return_address(0));
}
USWAP_EXPORT void* pvalloc(size_t n) noexcept {
  return Aligned(4096, (n + 4095) & ~size_t{4095}, __builtin_return_address(0));
}
USWAP_EXPORT size_t malloc_usable_size(void* p) noexcept {
  if (g_setup_heap.Owns(p)) return SetupHeap::SizeOf(p);
  return p ? mi_usable_size(p) : 0;
}

// ---- C++ new and delete ---------------------------------------------------
// Defined here so that every C++ allocation — the program's and the
// engine's inside this library — goes through the malloc family above:
// otherwise the first definition in the process wins, which is
// libmimalloc's own (bypassing the routing) in a program without
// libstdc++.

#define USWAP_CXX_EXPORT __attribute__((visibility("default")))

static void* NewOrThrow(size_t n, size_t align) {
  for (;;) {
    void* p = align ? Aligned(align, n ? n : 1, nullptr) : malloc(n ? n : 1);
    if (p) return p;
    std::new_handler handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}
static void* NewOrNull(size_t n, size_t align) noexcept {
  try {
    return NewOrThrow(n, align);
  } catch (...) {
    return nullptr;
  }
}
static size_t A(std::align_val_t a) { return static_cast<size_t>(a); }

USWAP_CXX_EXPORT void* operator new(size_t n) { return NewOrThrow(n, 0); }
USWAP_CXX_EXPORT void* operator new[](size_t n) { return NewOrThrow(n, 0); }
USWAP_CXX_EXPORT void* operator new(size_t n, const std::nothrow_t&) noexcept {
  return NewOrNull(n, 0);
}
USWAP_CXX_EXPORT void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return NewOrNull(n, 0);
}
USWAP_CXX_EXPORT void* operator new(size_t n, std::align_val_t a) { return NewOrThrow(n, A(a)); }
USWAP_CXX_EXPORT void* operator new[](size_t n, std::align_val_t a) { return NewOrThrow(n, A(a)); }
USWAP_CXX_EXPORT void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return NewOrNull(n, A(a));
}
USWAP_CXX_EXPORT void* operator new[](size_t n, std::align_val_t a,
                                      const std::nothrow_t&) noexcept {
  return NewOrNull(n, A(a));
}
USWAP_CXX_EXPORT void operator delete(void* p) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete[](void* p) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete(void* p, size_t) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete[](void* p, size_t) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete(void* p, std::align_val_t) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }
USWAP_CXX_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  free(p);
}
USWAP_CXX_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  free(p);
}

// ---- anonymous memory -----------------------------------------------------

USWAP_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  if (t_engine || !Ready() || len == 0) return SysMmap(addr, len, prot, flags, fd, off);
  AnonSpace* as = g_space;
  const bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  const bool anon_private = (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
                            !(flags & (MAP_HUGETLB | MAP_GROWSDOWN | MAP_32BIT));
  if (fixed && as->Overlaps(U(addr), len)) {
    if (U(addr) & 4095) return (errno = EINVAL, MAP_FAILED);
    const bool noreplace = !(flags & MAP_FIXED) && (flags & MAP_FIXED_NOREPLACE);
    EngineScope e;
    for (const AnonSpace::Piece& p : as->Split(U(addr), len)) {
      void* at = reinterpret_cast<void*>(p.range.begin);
      if (p.owned && anon_private) {
        if (int err = as->MapFixed(p.range.begin, p.range.size(), prot, noreplace); err != 0)
          return (errno = err, MAP_FAILED);
        continue;
      }
      if (p.owned) {  // a file or shared mapping over region memory
        if (noreplace) return (errno = EEXIST, MAP_FAILED);
        if (int err = as->Cover(p.range.begin, p.range.size()); err != 0)
          return (errno = err, MAP_FAILED);
      }
      const off_t piece_off = off + static_cast<off_t>(p.range.begin - U(addr));
      if (SysMmap(at, p.range.size(), prot, flags, fd, (flags & MAP_ANONYMOUS) ? 0 : piece_off) ==
          MAP_FAILED)
        return MAP_FAILED;
    }
    return addr;
  }
  if (!fixed && anon_private && !t_alloc) {
    uintptr_t at = 0;
    EngineScope e;
    if (as->Map(len, prot, &at) == 0) return reinterpret_cast<void*>(at);
    // No room left in the map area: the kernel's memory, outside the budget.
  }
  return SysMmap(addr, len, prot, flags, fd, off);
}
USWAP_EXPORT void* mmap64(void*, size_t, int, int, int, off_t) noexcept
    __attribute__((alias("mmap")));

USWAP_EXPORT int munmap(void* addr, size_t len) noexcept {
  if (t_engine || !Ready() || !g_space->Overlaps(U(addr), len))
    return static_cast<int>(syscall(SYS_munmap, addr, len));
  if ((U(addr) & 4095) || len == 0) return Fail(EINVAL);
  AnonSpace* as = g_space;
  EngineScope e;
  for (const AnonSpace::Piece& p : as->Split(U(addr), len)) {
    if (p.owned) {
      if (int err = as->Unmap(p.range.begin, p.range.size()); err != 0) return Fail(err);
    } else if (syscall(SYS_munmap, p.range.begin, p.range.size()) != 0) {
      return -1;
    } else if (as->Overlaps(p.range.begin, p.range.size())) {
      if (int err = as->UnmapForeign(p.range.begin, p.range.size()); err != 0) return Fail(err);
    }
  }
  return 0;
}

USWAP_EXPORT void* mremap(void* old, size_t old_len, size_t new_len, int flags, ...) noexcept {
  void* new_addr = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  const bool ours = !t_engine && Ready();
  if (!ours || !g_space->Overlaps(U(old), old_len ? old_len : 1)) {
    if (ours && (flags & MREMAP_FIXED) && g_space->Overlaps(U(new_addr), new_len))
      return (errno = EINVAL, MAP_FAILED);
    return reinterpret_cast<void*>(syscall(SYS_mremap, old, old_len, new_len, flags, new_addr));
  }
  uintptr_t out = 0;
  EngineScope e;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
    // Both need MREMAP_MAYMOVE (mremap(2)).
    if (!(flags & MREMAP_MAYMOVE)) return (errno = EINVAL, MAP_FAILED);
    std::optional<uintptr_t> fixed;
    if (flags & MREMAP_FIXED) fixed = U(new_addr);
    if (int err = g_space->Move(U(old), old_len, new_len, fixed, flags & MREMAP_DONTUNMAP, &out);
        err != 0)
      return (errno = err, MAP_FAILED);
    return reinterpret_cast<void*>(out);
  }
  if (int err = g_space->Remap(U(old), old_len, new_len, flags & MREMAP_MAYMOVE, &out); err != 0)
    return (errno = err, MAP_FAILED);
  return reinterpret_cast<void*>(out);
}

USWAP_EXPORT int madvise(void* addr, size_t len, int advice) noexcept {
  // Inside mimalloc (t_alloc) too: its purges of the heap are discards.
  if (t_engine || !Ready() || !g_space->Overlaps(U(addr), len))
    return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
  if (U(addr) & 4095) return Fail(EINVAL);
  EngineScope e;
  for (const AnonSpace::Piece& p : g_space->Split(U(addr), len)) {
    if (p.owned) {
      if (int err = g_space->Advise(p.range.begin, p.range.size(), advice); err != 0)
        return Fail(err);
    } else if (syscall(SYS_madvise, p.range.begin, p.range.size(), advice) != 0) {
      return -1;
    }
  }
  return 0;
}
USWAP_EXPORT int posix_madvise(void* addr, size_t len, int advice) noexcept {
  // POSIX_MADV_DONTNEED is a hint that glibc ignores; so does uswap.
  if (advice == POSIX_MADV_DONTNEED) return 0;
  return madvise(addr, len, advice) == 0 ? 0 : errno;
}

static int LockRange(const void* addr, size_t len, bool lock, long sys, unsigned flags) {
  if (t_engine || !Ready() || !g_space->Overlaps(U(addr), len))
    return static_cast<int>(sys == SYS_mlock2 ? syscall(sys, addr, len, flags)
                                              : syscall(sys, addr, len));
  EngineScope e;
  for (const AnonSpace::Piece& p : g_space->Split(U(addr), len)) {
    int err = 0;
    if (p.owned)
      err = lock ? g_space->Lock(p.range.begin, p.range.size())
                 : g_space->Unlock(p.range.begin, p.range.size());
    else if (syscall(lock ? SYS_mlock : SYS_munlock, p.range.begin, p.range.size()) != 0)
      err = errno;
    if (err) return Fail(err);
  }
  return 0;
}
USWAP_EXPORT int mlock(const void* addr, size_t len) noexcept {
  return LockRange(addr, len, true, SYS_mlock, 0);
}
USWAP_EXPORT int mlock2(const void* addr, size_t len, unsigned flags) noexcept {
  return LockRange(addr, len, true, SYS_mlock2, flags);
}
USWAP_EXPORT int munlock(const void* addr, size_t len) noexcept {
  return LockRange(addr, len, false, SYS_munlock, 0);
}
// mlockall(MCL_CURRENT) outside the region: the mappings of files (the
// program's code and data, the libraries') and the main thread's stack,
// one mlock(2) each. Anonymous mappings outside the region are uswap's own
// (its reservations, which the kernel would populate whole) or memory
// shared with other processes: left alone. Returns an errno value.
static int LockKernelMappings() {
  Result<std::vector<ProcMapping>> maps = ReadProcMaps();
  if (!maps.ok()) return EIO;
  for (const ProcMapping& m : *maps) {
    const bool file = m.name.starts_with('/') && !m.name.ends_with(" (deleted)");
    if ((!file && m.name != "[stack]") || g_space->Overlaps(m.range.begin, m.range.size()))
      continue;
    if (syscall(SYS_mlock, m.range.begin, m.range.size()) != 0) return errno;
  }
  return 0;
}

USWAP_EXPORT int mlockall(int flags) noexcept {
  if (t_engine || !Ready()) return static_cast<int>(syscall(SYS_mlockall, flags));
  // Never the kernel's mlockall: it would populate the whole region (tens
  // of GiB of address space) and every reservation of the engine.
  EngineScope e;
  if (int err = g_space->LockAll(flags); err != 0) return Fail(err);
  if (flags & MCL_CURRENT)
    if (int err = LockKernelMappings(); err != 0) return Fail(err);
  return 0;
}

USWAP_EXPORT int munlockall() noexcept {
  if (t_engine || !Ready()) return static_cast<int>(syscall(SYS_munlockall));
  EngineScope e;
  if (int err = g_space->UnlockAll(); err != 0) return Fail(err);
  // The kernel's own mappings (LockKernelMappings): munlockall unlocks them
  // and clears nothing else, since the shim never sets MCL_FUTURE there.
  return static_cast<int>(syscall(SYS_munlockall));
}

// ---- processes and threads ------------------------------------------------

// fork() and _Fork(): the child gets a private copy of the parent's uswap
// memory in a Space of its own, with its own budget and swap area
// (AnonSpace::Fork, run/fork.cc).
static pid_t ForkWith(pid_t (*into_setup)(), const char* name) {
  // Taken before the engine scope: a thread waiting here stops for the
  // fork that holds it.
  pthread_mutex_lock(&g_fork_mu);
  struct Unlock {
    ~Unlock() { pthread_mutex_unlock(&g_fork_mu); }
  } unlock;
  EngineScope e;
  if (!g_setup_heap.Reserve()) {
    Warn(std::string(name) + "() failed: no address space for the child's setup heap");
    return Fail(ENOMEM);
  }
  std::vector<int> before;
  auto open_space = [&before]() -> Result<std::unique_ptr<Space>> {
    // The parent's memfd, userfaultfd, swap area and sockets: a child that
    // kept them would keep the parent's memory alive after it exits.
    for (int fd : *g_engine_fds) ::close(fd);
    std::string own;
    USWAP_ASSIGN_OR_RETURN(Config config, ProcessConfig(*g_settings, /*top=*/false, &own));
    before = OpenFds();
    Result<std::unique_ptr<Space>> space = SpaceImpl::OpenStopped(config);
    if (!own.empty()) ::unlink(own.c_str());
    return space;
  };
  std::string why;
  StopOtherThreads();  // nothing returns before the resume below
  const pid_t pid = g_space->Fork(into_setup, open_space, &why);
  if (pid != 0) ResumeOtherThreads();  // (the child has no other thread)
  t_copying = false;                   // the copy is sent (or the child is gone)
  for (size_t i = 0; i < t_deferred_n; i++) free(t_deferred[i]);
  t_deferred_n = 0;
  g_setup_heap.Trim();  // the copy's buffers, in the parent and in the child
  if (pid < 0) {
    const int err = errno;
    Warn(std::string(name) + "() failed: " + why);
    errno = err;
    return -1;
  }
  if (pid == 0) {
    g_in_setup.store(false, std::memory_order_relaxed);  // the region is back: mimalloc again
    delete g_engine_fds;
    g_engine_fds = NewFds(before);
    if (g_stats_file) *g_stats_file = StatsFile(/*top=*/false);
  }
  return pid;
}
USWAP_EXPORT pid_t fork(void) noexcept {
  static auto real = g_libc_fork = Next<pid_t (*)()>("fork");
  if (Ready() && !t_engine) return ForkWith(&ForkIntoSetup<&g_libc_fork>, "fork");
  return real();
}
USWAP_EXPORT pid_t _Fork(void) noexcept {
  static auto real = g_libc_underscore_fork = Next<pid_t (*)()>("_Fork");
  if (Ready() && !t_engine) return ForkWith(&ForkIntoSetup<&g_libc_underscore_fork>, "_Fork");
  return real();
}

USWAP_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*),
                                void* arg) noexcept {
  static auto real =
      Next<int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*)>("pthread_create");
  if (!t_engine) return real(thread, attr, fn, arg);
  // An engine thread's stack comes from kernel memory. Program threads'
  // stacks are anonymous mmaps, so in the region; glibc caches the stack of
  // an exited thread (and, in a fork child, of every thread but the
  // caller) and would hand it to the next thread: an engine thread must
  // never run on memory the engine pages. The stack lives as long as the
  // process (engine threads live as long as the Space). The engine starts
  // its threads with default attributes; other attributes are kept as given.
  pthread_attr_t own;
  if (!attr) {
    constexpr size_t kStack = 8u << 20, kGuard = 4096;
    void* mem = SysMmap(nullptr, kStack + kGuard, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) return EAGAIN;
    ::mprotect(mem, kGuard, PROT_NONE);  // overflow faults instead of overwriting
    pthread_attr_init(&own);
    pthread_attr_setstack(&own, static_cast<uint8_t*>(mem) + kGuard, kStack);
    attr = &own;
  }
  auto* start = new EngineStart{fn, arg};
  int rc = real(thread, attr, &EngineTrampoline, start);
  if (rc != 0) delete start;
  if (attr == &own) pthread_attr_destroy(&own);
  return rc;
}

// ---- O_DIRECT -------------------------------------------------------------

// The program's O_DIRECT is dropped once its memory is uswap memory; the
// engine's own (its swap areas) is kept, and carries kSupervisorPass so that
// the pin guard's filter lets it through (run/pin_guard.h).
static int NoDirect(int flags) {
  if ((flags & O_DIRECT) && Ready() && !t_engine) return flags & ~O_DIRECT;
  return flags;
}
static int OpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  flags = NoDirect(flags);
  return static_cast<int>(
      syscall(SYS_openat, dirfd, path, flags, mode, 0L, (flags & O_DIRECT) ? kSupervisorPass : 0));
}
// The mode argument exists only with O_CREAT or O_TMPFILE.
#define USWAP_MODE_ARG(flags)                                  \
  mode_t mode = 0;                                             \
  if (((flags)&O_CREAT) || ((flags)&O_TMPFILE) == O_TMPFILE) { \
    va_list ap;                                                \
    va_start(ap, flags);                                       \
    mode = va_arg(ap, mode_t);                                 \
    va_end(ap);                                                \
  }
USWAP_EXPORT int open(const char* path, int flags, ...) {
  USWAP_MODE_ARG(flags);
  return OpenAt(AT_FDCWD, path, flags, mode);
}
USWAP_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  USWAP_MODE_ARG(flags);
  return OpenAt(dirfd, path, flags, mode);
}
// _FORTIFY_SOURCE builds call these for an open() without a mode.
USWAP_EXPORT int __open_2(const char* path, int flags) { return OpenAt(AT_FDCWD, path, flags, 0); }
USWAP_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  return OpenAt(dirfd, path, flags, 0);
}
// The 64-bit names are the same calls on a 64-bit system.
USWAP_EXPORT int open64(const char*, int, ...) __attribute__((alias("open")));
USWAP_EXPORT int openat64(int, const char*, int, ...) __attribute__((alias("openat")));
USWAP_EXPORT int __open64_2(const char*, int) __attribute__((alias("__open_2")));
USWAP_EXPORT int __openat64_2(int, const char*, int) __attribute__((alias("__openat_2")));
// fcntl(F_SETFL, O_DIRECT) as open: made buffered. Every other command goes
// to the C library's fcntl unchanged (its argument is an int or a pointer,
// passed on as the C library reads it: one machine word).
USWAP_EXPORT int fcntl(int fd, int cmd, ...) {
  static auto real = Next<int (*)(int, int, ...)>("fcntl");
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (cmd == F_SETFL)
    arg = reinterpret_cast<void*>(
        static_cast<intptr_t>(NoDirect(static_cast<int>(reinterpret_cast<intptr_t>(arg)))));
  return real(fd, cmd, arg);
}
USWAP_EXPORT int fcntl64(int, int, ...) __attribute__((alias("fcntl")));
