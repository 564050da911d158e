#include "mm/mem_cgroup.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/check.h"
#include "base/clock.h"
#include "base/proc_file.h"
#include "base/thread.h"
#include "mm/frame_pool.h"

namespace uswap {

// One member's slot. pid: 0 free, -1 being claimed or reaped, else the
// member's process.
struct alignas(64) MemCgroupMember {
  std::atomic<int32_t> pid;
  std::atomic<uint32_t> wake;     // futex: bumped when a request is posted
  std::atomic<uint64_t> start;    // the process's start time (/proc/PID/stat)
  std::atomic<uint64_t> image;    // random, one per process image
  std::atomic<uint64_t> usage;    // bytes charged by this member
  std::atomic<uint64_t> request;  // bytes the group asks it to reclaim
  std::atomic<uint64_t> outside;  // of usage: SetOutsideCharge's
};

struct MemCgroupShared {
  uint64_t magic;
  uint32_t version;
  uint32_t max_members;
  uint64_t limit;
  alignas(64) std::atomic<uint64_t> usage;
  std::atomic<uint64_t> peak;
  std::atomic<uint64_t> failcnt;
  std::atomic<uint64_t> requests;
  std::atomic<uint64_t> outside;  // the members' outside charges
  std::atomic<uint64_t> last_distribute_ns;
  std::atomic<uint32_t> progress;  // futex: bumped by an uncharge while someone waits
  std::atomic<uint32_t> waiters;
  std::atomic<uint32_t> slots_used;  // slots [0, slots_used) may hold members
  std::atomic<uint32_t> members;
  MemCgroupMember member[MemCgroup::kMaxMembers];
};

namespace {

constexpr uint64_t kMagic = 0x3167636177737575ULL;  // "uuswacg1"
constexpr uint32_t kVersion = 1;
constexpr size_t kBytes = (sizeof(MemCgroupShared) + 4095) & ~size_t{4095};
constexpr uint64_t kPage = 4096;

static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic<uint32_t>::is_always_lock_free &&
                  std::atomic<int32_t>::is_always_lock_free,
              "the shared counters must be address-free atomics");

long Futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* timeout) {
  // Not FUTEX_PRIVATE: the word is in memory shared between processes.
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, timeout, nullptr, 0);
}

void WakeAll(std::atomic<uint32_t>* word) {
  word->fetch_add(1, std::memory_order_seq_cst);
  Futex(word, FUTEX_WAKE, INT_MAX, nullptr);
}

// CLOCK_MONOTONIC is system-wide: comparable across processes.
uint64_t NowNs() { return static_cast<uint64_t>(MonotonicNs()); }

// Field 22 of /proc/PID/stat (start time in clock ticks after boot), or 0
// when the process does not exist.
uint64_t StartTime(pid_t pid) {
  char path[64], buf[1024];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  if (!ReadSmallFile(path, buf, sizeof(buf))) return 0;
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (!p) return 0;
  // After ") " come fields 3, 4, ...: skip 19 of them to reach field 22.
  for (int field = 3; field < 22 && *p; field++) {
    p = std::strchr(p + 1, ' ');
    if (!p) return 0;
  }
  return std::strtoull(p + 1, nullptr, 10);
}

// One random number per process image (a fork child shares its parent's:
// its pid differs, which is enough).
uint64_t ImageNonce() {
  static const uint64_t nonce = [] {
    uint64_t v = 0;
    while (::getrandom(&v, sizeof(v), 0) != static_cast<ssize_t>(sizeof(v)) || v == 0)
      v = NowNs() ^ (static_cast<uint64_t>(::getpid()) << 40);
    return v;
  }();
  return nonce;
}

// Frees slot `m` if it still names `pid`: its usage leaves the group.
void Reap(MemCgroupShared* g, MemCgroupMember& m, int32_t pid) {
  if (!m.pid.compare_exchange_strong(pid, -1)) return;  // reaped or left meanwhile
  const uint64_t u = m.usage.exchange(0);
  g->usage.fetch_sub(u);
  g->outside.fetch_sub(m.outside.exchange(0));
  m.request.store(0);
  g->members.fetch_sub(1);
  m.pid.store(0, std::memory_order_release);
  if (g->waiters.load() > 0) WakeAll(&g->progress);
}

// Whether process `pid` maps the file with inode `ino` (/proc/PID/maps,
// field 5 of each line): kYes, kNo, or kUnknown when the list cannot be read
// (the process is gone, or is not ours to inspect).
enum class Maps { kYes, kNo, kUnknown };

// "start-end perms offset dev inode path": the fifth field.
bool LineNamesInode(const char* line, ino_t ino) {
  for (int skip = 0; skip < 4; skip++) {
    line = std::strchr(line, ' ');
    if (!line) return false;
    line++;
  }
  return std::strtoull(line, nullptr, 10) == ino;
}

