// MemCgroup: one RAM budget shared by several Spaces, in one process or in
// many — a memory cgroup whose members are Spaces. `uswap run` puts every
// process of a program's tree in one, so that the tree, not each process,
// is held to `--ram`.
// cf. mm/page_counter.c (page_counter_try_charge(): a charge goes up to the
// group's counter and fails past its max) and mm/memcontrol.c (try_charge()
// -> try_to_free_mem_cgroup_pages(): the charging task reclaims from the
// whole group, every member's LRU scanned in proportion to its size).
//
// The counter lives in a memfd that every member maps MAP_SHARED, so all
// charge the same atomics; a process finds it through an inherited file
// descriptor or /proc/PID/fd/N of a process that holds it. Each member also
// charges its own FramePool: its local budget stays the Space's.
//
// Reclaim across processes: no process can evict another's pages (only the
// owner's engine knows them). When the group runs short, the charging
// member posts every member a reclaim request, its share of the shortfall
// in proportion to its usage, and wakes it through a futex in the shared
// pages; each member's kswapd reclaims its share from its own lists. A
// charge the group refuses reclaims the charger's own pages first (direct
// reclaim), then waits for the others' progress (a futex bumped when a
// member uncharges while someone waits), so a new process with nothing to
// evict can still get frames that an idle member holds.
//
// Members that die without leaving (SIGKILL) or whose image was replaced
// by exec keep their usage in the counter until reaped: a slot names its
// process by pid, start time (pid reuse) and a random number per process
// image (exec keeps pid and start time). Join reaps the slots of earlier
// images of the calling process and of dead processes; forced reclaim
// requests reap dead ones too. Both also reap (forced requests at most
// twice a second) members whose process no longer maps the group
// (/proc/PID/maps): an exec into a program that did not join (a static
// binary, a setuid one, a cleared LD_PRELOAD) left nothing to uncharge.
//
// Thread-safety: every method may be called from any thread of any member
// process; the shared state is lock-free (atomics in the memfd).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "base/unique_fd.h"
#include "uswap/status.h"

namespace uswap {

struct MemCgroupShared;  // the layout in the memfd (mem_cgroup.cc)

struct MemCgroupStats {
  uint64_t limit_bytes = 0;
  uint64_t usage_bytes = 0;       // charged by all members now
  uint64_t peak_bytes = 0;        // highest usage seen (cf. memory.max_usage_in_bytes)
  uint64_t members = 0;           // Spaces joined now
  uint64_t outside_bytes = 0;     // of usage_bytes: the members' SetOutsideCharge()s
  uint64_t failcnt = 0;           // charges the group's limit refused (cf. memory.failcnt)
  uint64_t reclaim_requests = 0;  // requests posted to members, all of them
};

class MemCgroup {
 public:
  static constexpr uint32_t kMaxMembers = 1024;

  // A new group of `limit_bytes` (>= 64 pages) in a memfd; returns its
  // descriptor, close-on-exec unless `inheritable`.
  static Result<UniqueFd> Create(uint64_t limit_bytes, bool inheritable);
  // Maps the group behind `fd` (kept open by the caller or not: the mapping
  // stays) and joins it as a new member. InvalidArgument when `fd` is not
  // a group (wrong size, magic or version), NoSpace when every slot is taken.
  static Result<std::unique_ptr<MemCgroup>> Join(int fd);
  // Leaves: uncharges what this member still holds and frees its slot. In a
  // fork() child of the joining process nothing is touched (the slot is the
  // parent's).
  ~MemCgroup();
  MemCgroup(const MemCgroup&) = delete;
  MemCgroup& operator=(const MemCgroup&) = delete;

  uint64_t limit() const;
  uint64_t usage() const;
  uint64_t free_bytes() const;  // limit - usage, 0 when over
  // The group's watermarks in bytes, in the kernel's shape (FramePool's):
  // below low_bytes free, members are asked to reclaim up to high_bytes.
  uint64_t low_bytes() const { return low_; }
  uint64_t high_bytes() const { return high_; }

  // Charges `bytes` to the group and to this member if the group's usage
  // stays within its limit; false otherwise (counted in failcnt).
  bool TryCharge(uint64_t bytes);
  // Charges regardless of the limit (metadata, soft-limit overshoot).
  void ForceCharge(uint64_t bytes);
  void Uncharge(uint64_t bytes);

  // Asks every member to reclaim its share of `bytes`, in proportion to
  // its usage (the largest request outstanding stays). Without `force`, at
  // most one distribution per millisecond for the whole group (the fast
  // path calls it below the low mark); `force` also reaps dead members.
  void RequestReclaim(uint64_t bytes, bool force);
  // What the members asked this one to reclaim, in bytes; taken (reset).
  uint64_t TakeRequest();
  // Waits until `need` bytes are free in the group (woken by the members'
  // uncharges), at most `timeout`. True if there is room. A wait in which
  // no member uncharged anything makes the group congested for this
  // process for 100 ms.
  bool WaitForRoom(uint64_t need, std::chrono::milliseconds timeout);
  // True while a recent wait found no room: the members could free nothing
  // (what fills the group is not theirs to evict: page tables, the
  // processes' own memory), and charges stop waiting for them meanwhile.
  bool Congested() const;

  // Sets what this member charges for memory of its process outside the
  // Spaces' accounting (the program's own anonymous memory, the
  // allocator's): the difference from the last call is charged (regardless
  // of the limit: frames make room) or uncharged. cf. a memory cgroup
  // charging every page its tasks fault in, not only some.
  void SetOutsideCharge(uint64_t bytes);
  uint64_t outside_charge() const { return outside_; }

  // Calls `on_request` on a thread of its own whenever a request is posted
  // to this member (the Space wakes its kswapd), and `on_tick` every
  // `period` (if given). Stopped by the destructor or StopListener().
  void StartListener(std::function<void()> on_request, std::function<void()> on_tick = nullptr,
                     std::chrono::milliseconds period = std::chrono::milliseconds(100));
  void StopListener();

  MemCgroupStats stats() const;

 private:
  MemCgroup(void* base, uint32_t slot, ino_t ino);
  MemCgroupShared* shared_;
  const uint32_t slot_;
  const pid_t owner_;  // the joining process
  const ino_t ino_;    // the group memfd's, as /proc/PID/maps shows it
  uint64_t low_ = 0, high_ = 0;
  std::atomic<uint64_t> outside_{0};
  std::atomic<uint64_t> congested_until_ns_{0};
  std::atomic<bool> stop_{false};
  std::thread listener_;
};

}  // namespace uswap
