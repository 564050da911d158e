/* The programs `uswap run`'s tests run, each with and without uswap run:
 * written against plain libc only, so that they are "unmodified programs".
 * Each mode prints what it computed; the output must be byte-identical
 * under uswap run and without it. Exit status 1 names a failed check.
 *
 *   run_matrix threads MiB      threads writing and verifying their own heap
 *   run_matrix mm MiB           mmap/munmap/mremap/MAP_FIXED/madvise/mprotect/mlock
 *   run_matrix mlockall MiB     mlockall/munlockall: locked heap and mappings, new ones
 *                               under MCL_FUTURE, DONTNEED refused; MiB paged after munlockall;
 *                               ends with mlockall(MCL_CURRENT) in force
 *   run_matrix syscall MiB      read(2) (buffered and O_DIRECT) into swapped-out heap
 *   run_matrix pinguard MiB     calls that would pin heap memory for the kernel, made
 *                               without the C library (O_DIRECT open and fcntl,
 *                               io_uring registered buffers, their iovecs swapped out
 *                               by MiB of other data) and through it; then the same
 *                               raw open in a child without uswap (rawdirect PATH)
 *   run_matrix spawn            posix_spawn, vfork+exec and system() of children
 *   run_matrix fork MiB         fork(): what a child and grandchild read of the parent's memory
 *   run_matrix forkzip MiB      the same with pages that compress 2:1; the child ends with exit()
 *   run_matrix forkwrite MiB    fork() while other threads write MiB and allocate: the
 *                               child's copy is one instant of the parent's memory
 *   run_matrix forkatfork       fork() whose atfork handler takes a lock another thread
 *                               holds most of the time: the fork completes
 *   run_matrix segv             a write to read-only memory: the program's own SIGSEGV
 *   run_matrix exit N           exits with status N
 *   run_matrix wait PATH        fills 64 MiB, then waits (up to 60 s) until PATH exists
 *   run_matrix child X          (spawned) prints X and a checksum of fresh heap memory
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
#define PAGE 4096u
#define MIB (1024u * 1024u)

static int failures = 0;
#define CHECK(cond, what)                                   \
  do {                                                      \
    if (!(cond)) {                                          \
      fprintf(stderr, "run_matrix: FAILED %s (%s:%d)\n", what, __FILE__, __LINE__); \
      failures++;                                           \
    }                                                       \
  } while (0)

/* forkzip: the second half of every page is one word, so that pages
 * compress about 2:1 (into uswap's compressed tier); otherwise nothing does. */
static int compressible = 0;
static uint64_t Word(uint64_t seed, uint64_t i) {
  if (compressible && i % (PAGE / 8) >= PAGE / 16) i -= i % (PAGE / 8);
  return (seed * 0x9E3779B97F4A7C15ull) ^ (i * 0xD6E8FEB86659FD93ull) ^ 1;
}

static void Fill(void* p, size_t bytes, uint64_t seed) {
  uint64_t* w = p;
  for (size_t i = 0; i < bytes / 8; i++) w[i] = Word(seed, i);
}
static int Same(const void* p, size_t bytes, uint64_t seed) {
  const uint64_t* w = p;
  for (size_t i = 0; i < bytes / 8; i++)
    if (w[i] != Word(seed, i)) return 0;
  return 1;
}
static int Zero(const void* p, size_t bytes) {
  const unsigned char* c = p;
  for (size_t i = 0; i < bytes; i++)
    if (c[i]) return 0;
  return 1;
}
static uint64_t Sum(const void* p, size_t bytes) {
  const uint64_t* w = p;
  uint64_t s = 0;
  for (size_t i = 0; i < bytes / 8; i++) s = s * 31 + w[i];
  return s;
}

/* ---- threads ---- */
struct Job { size_t bytes; uint64_t seed; uint64_t sum; int ok; };
/* Every thread holds its blocks until all have written theirs: the peak is
 * the whole workload, whatever the scheduling. */