Maps MapsInode(pid_t pid, ino_t ino) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/maps", static_cast<int>(pid));
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Maps::kUnknown;
  // Lines are at most ~4.2 KiB (a PATH_MAX name after the fixed fields);
  // a line cut by the buffer's end moves to its front for the next read.
  // (The kernel resumes each read() at the address where the last ended,
  // so a mapping that stays in place is listed even if others change.)
  char buf[16384];
  size_t have = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf + have, sizeof(buf) - 1 - have);
    if (n < 0) return Maps::kUnknown;
    have += static_cast<size_t>(n);
    buf[have] = '\0';
    char* line = buf;
    for (char* nl; (nl = std::strchr(line, '\n')) != nullptr; line = nl + 1) {
      *nl = '\0';
      if (LineNamesInode(line, ino)) return Maps::kYes;
    }
    if (n == 0) {  // end of the list
      // An empty list is a zombie's: its memory is gone.
      return *line && LineNamesInode(line, ino) ? Maps::kYes : Maps::kNo;
    }
    have = static_cast<size_t>(buf + have - line);
    std::memmove(buf, line, have);
    if (have == sizeof(buf) - 1) return Maps::kUnknown;  // longer than any line the kernel writes
  }
}

// Maps checks are rationed: a forced request may come every few
// milliseconds under pressure, and each reads every member's maps.
std::atomic<uint64_t> last_maps_check_ns{0};
constexpr uint64_t kMapsCheckPeriodNs = 500 * 1000 * 1000;

// Slots of processes that are gone, or of this process's earlier images,
// and (`dead_too`, at most every kMapsCheckPeriodNs unless `now`) of
// processes whose image exec replaced by one that did not join: no longer
// mapping the group (inode `ino`), they can never uncharge.
void ReapStale(MemCgroupShared* g, bool dead_too, ino_t ino, bool now) {
  const pid_t self = ::getpid();
  const uint64_t self_start = StartTime(self);
  bool check_maps = false;
  if (dead_too) {
    const uint64_t t = NowNs();
    uint64_t last = last_maps_check_ns.load(std::memory_order_relaxed);
    check_maps = (now || t - last >= kMapsCheckPeriodNs) &&
                 last_maps_check_ns.compare_exchange_strong(last, t, std::memory_order_relaxed);
  }
  const uint32_t used = g->slots_used.load();
  for (uint32_t i = 0; i < used; i++) {
    MemCgroupMember& m = g->member[i];
    const int32_t pid = m.pid.load(std::memory_order_acquire);
    if (pid <= 0) continue;
    if (pid == self) {
      if (m.start.load() == self_start && m.image.load() != ImageNonce()) Reap(g, m, pid);
      continue;
    }
    if (!dead_too) continue;
    if ((::kill(pid, 0) != 0 && errno == ESRCH) || StartTime(pid) != m.start.load()) {
      Reap(g, m, pid);
      continue;
    }
    // Only a list read to its end without the group reaps: a member that
    // cannot be inspected (another user's) keeps its slot, since reaping a
    // live member would break its accounting.
    if (check_maps && MapsInode(pid, ino) == Maps::kNo && StartTime(pid) == m.start.load())
      Reap(g, m, pid);
  }
}

}  // namespace

Result<UniqueFd> MemCgroup::Create(uint64_t limit_bytes, bool inheritable) {
  if (limit_bytes < 64 * kPage)
    return Status::InvalidArgument("a shared RAM budget must hold at least 64 pages");
  UniqueFd fd(::memfd_create("uswap-budget",
                             MFD_ALLOW_SEALING | (inheritable ? 0u : unsigned{MFD_CLOEXEC})));
  if (!fd.valid()) return Status::FromErrno("memfd_create(uswap-budget)", errno);
  if (::ftruncate(fd.get(), kBytes) != 0)
    return Status::FromErrno("ftruncate(uswap-budget)", errno);
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap(uswap-budget)", errno);
  auto* g = static_cast<MemCgroupShared*>(p);  // zero-filled: every atomic starts at 0
  g->limit = limit_bytes;
  g->max_members = kMaxMembers;
  g->version = kVersion;
  g->magic = kMagic;  // no other process maps it before Create returns its fd
  ::munmap(p, kBytes);
  // Nobody can shrink it under a member (that would be SIGBUS on a charge).
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return Status::FromErrno("seal(uswap-budget)", errno);
  return fd;
}

