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
//  - fork(): refused with a message until the tree manager exists (a
//    child would have no region: MADV_DONTFORK);
//  - open() with O_DIRECT: the flag is dropped, so that the kernel reads
//    into program memory through copy_to_user, which userfaultfd sees
//    (engine audit F3: DMA into a page uswap may evict loses data);
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
#include <dlfcn.h>
#include <fcntl.h>
#include <mimalloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/space_impl.h"
#include "run/anon_space.h"
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

__attribute__((tls_model("initial-exec"))) thread_local int t_engine = 0;
__attribute__((tls_model("initial-exec"))) thread_local int t_alloc = 0;
__attribute__((tls_model("initial-exec"))) thread_local mi_heap_t* t_heap = nullptr;

struct EngineScope {
  EngineScope() { t_engine++; }
  ~EngineScope() { t_engine--; }
};
struct AllocScope {
  AllocScope() { t_alloc++; }
  ~AllocScope() { t_alloc--; }
};

bool Ready() { return g_state.load(std::memory_order_acquire) == kReady; }

// The heap of the calling program thread (in the region's arena), or
// nullptr when allocations must come from kernel memory.
mi_heap_t* ProgramHeap() {
  if (t_engine || t_alloc || !Ready()) return nullptr;
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

void Start() {
  EngineScope e;
  Result<RunSettings> settings = RunSettings::Decode();
  if (!settings.ok()) {
    if (settings.status().IsNotFound()) return;  // preloaded by hand: stay dormant
    Die(settings.status().ToString());
  }
  const bool top = settings->top_pid == getpid();
  Config config;
  config.ram_budget_bytes = settings->ram_bytes;
  if (!settings->compress.empty()) config.compress = settings->compress;
  // Handler threads poll for the next fault by default: measured, that won
  // even against a program keeping both CPUs busy (doc/run.md).
  if (settings->handler_poll_us >= 0)
    config.handler_poll_us = static_cast<unsigned>(settings->handler_poll_us);
  std::string own;
  if (top && !settings->swap_file.empty()) {
    config.swap_areas.push_back({settings->swap_file});
  } else {
    Result<std::string> made = MakeOwnSwap(settings->swap_dir, settings->swap_bytes);
    if (!made.ok()) Die(made.status().ToString());
    own = *made;
    config.swap_areas.push_back({own});
  }
  Result<std::unique_ptr<AnonSpace>> as = AnonSpace::Open(config, AnonSpace::Layout{});
  // The area is open (and flock'ed): its name can go, so that nothing is
  // left behind however the process ends.
  if (!own.empty()) ::unlink(own.c_str());
  if (!as.ok()) Die(as.status().ToString());
  {
    AllocScope a;
    if (!mi_manage_os_memory_ex((*as)->heap_begin(), (*as)->heap_bytes(), /*is_committed=*/true,
                                /*is_large=*/false, /*is_zero=*/true, /*numa_node=*/-1,
                                /*exclusive=*/true, &g_arena))
      Die("mimalloc refused the heap arena");
  }
  g_space = as->release();
  if (!settings->stats_file.empty()) {
    g_stats_file = new std::string(top ? settings->stats_file
                                       : settings->stats_file + "." + std::to_string(getpid()));
  }
  std::atexit(AtExit);
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
  mi_heap_t* h = ProgramHeap();
  AllocScope a;
  return h ? mi_heap_malloc(h, n) : mi_malloc(n);
}
USWAP_EXPORT void* calloc(size_t count, size_t size) noexcept {
  mi_heap_t* h = ProgramHeap();
  AllocScope a;
  return h ? mi_heap_calloc(h, count, size) : mi_calloc(count, size);
}
USWAP_EXPORT void* realloc(void* p, size_t n) noexcept {
  mi_heap_t* h = ProgramHeap();
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
  AllocScope a;
  mi_free(p);
}
USWAP_EXPORT void cfree(void* p) noexcept { free(p); }
static void* Aligned(size_t align, size_t n) {
  mi_heap_t* h = ProgramHeap();
  AllocScope a;
  return h ? mi_heap_malloc_aligned(h, n, align) : mi_malloc_aligned(n, align);
}
USWAP_EXPORT int posix_memalign(void** out, size_t align, size_t n) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  void* p = Aligned(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
USWAP_EXPORT void* aligned_alloc(size_t align, size_t n) noexcept {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return Aligned(align, n);
}
USWAP_EXPORT void* memalign(size_t align, size_t n) noexcept { return aligned_alloc(align, n); }
USWAP_EXPORT void* valloc(size_t n) noexcept { return Aligned(4096, n); }
USWAP_EXPORT void* pvalloc(size_t n) noexcept { return Aligned(4096, (n + 4095) & ~size_t{4095}); }
USWAP_EXPORT size_t malloc_usable_size(void* p) noexcept { return p ? mi_usable_size(p) : 0; }

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
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
    Warn("mremap() with MREMAP_FIXED or MREMAP_DONTUNMAP on uswap memory is not supported yet");
    return (errno = EINVAL, MAP_FAILED);
  }
  uintptr_t out = 0;
  EngineScope e;
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
USWAP_EXPORT int mlockall(int flags) noexcept {
  if (t_engine || !Ready()) return static_cast<int>(syscall(SYS_mlockall, flags));
  // The kernel would fault in the whole region (tens of GiB of address).
  Warn(
      "mlockall() is not supported under uswap run (it would lock the whole uswap region); "
      "mlock() ranges instead");
  return Fail(ENOMEM);
}

// ---- processes and threads ------------------------------------------------

USWAP_EXPORT pid_t fork(void) noexcept {
  static auto real = Next<pid_t (*)()>("fork");
  if (Ready() && !t_engine) {
    Warn(
        "fork() is not supported yet: the child would not have the parent's uswap memory "
        "(posix_spawn, vfork+exec and system() work)");
    return Fail(ENOMEM);
  }
  return real();
}
USWAP_EXPORT pid_t _Fork(void) noexcept {
  static auto real = Next<pid_t (*)()>("_Fork");
  if (Ready() && !t_engine) {
    Warn("_Fork() is not supported yet: the child would not have the parent's uswap memory");
    return Fail(ENOMEM);
  }
  return real();
}

USWAP_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*),
                                void* arg) noexcept {
  static auto real =
      Next<int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*)>("pthread_create");
  if (!t_engine) return real(thread, attr, fn, arg);
  auto* start = new EngineStart{fn, arg};
  int rc = real(thread, attr, &EngineTrampoline, start);
  if (rc != 0) delete start;
  return rc;
}

// ---- O_DIRECT -------------------------------------------------------------

static int NoDirect(int flags) {
  if ((flags & O_DIRECT) && Ready() && !t_engine) return flags & ~O_DIRECT;
  return flags;
}
static int OpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  return static_cast<int>(syscall(SYS_openat, dirfd, path, NoDirect(flags), mode));
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
