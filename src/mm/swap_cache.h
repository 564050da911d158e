// SwapCache: slots with I/O in flight, keyed by SwapEntry — the meeting
// point of concurrent swap-ins of the same slot and of a swap-in (or a
// write) racing a write-back. cf. add_to_swap_cache(), lookup_swap_cache(),
// __delete_from_swap_cache() and the page lock waiters (seed 000, fig. d).
//
// The kernel's swap cache also holds pages that are resident and still own
// a slot; here that is the page-table state (kResident with an entry and no
// kDirty), since every slot has exactly one owning page today.
//
// Protocol: the thread that starts I/O on a slot Add()s it (under the page's
// block lock, so only one can), does the I/O without locks, then
// Complete()s it, waking everyone in Wait(). A thread that finds a page in
// kSwapIn or kWriteback state takes a Ref() under the block lock, drops the
// lock, Wait()s, and retries from the page table.
//
// Thread-safety: all methods may be called concurrently (sharded locks).
#pragma once

#include <cstdint>
#include <memory>
#include <memory_resource>
#include <unordered_map>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "swap/swap_entry.h"

namespace uswap {

class SwapCache {
 public:
  enum class IoKind : uint8_t { kRead, kWrite };

  SwapCache();
  ~SwapCache();

  // Registers I/O on `e`. REQUIRES: no I/O registered on `e`.
  void Add(SwapEntry e, IoKind kind);
  // Takes a reference on an in-flight entry so that Wait() can be called
  // after the caller dropped its block lock. Returns false if `e` has no
  // I/O in flight (it completed already).
  bool Ref(SwapEntry e);
  // Blocks until the I/O on `e` completed, then drops the reference
  // taken by Ref(). Returns true when the I/O succeeded.
  bool Wait(SwapEntry e);
  // Marks the I/O on `e` done (ok or failed) and wakes waiters.
  void Complete(SwapEntry e, bool ok);

  uint64_t size() const;  // entries with I/O in flight
  // True while I/O registered on `e` has not completed (consistency checks).
  bool Contains(SwapEntry e) const;

 private:
  struct Node {
    IoKind kind;
    bool done = false;
    bool ok = false;
    int refs = 0;  // waiters + (1 while I/O in flight)
  };
  struct Shard {
    mutable Mutex mu;
    CondVar cv{&mu};
    // Nodes come from a pool that keeps freed ones: an entry is added and
    // erased per swap-in and per write-back, and a warm cache allocates
    // nothing (the fault path's rule, doc/engine.md). Used under mu only,
    // hence the unsynchronized pool.
    std::pmr::unsynchronized_pool_resource pool;
    std::pmr::unordered_map<uint64_t, Node> map GUARDED_BY(mu){&pool};
  };
  static constexpr int kShards = 64;
  Shard& ShardOf(SwapEntry e) const { return shards_[(e.value() * 0x9E3779B97F4A7C15ull) >> 58]; }
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace uswap