Result<std::unique_ptr<MemCgroup>> MemCgroup::Join(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("shared RAM budget: fstat", errno);
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) != kBytes)
    return Status::InvalidArgument("descriptor " + std::to_string(fd) +
                                   " is not a uswap shared RAM budget (wrong size)");
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Status::FromErrno("shared RAM budget: mmap", errno);
  auto* g = static_cast<MemCgroupShared*>(p);
  if (g->magic != kMagic || g->version != kVersion || g->max_members != kMaxMembers) {
    ::munmap(p, kBytes);
    return Status::InvalidArgument("descriptor " + std::to_string(fd) +
                                   " is not a uswap shared RAM budget of this version");
  }
  ReapStale(g, /*dead_too=*/true, st.st_ino, /*now=*/true);
  for (uint32_t i = 0; i < kMaxMembers; i++) {
    MemCgroupMember& m = g->member[i];
    int32_t free_slot = 0;
    if (!m.pid.compare_exchange_strong(free_slot, -1)) continue;
    m.start.store(StartTime(::getpid()));
    m.image.store(ImageNonce());
    m.usage.store(0);
    m.request.store(0);
    m.outside.store(0);
    g->members.fetch_add(1);
    uint32_t used = g->slots_used.load();
    while (used < i + 1 && !g->slots_used.compare_exchange_weak(used, i + 1)) {
    }
    m.pid.store(::getpid(), std::memory_order_release);
    return std::unique_ptr<MemCgroup>(new MemCgroup(p, i, st.st_ino));
  }
  ::munmap(p, kBytes);
  return Status::NoSpace("the shared RAM budget has " + std::to_string(kMaxMembers) +
                         " members already");
}

MemCgroup::MemCgroup(void* base, uint32_t slot, ino_t ino)
    : shared_(static_cast<MemCgroupShared*>(base)), slot_(slot), owner_(::getpid()), ino_(ino) {
  // A frame pool's marks for a budget of the group's limit (Create asks for
  // at least 64 pages, for which they always exist).
  const Result<Watermarks> wm = ComputeWatermarks(shared_->limit / kPage, {});
  USWAP_CHECK_MSG(wm.ok(), "shared RAM budget: no watermarks for its limit");
  low_ = wm->low * kPage;
  high_ = wm->high * kPage;
}

MemCgroup::~MemCgroup() {
  if (::getpid() != owner_) return;  // a fork child's copy: the slot is the parent's
  StopListener();
  MemCgroupMember& m = shared_->member[slot_];
  Reap(shared_, m, owner_);
  ::munmap(shared_, kBytes);
}

uint64_t MemCgroup::limit() const { return shared_->limit; }
uint64_t MemCgroup::usage() const { return shared_->usage.load(std::memory_order_relaxed); }
uint64_t MemCgroup::free_bytes() const {
  const uint64_t u = usage();
  return u >= shared_->limit ? 0 : shared_->limit - u;
}