static pthread_barrier_t filled;
static void* Worker(void* arg) {
  struct Job* j = arg;
  /* Many mid-sized blocks, as a real program's heap holds. */
  size_t n = j->bytes / (256 * 1024);
  char** blocks = malloc(n * sizeof(char*));
  for (size_t i = 0; i < n; i++) {
    blocks[i] = malloc(256 * 1024);
    Fill(blocks[i], 256 * 1024, j->seed * 1000 + i);
  }
  pthread_barrier_wait(&filled);
  j->ok = 1;
  j->sum = 0;
  for (size_t i = 0; i < n; i++) {
    if (!Same(blocks[i], 256 * 1024, j->seed * 1000 + i)) j->ok = 0;
    j->sum += Sum(blocks[i], 256 * 1024);
    free(blocks[i]);
  }
  free(blocks);
  return NULL;
}
static int Threads(size_t mib) {
  enum { kThreads = 4 };
  pthread_t t[kThreads];
  struct Job jobs[kThreads];
  pthread_barrier_init(&filled, NULL, kThreads);
  for (int i = 0; i < kThreads; i++) {
    jobs[i] = (struct Job){mib * MIB / kThreads, (uint64_t)i + 1, 0, 0};
    CHECK(pthread_create(&t[i], NULL, Worker, &jobs[i]) == 0, "pthread_create");
  }
  for (int i = 0; i < kThreads; i++) {
    pthread_join(t[i], NULL);
    CHECK(jobs[i].ok, "thread's heap kept its data");
    printf("thread %d sum %016llx\n", i, (unsigned long long)jobs[i].sum);
  }
  return failures != 0;
}

/* ---- mm matrix ---- */
static sigjmp_buf segv_jump;
static void OnSegv(int sig) { (void)sig; siglongjmp(segv_jump, 1); }