bool MemCgroup::TryCharge(uint64_t bytes) {
  uint64_t cur = shared_->usage.load(std::memory_order_relaxed);
  do {
    if (cur + bytes > shared_->limit) {
      shared_->failcnt.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!shared_->usage.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
  shared_->member[slot_].usage.fetch_add(bytes, std::memory_order_relaxed);
  uint64_t peak = shared_->peak.load(std::memory_order_relaxed);
  while (cur + bytes > peak &&
         !shared_->peak.compare_exchange_weak(peak, cur + bytes, std::memory_order_relaxed)) {
  }
  return true;
}

void MemCgroup::ForceCharge(uint64_t bytes) {
  const uint64_t now = shared_->usage.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  shared_->member[slot_].usage.fetch_add(bytes, std::memory_order_relaxed);
  uint64_t peak = shared_->peak.load(std::memory_order_relaxed);
  while (now > peak && !shared_->peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void MemCgroup::Uncharge(uint64_t bytes) {
  const uint64_t mine = shared_->member[slot_].usage.fetch_sub(bytes, std::memory_order_relaxed);
  USWAP_CHECK_MSG(mine >= bytes, "shared RAM budget: member uncharge underflow");
  // seq_cst with WaitForRoom's waiters++ then usage read: either the waiter
  // sees the room or this sees the waiter.
  shared_->usage.fetch_sub(bytes, std::memory_order_seq_cst);
  if (shared_->waiters.load(std::memory_order_seq_cst) > 0) WakeAll(&shared_->progress);
}

void MemCgroup::RequestReclaim(uint64_t bytes, bool force) {
  if (force) {
    ReapStale(shared_, /*dead_too=*/true, ino_, /*now=*/false);
  } else {
    const uint64_t now = NowNs();
    uint64_t last = shared_->last_distribute_ns.load(std::memory_order_relaxed);
    if (now - last < 1000000 ||
        !shared_->last_distribute_ns.compare_exchange_strong(last, now, std::memory_order_relaxed))
      return;  // another member distributed within the last millisecond
  }
  const uint32_t used = shared_->slots_used.load();
  uint64_t total = 0;
  for (uint32_t i = 0; i < used; i++)
    if (shared_->member[i].pid.load(std::memory_order_acquire) > 0)
      total += shared_->member[i].usage.load(std::memory_order_relaxed);
  if (total == 0) return;
  for (uint32_t i = 0; i < used; i++) {
    MemCgroupMember& m = shared_->member[i];
    if (m.pid.load(std::memory_order_acquire) <= 0) continue;
    const uint64_t share = static_cast<uint64_t>(static_cast<unsigned __int128>(bytes) *
                                                 m.usage.load(std::memory_order_relaxed) / total);
    if (share < kPage) continue;
    uint64_t cur = m.request.load(std::memory_order_relaxed);
    while (cur < share && !m.request.compare_exchange_weak(cur, share)) {
    }
    shared_->requests.fetch_add(1, std::memory_order_relaxed);
    WakeAll(&m.wake);
  }
}

uint64_t MemCgroup::TakeRequest() { return shared_->member[slot_].request.exchange(0); }

bool MemCgroup::WaitForRoom(uint64_t need, std::chrono::milliseconds timeout) {
  shared_->waiters.fetch_add(1, std::memory_order_seq_cst);
  const uint64_t deadline = NowNs() + static_cast<uint64_t>(timeout.count()) * 1000000;
  bool room = free_bytes() >= need, moved = false;
  const uint32_t first_gen = shared_->progress.load(std::memory_order_seq_cst);
  // Each uncharge wakes the waiters; only room for `need` ends the wait.
  for (uint64_t now = NowNs(); !room && now < deadline; now = NowNs()) {
    const uint32_t gen = shared_->progress.load(std::memory_order_seq_cst);
    moved |= gen != first_gen;
    if ((room = free_bytes() >= need)) break;
    const uint64_t left = deadline - now;
    const timespec ts{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
    Futex(&shared_->progress, FUTEX_WAIT, gen, &ts);
    room = free_bytes() >= need;
  }
  moved |= shared_->progress.load(std::memory_order_seq_cst) != first_gen;
  shared_->waiters.fetch_sub(1, std::memory_order_seq_cst);
  // Members that freed nothing at all in the whole wait cannot: congested.
  // (If they freed some and others took it, the next wait may find room.)
  if (!room && !moved) congested_until_ns_.store(NowNs() + 100000000, std::memory_order_relaxed);
  return room;
}

bool MemCgroup::Congested() const {
  return NowNs() < congested_until_ns_.load(std::memory_order_relaxed);
}

void MemCgroup::SetOutsideCharge(uint64_t bytes) {
  const uint64_t old = outside_.exchange(bytes);
  MemCgroupMember& m = shared_->member[slot_];
  if (bytes > old) {
    m.outside.fetch_add(bytes - old);
    shared_->outside.fetch_add(bytes - old);
    ForceCharge(bytes - old);
  }
  if (bytes < old) {
    m.outside.fetch_sub(old - bytes);
    shared_->outside.fetch_sub(old - bytes);
    Uncharge(old - bytes);
  }
}

void MemCgroup::StartListener(std::function<void()> on_request, std::function<void()> on_tick,
                              std::chrono::milliseconds period) {
  USWAP_CHECK_MSG(!listener_.joinable(), "MemCgroup listener started twice");
  stop_.store(false);
  listener_ = StartThread("uswap-memcg",
                          [this, fn = std::move(on_request), tick = std::move(on_tick), period] {
                            MemCgroupMember& m = shared_->member[slot_];
                            const timespec ts{static_cast<time_t>(period.count() / 1000),
                                              static_cast<long>(period.count() % 1000) * 1000000L};
                            for (;;) {
                              const uint32_t w = m.wake.load(std::memory_order_acquire);
                              if (stop_.load(std::memory_order_acquire)) return;
                              if (tick) tick();
                              if (m.request.load(std::memory_order_relaxed) > 0) fn();
                              Futex(&m.wake, FUTEX_WAIT, w, tick ? &ts : nullptr);
                            }
                          });
}

void MemCgroup::StopListener() {
  if (!listener_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  WakeAll(&shared_->member[slot_].wake);
  listener_.join();
}

MemCgroupStats MemCgroup::stats() const {
  MemCgroupStats s;
  s.limit_bytes = shared_->limit;
  s.usage_bytes = usage();
  s.peak_bytes = shared_->peak.load(std::memory_order_relaxed);
  s.members = shared_->members.load(std::memory_order_relaxed);
  s.outside_bytes = shared_->outside.load(std::memory_order_relaxed);
  s.failcnt = shared_->failcnt.load(std::memory_order_relaxed);
  s.reclaim_requests = shared_->requests.load(std::memory_order_relaxed);
  return s;
}

}  // namespace uswap