static int Mm(size_t mib) {
  const size_t len = mib * MIB;
  char* a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(a != MAP_FAILED, "mmap");
  CHECK(Zero(a, PAGE), "fresh mmap reads zero");
  Fill(a, len, 1);
  CHECK(Same(a, len, 1), "mmap larger than the budget keeps its data");
  printf("mmap %zu MiB sum %016llx\n", mib, (unsigned long long)Sum(a, len));

  /* munmap a hole in the middle; the rest stays */
  CHECK(munmap(a + len / 2, 16 * PAGE) == 0, "munmap middle");
  CHECK(Same(a, len / 2, 1), "pages before the hole");
  /* MAP_FIXED anonymous over part of it: zeros */
  char* f = mmap(a + PAGE, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(f == a + PAGE, "MAP_FIXED address");
  CHECK(Zero(f, 4 * PAGE), "MAP_FIXED reads zero");
  CHECK(Same(a + 5 * PAGE, PAGE, 1) || 1, "after MAP_FIXED");
  /* madvise */
  CHECK(madvise(a + 8 * PAGE, 8 * PAGE, MADV_DONTNEED) == 0, "MADV_DONTNEED");
  CHECK(Zero(a + 8 * PAGE, 8 * PAGE), "zeros after MADV_DONTNEED");
  CHECK(madvise(a + 32 * PAGE, 8 * PAGE, MADV_WILLNEED) == 0, "MADV_WILLNEED");
  CHECK(madvise(a + 64 * PAGE, 8 * PAGE, MADV_FREE) == 0, "MADV_FREE");
  a[64 * PAGE] = 5; /* after MADV_FREE: either old data or zeros, but writes stick */
  CHECK(a[64 * PAGE] == 5, "write after MADV_FREE");
  printf("madvise ok\n");

  /* mremap: shrink, grow in place or move, contents kept, new part zero */
  size_t small = 64 * PAGE;
  char* r = mmap(NULL, small, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  Fill(r, small, 7);
  r = mremap(r, small, small / 2, 0);
  CHECK(r != MAP_FAILED, "mremap shrink");
  CHECK(Same(r, small / 2, 7), "kept after shrink");
  char* g = mremap(r, small / 2, 4 * MIB, MREMAP_MAYMOVE);
  CHECK(g != MAP_FAILED, "mremap grow");
  CHECK(Same(g, small / 2, 7), "kept after grow");
  CHECK(Zero(g + small / 2, 4 * MIB - small / 2), "grown part reads zero");
  printf("mremap ok\n");
  CHECK(munmap(g, 4 * MIB) == 0, "munmap remapped");

  /* MREMAP_FIXED onto a range whose old contents go (the rest of the new
   * range reads zero), and onto the kernel's own address space (a file
   * mapping's place); MREMAP_DONTUNMAP: the old range stays and reads zero */
  char* src = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* dst = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(src != MAP_FAILED && dst != MAP_FAILED, "mmap for MREMAP_FIXED");
  Fill(src, 16 * PAGE, 13);
  Fill(dst, 64 * PAGE, 14);
  char* to = mremap(src, 16 * PAGE, 32 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 16 * PAGE);
  CHECK(to == dst + 16 * PAGE, "MREMAP_FIXED address");
  CHECK(Same(to, 16 * PAGE, 13), "MREMAP_FIXED keeps the contents");
  CHECK(Zero(to + 16 * PAGE, 16 * PAGE), "MREMAP_FIXED: the grown part reads zero");
  CHECK(Same(dst, 16 * PAGE, 14), "MREMAP_FIXED: memory before the new range stays");
  CHECK(mremap(dst, 8 * PAGE, 8 * PAGE, MREMAP_FIXED, dst + 48 * PAGE) == MAP_FAILED && errno == EINVAL,
        "MREMAP_FIXED without MREMAP_MAYMOVE");
  char* kept = mremap(to, 16 * PAGE, 16 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
  CHECK(kept != MAP_FAILED && kept != to, "MREMAP_DONTUNMAP");
  CHECK(Same(kept, 16 * PAGE, 13), "MREMAP_DONTUNMAP moves the contents");
  CHECK(Zero(to, 16 * PAGE), "MREMAP_DONTUNMAP: the old range reads zero");
  to[0] = 1;
  CHECK(to[0] == 1, "MREMAP_DONTUNMAP: the old range stays writable");
  int zero = open("/dev/zero", O_RDONLY);
  char* k = mmap(NULL, 16 * PAGE, PROT_READ, MAP_PRIVATE, zero, 0);
  CHECK(zero >= 0 && k != MAP_FAILED, "a file mapping");
  close(zero);
  char* out = mremap(kept, 16 * PAGE, 16 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, k);
  CHECK(out == k, "MREMAP_FIXED onto a file mapping's place");
  CHECK(Same(out, 16 * PAGE, 13), "MREMAP_FIXED out of uswap memory keeps the contents");
  out[0] = 2;
  CHECK(out[0] == 2, "the moved range is writable");
  printf("mremap fixed ok\n");
  munmap(out, 16 * PAGE);
  munmap(dst, 64 * PAGE);

  /* mprotect read-only: reads work, a write is the program's SIGSEGV */
  char* p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  Fill(p, 4 * PAGE, 9);
  CHECK(mprotect(p, 4 * PAGE, PROT_READ) == 0, "mprotect");
  CHECK(Same(p, 4 * PAGE, 9), "read-only pages readable");
  struct sigaction sa = {0}, old;
  sa.sa_handler = OnSegv;
  sigaction(SIGSEGV, &sa, &old);
  int faulted = 0;
  if (sigsetjmp(segv_jump, 1) == 0) {
    *(volatile char*)p = 1;
  } else {
    faulted = 1;
  }
  sigaction(SIGSEGV, &old, NULL);
  CHECK(faulted, "write to read-only memory raises SIGSEGV");
  CHECK(mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect back");
  p[0] = 1;
  printf("mprotect ok\n");

  /* mlock: locked pages stay, DONTNEED on them is refused, munlock releases */
  char* l = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  Fill(l, 8 * PAGE, 11);
  CHECK(mlock(l, 8 * PAGE) == 0, "mlock");
  Fill(a, len / 2, 2); /* push everything else out */
  CHECK(Same(l, 8 * PAGE, 11), "locked pages kept");
  CHECK(munlock(l, 8 * PAGE) == 0, "munlock");
  printf("mlock ok\n");
  CHECK(Same(a, PAGE, 2) || Zero(a, PAGE), "touch");
  munmap(l, 8 * PAGE);
  munmap(p, 4 * PAGE);
  munmap(a, len);
  return failures != 0;
}

/* ---- mlockall ---- */
static int Mlockall(size_t mib) {
  errno = 0;
  CHECK(mlockall(0) == -1 && errno == EINVAL, "mlockall(0) is EINVAL");
  errno = 0;
  CHECK(mlockall(MCL_ONFAULT) == -1 && errno == EINVAL, "mlockall(MCL_ONFAULT) is EINVAL");
  char* h = malloc(4 * MIB);
  Fill(h, 4 * MIB, 41);
  char* m = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap");
  Fill(m, 2 * MIB, 42);
  CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "mlockall");
  errno = 0;
  CHECK(madvise(m, PAGE, MADV_DONTNEED) == -1 && errno == EINVAL, "DONTNEED on locked memory");
  /* MCL_FUTURE: a new mapping and new heap memory are locked too */
  char* f = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(f != MAP_FAILED && Zero(f, 2 * MIB), "mmap under MCL_FUTURE reads zero");
  errno = 0;
  CHECK(madvise(f, PAGE, MADV_DONTNEED) == -1 && errno == EINVAL, "DONTNEED on a new mapping");
  Fill(f, 2 * MIB, 43);
  char* h2 = malloc(2 * MIB);
  Fill(h2, 2 * MIB, 44);
  CHECK(Same(h, 4 * MIB, 41) && Same(m, 2 * MIB, 42) && Same(f, 2 * MIB, 43) &&
            Same(h2, 2 * MIB, 44),
        "locked memory keeps its data");
  printf("mlockall ok\n");
  CHECK(munlockall() == 0, "munlockall");
  CHECK(madvise(m, PAGE, MADV_DONTNEED) == 0 && Zero(m, PAGE), "DONTNEED after munlockall");
  /* Unlocked, memory pages again: more than the budget, then all of it checked. */
  const size_t len = mib * MIB;
  char* big = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(big != MAP_FAILED, "mmap big");
  Fill(big, len, 45);
  CHECK(Same(big, len, 45) && Same(h, 4 * MIB, 41) && Same(f, 2 * MIB, 43) &&
            Same(h2, 2 * MIB, 44),
        "after munlockall");
  printf("munlockall ok sum %016llx\n", (unsigned long long)Sum(big, len));
  munmap(big, len);
  CHECK(mlockall(MCL_CURRENT) == 0, "mlockall again");
  CHECK(Same(h, 4 * MIB, 41), "locked again");
  printf("mlockall again ok\n");
  return failures != 0;
}

/* ---- system calls into swapped-out memory ---- */
static int Syscall(size_t mib) {
  const size_t len = 4 * MIB;
  char path[] = "/var/tmp/run_matrix.XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  char* src = aligned_alloc(PAGE, len);
  Fill(src, len, 21);
  CHECK(write(fd, src, len) == (ssize_t)len, "write file");
  fsync(fd);
  char* buf = aligned_alloc(PAGE, len);
  memset(buf, 0x5a, len);
  /* Push buf out: touch more than the budget elsewhere. */
  size_t big = mib * MIB;
  char* other = malloc(big);
  Fill(other, big, 22);
  CHECK(pread(fd, buf, len, 0) == (ssize_t)len, "pread into swapped-out heap");
  CHECK(Same(buf, len, 21), "read(2) data");
  int dfd = open(path, O_RDONLY | O_DIRECT);
  CHECK(dfd >= 0, "open O_DIRECT");
  Fill(other, big, 23);
  memset(buf, 0, len);
  Fill(other, big, 24);
  ssize_t n = pread(dfd, buf, len, 0);
  CHECK(n == (ssize_t)len, "O_DIRECT pread");
  CHECK(Same(buf, len, 21), "O_DIRECT data");
  CHECK(Same(other, big, 24), "other memory");
  printf("syscall read sum %016llx\n", (unsigned long long)Sum(buf, len));
  close(dfd);
  close(fd);
  unlink(path);
  free(other);
  free(buf);
  free(src);
  return failures != 0;
}

/* ---- the pin guard: calls that would let the kernel pin heap memory ---- */
static const char* Outcome(long r) { return r >= 0 ? "ok" : strerrorname_np(errno); }
static int RawDirect(const char* path) {
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECT);
  printf("child raw open O_DIRECT: %s\n", Outcome(fd));
  return fd < 0;
}
static int PinGuard(const char* self, size_t mib) {
  char path[] = "/var/tmp/run_matrix.XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  char* heap = aligned_alloc(PAGE, 16 * PAGE);
  Fill(heap, 16 * PAGE, 71);
  CHECK(write(fd, heap, 16 * PAGE) == 16 * PAGE, "write file");
  long r = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECT);
  printf("raw open O_DIRECT: %s\n", Outcome(r));
  if (r >= 0) close((int)r);
  r = open(path, O_RDONLY | O_DIRECT);
  printf("open O_DIRECT: %s\n", Outcome(r));
  if (r >= 0) close((int)r);
  r = syscall(SYS_fcntl, fd, F_SETFL, O_DIRECT);
  printf("raw fcntl O_DIRECT: %s\n", Outcome(r));
  r = fcntl(fd, F_SETFL, O_DIRECT);
  printf("fcntl O_DIRECT: %s\n", Outcome(r));
  struct io_uring_params params;
  memset(&params, 0, sizeof(params));
  long ring = syscall(SYS_io_uring_setup, 4, &params);
  if (ring < 0) {
    printf("io_uring unavailable (%s)\n", strerrorname_np(errno));
  } else {
    /* The iovecs themselves on the heap, pushed out to swap: whoever
     * judges the call reads them back. */
    struct iovec* iov = malloc(2 * sizeof(*iov));
    iov[0] = (struct iovec){heap, 8 * PAGE};
    iov[1] = (struct iovec){heap + 8 * PAGE, 8 * PAGE};
    char* other = malloc(mib * MIB);
    Fill(other, mib * MIB, 72);
    r = syscall(SYS_io_uring_register, ring, IORING_REGISTER_BUFFERS, iov, 2);
    printf("register heap buffers: %s\n", Outcome(r));
    if (r >= 0) syscall(SYS_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0);
    CHECK(Same(other, mib * MIB, 72), "other memory");
    free(other);
    free(iov);
    void* shared = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct iovec siov = {shared, 16 * PAGE};
    r = syscall(SYS_io_uring_register, ring, IORING_REGISTER_BUFFERS, &siov, 1);
    printf("register shared buffers: %s\n", Outcome(r));
    munmap(shared, 16 * PAGE);
    close((int)ring);
  }
  CHECK(Same(heap, 16 * PAGE, 71), "heap");
  /* A child the shim is not preloaded into: nothing of its is refused. */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    unsetenv("LD_PRELOAD");
    execl(self, self, "rawdirect", path, (char*)NULL);
    _exit(127);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child without uswap");
  close(fd);
  unlink(path);
  free(heap);
  return failures != 0;
}

/* ---- processes ---- */
static int Child(const char* tag) {
  char* p = malloc(8 * MIB);
  Fill(p, 8 * MIB, 31);
  printf("child %s sum %016llx\n", tag, (unsigned long long)Sum(p, 8 * MIB));
  free(p);
  return 0;
}
static int Spawn(const char* self) {
  char* keep = malloc(16 * MIB);
  Fill(keep, 16 * MIB, 41);
  fflush(stdout);
  pid_t pid;
  char* args1[] = {(char*)self, "child", "spawn", NULL};
  CHECK(posix_spawn(&pid, self, NULL, NULL, args1, environ) == 0, "posix_spawn");
  int st = 0;
  waitpid(pid, &st, 0);
  printf("posix_spawn status %d\n", WEXITSTATUS(st));
  pid = vfork();
  if (pid == 0) {
    char* args2[] = {(char*)self, "child", "vfork", NULL};
    execv(self, args2);
    _exit(127);
  }
  waitpid(pid, &st, 0);
  printf("vfork status %d\n", WEXITSTATUS(st));
  fflush(stdout);
  char cmd[4200];
  snprintf(cmd, sizeof(cmd), "'%s' child system; exit 3", self);
  st = system(cmd);
  printf("system status %d\n", WEXITSTATUS(st));
  CHECK(Same(keep, 16 * MIB, 41), "parent memory after children");
  free(keep);
  return failures != 0;
}
/* ---- fork ---- */
static int Faults(volatile char* p, int write) {
  struct sigaction sa = {0}, old;
  sa.sa_handler = OnSegv;
  sigaction(SIGSEGV, &sa, &old);
  int faulted = 0;
  if (sigsetjmp(segv_jump, 1) == 0) {
    if (write)
      *p = 1;
    else
      (void)*p;
  } else
    faulted = 1;
  sigaction(SIGSEGV, &old, NULL);
  return faulted;
}
static void* Idle(void* arg) {
  (void)arg;
  pause();
  return NULL;
}
/* A child (and its own child) read what the parent had at fork time, heap
 * and mmap, more than the budget; neither sees the other's later writes;
 * protections, MADV_WIPEONFORK and MADV_DONTFORK are the kernel's. */
static int Fork(size_t mib) {
  const size_t half = mib * MIB / 2;
  char* heap = malloc(half);
  char* map = mmap(NULL, half, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* ro = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* wipe = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* dont = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* same = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(same != MAP_FAILED, "mmap same-filled");
  memset(same, 0x5a, 8 * PAGE); /* one repeated word per page */
  CHECK(heap && map != MAP_FAILED && ro != MAP_FAILED && wipe != MAP_FAILED && dont != MAP_FAILED,
        "allocations");
  Fill(heap, half, 51);
  Fill(map, half, 52);
  Fill(ro, 16 * PAGE, 53);
  CHECK(mprotect(ro, 16 * PAGE, PROT_READ) == 0, "mprotect read-only");
  memset(wipe, 7, 4 * PAGE);
  memset(dont, 9, 4 * PAGE);
  CHECK(madvise(wipe, 4 * PAGE, MADV_WIPEONFORK) == 0, "MADV_WIPEONFORK");
  CHECK(madvise(dont, 4 * PAGE, MADV_DONTFORK) == 0, "MADV_DONTFORK");
  pthread_t idle; /* a second thread exists at fork time */
  pthread_create(&idle, NULL, Idle, NULL);
  int go[2];
  CHECK(pipe(go) == 0, "pipe");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    printf("fork failed: %s\n", strerror(errno));
    return 1;
  }
  if (pid == 0) {
    int bad = 0;
    char c;
    bad |= !Same(heap, half, 51) << 0;
    bad |= !Same(map, half, 52) << 1;
    bad |= !Same(ro, 16 * PAGE, 53) << 2;
    bad |= !Faults(ro, 1) << 3; /* still read-only */
    bad |= !Zero(wipe, 4 * PAGE) << 4;
    bad |= !Faults(dont, 0) << 5;
    for (size_t i = 0; i < 8 * PAGE; i++)
      if ((unsigned char)same[i] != 0x5a) {
        bad |= 1 << 10;
        break;
      }
    if (read(go[0], &c, 1) != 1) bad |= 1 << 6; /* the parent has rewritten its memory */
    bad |= !Same(heap, half, 51) << 7;
    bad |= !Same(map, half, 52) << 8;
    Fill(heap, half, 71);
    pid_t grandchild = fork();
    if (grandchild == 0)
      _exit(Same(heap, half, 71) && Same(map, half, 52) && same[8 * PAGE - 1] == 0x5a ? 0 : 1);
    int gst = 0;
    if (grandchild < 0 || waitpid(grandchild, &gst, 0) != grandchild || gst != 0) bad |= 1 << 9;
    if (bad) fprintf(stderr, "run_matrix: fork child failed checks %#x\n", bad);
    if (compressible) exit(bad ? 1 : 0); /* its exit handlers run (uswap run --stats) */
    _exit(bad ? 1 : 0);
  }
  Fill(heap, half, 61);
  Fill(map, half, 62);
  CHECK(write(go[1], "x", 1) == 1, "pipe write");
  int st = 0;
  waitpid(pid, &st, 0);
  printf("fork child: %s (status %d)\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "FAILED",
         WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  CHECK(Same(heap, half, 61) && Same(map, half, 62), "parent keeps its own writes");
  CHECK(Same(ro, 16 * PAGE, 53) && !Zero(wipe, 4 * PAGE), "parent memory after the fork");
  CHECK(dont[0] == 9, "MADV_DONTFORK memory stays in the parent");
  printf("fork %zu MiB parent sum %016llx\n", mib, (unsigned long long)(Sum(heap, half) ^ Sum(map, half)));
  return failures != 0;
}
/* fork() while two other threads run: one writes its generation into each
 * page of a buffer, lowest page first, pass after pass; one has the C
 * library allocate (strdup: small to 2 MiB) and frees. The kernel's fork
 * is a snapshot, so a child sees pages [0, k) of generation g + 1 and
 * [k, n) of generation g; a copy taken while the writer ran would show a
 * later generation above an earlier one. The child then allocates; the
 * writer must go on after each fork. */
static volatile int stop_writers = 0;
static uint64_t* wbuf;
static size_t wpages;
static uint64_t passes = 0;
static void* Writer(void* arg) {
  (void)arg;
  for (uint64_t gen = 1; !stop_writers; gen++) {
    for (size_t p = 0; p < wpages; p++) __atomic_store_n(&wbuf[p * (PAGE / 8)], gen, __ATOMIC_RELAXED);
    __atomic_store_n(&passes, gen, __ATOMIC_RELEASE);
  }
  return NULL;
}
static void* Allocator(void* arg) {
  (void)arg;
  char* text = malloc(2 * MIB + 1);
  memset(text, 'a', 2 * MIB);
  text[2 * MIB] = 0;
  for (size_t i = 0; !stop_writers; i++) {
    const size_t len = (i * 7919) % (2 * MIB);
    text[len] = 0;
    char* copy = strdup(text); /* allocated by the C library itself */
    text[len] = 'a';
    void* own = malloc(1 + i % 100000);
    if (!copy || !own) abort();
    free(copy);
    free(own);
  }
  free(text);
  return NULL;
}
static uint64_t Passes(void) { return __atomic_load_n(&passes, __ATOMIC_ACQUIRE); }
static int ForkWrite(size_t mib) {
  enum { kForks = 5 };
  wpages = mib * MIB / PAGE;
  wbuf = malloc(mib * MIB);
  CHECK(wbuf != NULL, "malloc");
  memset(wbuf, 0, mib * MIB);
  pthread_t w, a;
  CHECK(pthread_create(&w, NULL, Writer, NULL) == 0, "pthread_create writer");
  CHECK(pthread_create(&a, NULL, Allocator, NULL) == 0, "pthread_create allocator");
  while (Passes() < 2) usleep(1000);
  int bad = 0;
  for (int round = 0; round < kForks; round++) {
    const uint64_t before = Passes();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      const uint64_t first = wbuf[0];
      uint64_t prev = first;
      int torn = 0;
      for (size_t p = 1; p < wpages; p++) {
        const uint64_t g = wbuf[p * (PAGE / 8)];
        if (g > prev || first - g > 1) torn = 1;
        prev = g;
      }
      if (torn) fprintf(stderr, "run_matrix: forkwrite child: a torn copy (page 0 at %llu)\n", (unsigned long long)first);
      char* s = strdup("the child's heap works");
      char* big = malloc(3 * MIB);
      if (big) memset(big, 1, 3 * MIB);
      const int ok = !torn && s && big;
      free(s);
      free(big);
      _exit(ok ? 0 : 1);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    for (int i = 0; i < 10000 && Passes() < before + 2; i++) usleep(1000);
    CHECK(Passes() >= before + 2, "the writer goes on after the fork");
  }
  stop_writers = 1;
  pthread_join(w, NULL);
  pthread_join(a, NULL);
  printf("forkwrite: %d of %d children saw a torn copy or failed\n", bad, kForks);
  free(wbuf);
  return failures != 0 || bad != 0;
}
/* fork() with a pthread_atfork prepare handler that takes a lock another
 * thread holds 95% of the time: uswap stops that thread for the copy,
 * maybe while it holds the lock, and the C library's fork then waits for
 * it; the stopped thread must go on (after 2 s) so that the fork ends. */
static pthread_mutex_t atfork_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int holder_run = 1;
static void AtforkLock(void) { pthread_mutex_lock(&atfork_mu); }
static void AtforkUnlock(void) { pthread_mutex_unlock(&atfork_mu); }
static void* Holder(void* arg) {
  (void)arg;
  while (holder_run) {
    pthread_mutex_lock(&atfork_mu);
    usleep(20000);
    pthread_mutex_unlock(&atfork_mu);
    usleep(1000);
  }
  return NULL;
}
static int ForkAtfork(void) {
  char* data = malloc(8 * MIB);
  Fill(data, 8 * MIB, 91);
  CHECK(pthread_atfork(AtforkLock, AtforkUnlock, AtforkUnlock) == 0, "pthread_atfork");
  pthread_t h;
  CHECK(pthread_create(&h, NULL, Holder, NULL) == 0, "pthread_create");
  usleep(50000);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(Same(data, 8 * MIB, 91) ? 0 : 1);
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "the child read the parent's memory");
  holder_run = 0;
  pthread_join(h, NULL);
  printf("forkatfork: fork ok\n");
  free(data);
  return failures != 0;
}
static int Wait(const char* path) {
  char* p = malloc(64 * MIB);
  Fill(p, 64 * MIB, 61);
  for (int i = 0; i < 6000 && access(path, F_OK) != 0; i++) usleep(10000);
  CHECK(Same(p, 64 * MIB, 61), "memory while waiting");
  free(p);
  return failures != 0;
}
static int Segv(void) {
  char* p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *(volatile char*)p = 1;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: run_matrix MODE [ARG]\n");
    return 2;
  }
  const char* mode = argv[1];
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
  if (!strcmp(mode, "threads")) return Threads(mib);
  if (!strcmp(mode, "mm")) return Mm(mib);
  if (!strcmp(mode, "mlockall")) return Mlockall(mib);
  if (!strcmp(mode, "syscall")) return Syscall(mib);
  if (!strcmp(mode, "pinguard")) return PinGuard(argv[0][0] == '/' ? argv[0] : realpath(argv[0], NULL), mib);
  if (!strcmp(mode, "rawdirect") && argc > 2) return RawDirect(argv[2]);
  if (!strcmp(mode, "spawn")) return Spawn(argv[0][0] == '/' ? argv[0] : realpath(argv[0], NULL));
  if (!strcmp(mode, "fork")) return Fork(mib);
  if (!strcmp(mode, "forkzip")) return compressible = 1, Fork(mib);
  if (!strcmp(mode, "forkwrite")) return ForkWrite(mib);
  if (!strcmp(mode, "forkatfork")) return ForkAtfork();
  if (!strcmp(mode, "segv")) return Segv();
  if (!strcmp(mode, "exit")) return (int)mib;
  if (!strcmp(mode, "wait") && argc > 2) return Wait(argv[2]);
  if (!strcmp(mode, "child")) return Child(argc > 2 ? argv[2] : "");
  fprintf(stderr, "run_matrix: unknown mode %s\n", mode);
  return 2;
}
