// SwapArea: swap_map plus the cluster allocator. Contract: swap_area.h.
//
// Glossary (cf. mm/swapfile.c):
//   swap_map[s]   use count of slot s (0 free, 1..kSwapMapMax, kSwapMapBad).
//   cluster       kClusterSlots contiguous slots; cf. struct swap_cluster_info.
//   shard         a per-thread allocation context: the cluster the thread
//                 allocates from and the next slot to try in it; cf. the
//                 kernel's percpu_swap_cluster (next[order]). Threads map to
//                 kShards shards, so one thread alone in its shard gets
//                 contiguous, increasing slots.
//
// Cluster states (Cluster::list, Cluster::owner):
//   owned    owner != 0: a shard allocates from it; on no list, so no other
//            shard takes it (the kernel keeps it on a list and lets CPUs
//            share; we isolate it so alloc+free pairs never touch a list).
//   free     free == kClusterSlots, on free_clusters. Only such clusters are
//            "free": slot 0, a bad slot or the end of the area in a cluster
//            keeps it partial forever, so a free cluster always holds a full
//            run of kClusterSlots slots.
//   nonfull  0 < free < kClusterSlots, on nonfull_clusters.
//   full     free == 0, on no list (cf. full_clusters, which we need not walk).
// An unowned cluster is always on the list its free count names; owned ones
// are relocated when their shard lets them go (cf. relocate_cluster()).
//
// Allocation order (cf. cluster_alloc_swap_entry()):
//   1. the shard's own cluster, from shard.next onward (the hot path: one
//      cluster lock, no list lock, no shared counter);
//   2. the head of free_clusters, which the shard then owns;
//   3. a nonfull cluster with a fitting run, which the shard then owns;
//   4. last resort, when the lists fail (every other cluster is owned, or a
//      cluster lock was busy): the clusters inside the lowest_bit/highest_bit
//      hints whose free count fits, without taking ownership. Bounded by the
//      number of clusters, not slots, and only when steps 1-3 failed.
// Runs (AllocateRun/AllocateUpTo) never cross a cluster boundary, as in the
// kernel: a run of n free slots that straddles two clusters is not found.
//
// Locks: one mutex per cluster guards its swap_map bytes, free count, owner;
// list_lock guards both lists and every Cluster::prev/next. Lock order:
// cluster lock, then list_lock (cf. ci->lock before si->lock). Code that
// holds list_lock only try_locks clusters. IsConsistent() takes every cluster
// lock in index order, then list_lock.
//
// Counters: in-use slots are counted per shard (each update under the slot's
// cluster lock), so threads on different clusters share no cache line;
// inuse_pages() sums the shards. It is exact whenever no call is running.

#include "swap/swap_area.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/zeroed_array.h"

namespace uswap {

namespace {

constexpr uint32_t kNoCluster = UINT32_MAX;
constexpr uint64_t kNoNext = UINT64_MAX;
// Enough that each thread of a typical engine (handler threads, kswapd,
// direct reclaimers) has its own; more would only park more clusters.
constexpr unsigned kShards = 16;
constexpr uint32_t kCS = SwapArea::kClusterSlots;

enum class ListId : uint8_t { kNone, kFree, kNonfull };

// cf. struct swap_cluster_info.
struct alignas(64) Cluster {
  std::mutex lock;
  std::atomic<uint32_t> free{0};  // free slots; written under lock, read anywhere as a hint
  uint32_t owner = 0;             // shard + 1 while a shard allocates here; under lock
  ListId list = ListId::kNone;    // written under lock and list_lock; read under either
  uint32_t prev = kNoCluster;     // list links; under list_lock
  uint32_t next = kNoCluster;

  // REQUIRES: lock. Writers all hold the lock, so no read-modify-write is
  // needed; the atomic only lets lock-free readers see a whole value.
  void AddFree(int32_t d) {
    free.store(free.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
};

// cf. struct percpu_swap_cluster.
struct alignas(64) Shard {
  // Next slot to try, inside the shard's owned cluster; kNoNext when none.
  std::atomic<uint64_t> next{kNoNext};
  // This shard's share of inuse_pages (signed: a slot allocated here may be
  // freed by a thread of another shard).
  std::atomic<int64_t> inuse{0};
};

struct ClusterList {
  uint32_t head = kNoCluster;
  uint32_t tail = kNoCluster;
  uint64_t size = 0;
};

unsigned ThisThreadShard() {
  static std::atomic<unsigned> next_id{0};
  thread_local const unsigned shard = next_id.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

struct Run {
  uint64_t first;
  uint32_t n;
};

}  // namespace

struct SwapArea::Impl {
  Impl(uint64_t pages, std::span<const uint32_t> bad_slots);

  // ---- slot-level helpers (REQUIRE the cluster's lock) ----
  uint64_t ClusterStart(uint32_t ci) const { return uint64_t{ci} * kCS; }
  uint64_t ClusterEnd(uint32_t ci) const { return std::min(pages, ClusterStart(ci) + kCS); }
  uint8_t Map(uint64_t s) const { return swap_map[s].load(std::memory_order_relaxed); }
  void SetMap(uint64_t s, uint8_t v) { swap_map[s].store(v, std::memory_order_relaxed); }

  // cf. scan_swap_map_slots() within one cluster: the first run at or after
  // `from`. exact: exactly n free slots; otherwise the first free slot and
  // up to n - 1 free slots after it.
  std::optional<Run> ScanLocked(uint32_t ci, uint64_t from, uint32_t n, bool exact) const;
  // Marks the run in use (count 1) in its locked cluster, on behalf of `me`.
  void CommitLocked(uint32_t ci, unsigned me, Run r);
  // Puts an unowned cluster on the list its free count names.
  void RelocateLocked(uint32_t ci);
  void RelocateListLocked(uint32_t ci);  // REQUIRES list_lock as well
  // Lets the shard's cluster go (owner = 0, relocate).
  void ReleaseLocked(uint32_t ci);
  // After an allocation from owned cluster ci ended at `end`: points the
  // shard at `end`, or lets the cluster go when it is used up to its end.
  // `seen` is the shard.next value the caller started from.
  void AdvanceLocked(uint32_t ci, unsigned me, uint64_t seen, uint64_t end);

  // ---- the four allocation steps ----
  std::optional<Run> Alloc(uint32_t n, bool exact);
  std::optional<Run> AllocFromOwn(unsigned me, uint32_t n, bool exact);
  std::optional<Run> AllocFromLists(unsigned me, uint32_t n, bool exact);
  std::optional<Run> AllocAnywhere(unsigned me, uint32_t n, bool exact);

  // ---- lists (REQUIRE list_lock) ----
  ClusterList& ListOf(ListId id) { return id == ListId::kFree ? free_clusters : nonfull_clusters; }
  void ListRemove(uint32_t ci);
  void ListAppend(ListId id, uint32_t ci);

  // ---- lowest_bit / highest_bit hints ----
  void HintsOnAlloc(Run r);
  void HintsOnFree(uint64_t slot);

  int64_t InUse() const;
  Cluster& ClusterOf(uint64_t slot) { return clusters[slot / kCS]; }

  const uint64_t pages;
  const uint32_t nr_clusters;
  ZeroedArray<std::atomic<uint8_t>> swap_map;  // fresh zero pages, as swapon's vzalloc
  std::unique_ptr<Cluster[]> clusters;
  Shard shards[kShards];
  std::atomic<uint64_t> bad{0};  // bad slots, slot 0 not counted
  // Conservative bounds: every free slot s has lowest_bit <= s <= highest_bit
  // once no call is running (cf. si->lowest_bit/highest_bit). Empty when
  // lowest_bit > highest_bit.
  std::atomic<uint64_t> lowest_bit{0};
  std::atomic<uint64_t> highest_bit{0};
  mutable std::mutex list_lock;  // cf. si->lock for the cluster lists; innermost
  ClusterList free_clusters;     // guarded by list_lock
  ClusterList nonfull_clusters;  // guarded by list_lock
};

SwapArea::Impl::Impl(uint64_t pages_in, std::span<const uint32_t> bad_slots)
    : pages(pages_in),
      nr_clusters(static_cast<uint32_t>((pages_in + kCS - 1) / kCS)),
      swap_map(pages_in),
      clusters(std::make_unique<Cluster[]>(nr_clusters)) {
  SetMap(0, kSwapMapBad);  // the header
  for (uint32_t b : bad_slots) {
    if (b == 0 || b >= pages || Map(b) == kSwapMapBad) continue;
    SetMap(b, kSwapMapBad);
    bad.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t lo = pages, hi = 0;
  for (uint32_t ci = 0; ci < nr_clusters; ++ci) {
    uint32_t f = 0;
    for (uint64_t s = ClusterStart(ci); s < ClusterEnd(ci); ++s) {
      if (Map(s) != 0) continue;
      ++f;
      lo = std::min(lo, s);
      hi = s;
    }
    clusters[ci].free.store(f, std::memory_order_relaxed);
    if (f == kCS) {
      ListAppend(ListId::kFree, ci);
    } else if (f > 0) {
      ListAppend(ListId::kNonfull, ci);
    }
  }
  lowest_bit.store(lo, std::memory_order_relaxed);
  highest_bit.store(hi, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// Lists

void SwapArea::Impl::ListRemove(uint32_t ci) {
  Cluster& c = clusters[ci];
  ClusterList& l = ListOf(c.list);
  (c.prev == kNoCluster ? l.head : clusters[c.prev].next) = c.next;
  (c.next == kNoCluster ? l.tail : clusters[c.next].prev) = c.prev;
  c.prev = c.next = kNoCluster;
  c.list = ListId::kNone;
  --l.size;
}

void SwapArea::Impl::ListAppend(ListId id, uint32_t ci) {
  Cluster& c = clusters[ci];
  ClusterList& l = ListOf(id);
  c.prev = l.tail;
  c.next = kNoCluster;
  (l.tail == kNoCluster ? l.head : clusters[l.tail].next) = ci;
  l.tail = ci;
  ++l.size;
  c.list = id;
}

void SwapArea::Impl::RelocateListLocked(uint32_t ci) {
  Cluster& c = clusters[ci];
  const uint32_t f = c.free.load(std::memory_order_relaxed);
  const ListId want = f == 0 ? ListId::kNone : f == kCS ? ListId::kFree : ListId::kNonfull;
  if (c.list == want) return;
  if (c.list != ListId::kNone) ListRemove(ci);
  if (want != ListId::kNone) ListAppend(want, ci);
}

void SwapArea::Impl::RelocateLocked(uint32_t ci) {
  Cluster& c = clusters[ci];
  USWAP_DCHECK(c.owner == 0);
  const uint32_t f = c.free.load(std::memory_order_relaxed);
  const ListId want = f == 0 ? ListId::kNone : f == kCS ? ListId::kFree : ListId::kNonfull;
  if (c.list == want) return;  // the common case takes no list_lock
  std::lock_guard<std::mutex> l(list_lock);
  RelocateListLocked(ci);
}

void SwapArea::Impl::ReleaseLocked(uint32_t ci) {
  clusters[ci].owner = 0;
  RelocateLocked(ci);
}

// ---------------------------------------------------------------------------
// Hints

void SwapArea::Impl::HintsOnAlloc(Run r) {
  // Only advance a bound that sits exactly on the run; any other stale value
  // is still a valid (if loose) bound. A concurrent free re-lowers it.
  // Plain loads first: the bounds are read-mostly, and a failed CAS would
  // still take the cache line exclusively on the hot path.
  uint64_t lo = r.first;
  if (lowest_bit.load(std::memory_order_relaxed) == lo) {
    lowest_bit.compare_exchange_strong(lo, r.first + r.n, std::memory_order_relaxed);
  }
  uint64_t hi = r.first + r.n - 1;
  if (highest_bit.load(std::memory_order_relaxed) == hi) {
    highest_bit.compare_exchange_strong(hi, r.first - 1, std::memory_order_relaxed);
  }
}

void SwapArea::Impl::HintsOnFree(uint64_t slot) {
  uint64_t lo = lowest_bit.load(std::memory_order_relaxed);
  while (slot < lo && !lowest_bit.compare_exchange_weak(lo, slot, std::memory_order_relaxed)) {
  }
  uint64_t hi = highest_bit.load(std::memory_order_relaxed);
  while (slot > hi && !highest_bit.compare_exchange_weak(hi, slot, std::memory_order_relaxed)) {
  }
}

// ---------------------------------------------------------------------------
// Allocation

std::optional<Run> SwapArea::Impl::ScanLocked(uint32_t ci, uint64_t from, uint32_t n,
                                              bool exact) const {
  const uint64_t end = ClusterEnd(ci);
  uint64_t s = std::max(from, ClusterStart(ci));
  while (s < end) {
    while (s < end && Map(s) != 0) ++s;
    if (s >= end || (exact && end - s < n)) return std::nullopt;
    uint32_t len = 1;
    while (len < n && s + len < end && Map(s + len) == 0) ++len;
    if (!exact || len == n) return Run{s, len};
    s += len;  // swap_map[s + len] is in use (or the end): restart after it
  }
  return std::nullopt;
}

void SwapArea::Impl::CommitLocked(uint32_t ci, unsigned me, Run r) {
  Cluster& c = clusters[ci];
  for (uint64_t s = r.first; s < r.first + r.n; ++s) SetMap(s, 1);
  c.AddFree(-static_cast<int32_t>(r.n));
  shards[me].inuse.fetch_add(r.n, std::memory_order_relaxed);
  HintsOnAlloc(r);
  if (c.owner == 0) RelocateLocked(ci);
}

void SwapArea::Impl::AdvanceLocked(uint32_t ci, unsigned me, uint64_t seen, uint64_t end) {
  Shard& sh = shards[me];
  if (end >= ClusterEnd(ci)) {
    // Used up to its end: cf. the per-cpu next moving on when offset reaches
    // the cluster end. Frees behind `end` are found via the nonfull list.
    sh.next.compare_exchange_strong(seen, kNoNext, std::memory_order_relaxed);
    ReleaseLocked(ci);
    return;
  }
  if (sh.next.compare_exchange_strong(seen, end, std::memory_order_relaxed)) return;
  // Another thread of this shard moved the shard meanwhile. Keep the cluster
  // only if the shard still points into it; never leave it owned and unseen.
  if (seen == kNoNext || seen / kCS != ci) ReleaseLocked(ci);
}

std::optional<Run> SwapArea::Impl::AllocFromOwn(unsigned me, uint32_t n, bool exact) {
  Shard& sh = shards[me];
  const uint64_t next = sh.next.load(std::memory_order_relaxed);
  if (next == kNoNext) return std::nullopt;
  const uint32_t ci = static_cast<uint32_t>(next / kCS);
  Cluster& c = clusters[ci];
  std::lock_guard<std::mutex> l(c.lock);
  if (c.owner != me + 1) {
    // Let go by another thread of this shard: drop the stale pointer so that
    // step 2 can install a new cluster.
    uint64_t seen = next;
    sh.next.compare_exchange_strong(seen, kNoNext, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (auto r = ScanLocked(ci, next, n, exact)) {
    CommitLocked(ci, me, *r);
    AdvanceLocked(ci, me, next, r->first + r->n);
    return r;
  }
  // Nothing fits after `next`: let it go; slots freed behind `next` make it
  // nonfull and step 3 may hand it back with a scan from its start.
  uint64_t seen = next;
  sh.next.compare_exchange_strong(seen, kNoNext, std::memory_order_relaxed);
  ReleaseLocked(ci);
  return std::nullopt;
}

std::optional<Run> SwapArea::Impl::AllocFromLists(unsigned me, uint32_t n, bool exact) {
  const uint32_t need = exact ? n : 1;
  std::unique_lock<std::mutex> cl;
  uint32_t ci = kNoCluster;
  std::optional<Run> r;
  {
    std::lock_guard<std::mutex> l(list_lock);
    for (ListId id : {ListId::kFree, ListId::kNonfull}) {
      for (uint32_t i = ListOf(id).head; i != kNoCluster && !r; i = clusters[i].next) {
        Cluster& c = clusters[i];
        if (c.free.load(std::memory_order_relaxed) < need) continue;
        std::unique_lock<std::mutex> try_cl(c.lock, std::try_to_lock);
        if (!try_cl.owns_lock()) continue;  // lock order: list_lock may only try
        r = ScanLocked(i, 0, n, exact);
        if (!r) continue;
        ListRemove(i);  // isolate it for this shard, cf. isolate_lock_cluster()
        c.owner = me + 1;
        cl = std::move(try_cl);
        ci = i;
      }
      if (r) break;
    }
  }
  if (!r) return std::nullopt;
  CommitLocked(ci, me, *r);
  // The shard had no cluster (step 1 cleared it); if another thread of the
  // shard installed one meanwhile, AdvanceLocked lets this one go.
  AdvanceLocked(ci, me, kNoNext, r->first + r->n);
  return r;
}

std::optional<Run> SwapArea::Impl::AllocAnywhere(unsigned me, uint32_t n, bool exact) {
  const uint32_t need = exact ? n : 1;
  const uint64_t lo = lowest_bit.load(std::memory_order_relaxed);
  const uint64_t hi = highest_bit.load(std::memory_order_relaxed);
  if (lo > hi || lo >= pages) return std::nullopt;
  const uint32_t last = static_cast<uint32_t>(std::min(hi, pages - 1) / kCS);
  for (uint32_t ci = static_cast<uint32_t>(lo / kCS); ci <= last; ++ci) {
    Cluster& c = clusters[ci];
    if (c.free.load(std::memory_order_relaxed) < need) continue;
    std::lock_guard<std::mutex> l(c.lock);
    if (auto r = ScanLocked(ci, 0, n, exact)) {
      CommitLocked(ci, me, *r);  // relocates it if unowned; an owner keeps it
      return r;
    }
  }
  return std::nullopt;
}

std::optional<Run> SwapArea::Impl::Alloc(uint32_t n, bool exact) {
  if (n == 0 || (exact && n > kCS)) return std::nullopt;
  n = std::min(n, kCS);
  const unsigned me = ThisThreadShard();
  if (auto r = AllocFromOwn(me, n, exact)) return r;
  if (auto r = AllocFromLists(me, n, exact)) return r;
  // Cheap exit before the bounded scan when the area is (nearly) full.
  const uint64_t usable = pages - 1 - bad.load(std::memory_order_relaxed);
  const int64_t inuse = InUse();
  if (inuse >= 0 && static_cast<uint64_t>(inuse) + (exact ? n : 1) > usable) return std::nullopt;
  return AllocAnywhere(me, n, exact);
}

int64_t SwapArea::Impl::InUse() const {
  int64_t sum = 0;
  for (const Shard& sh : shards) sum += sh.inuse.load(std::memory_order_relaxed);
  return sum;
}

// ---------------------------------------------------------------------------
// SwapArea

namespace {
std::string SlotName(uint64_t slot) { return "swap slot " + std::to_string(slot); }
Status OutOfRange(const char* op, uint64_t slot, uint64_t pages) {
  return Status::InvalidArgument(std::string(op) + ": " + SlotName(slot) +
                                 " out of range (area has " + std::to_string(pages) + " slots)");
}
}  // namespace

SwapArea::SwapArea(uint64_t pages, std::span<const uint32_t> bad_slots) : pages_(pages) {
  USWAP_CHECK_MSG(pages >= 1, "a swap area has at least its header slot");
  USWAP_CHECK_MSG(pages <= uint64_t{kNoCluster} * kClusterSlots, "swap area too large");
  impl_ = std::make_unique<Impl>(pages, bad_slots);
}

SwapArea::~SwapArea() = default;

std::optional<uint64_t> SwapArea::Allocate() {
  auto r = impl_->Alloc(1, /*exact=*/true);
  if (!r) return std::nullopt;
  return r->first;
}

std::optional<uint64_t> SwapArea::AllocateRun(uint32_t n) {
  auto r = impl_->Alloc(n, /*exact=*/true);
  if (!r) return std::nullopt;
  return r->first;
}

std::optional<std::pair<uint64_t, uint32_t>> SwapArea::AllocateUpTo(uint32_t max) {
  auto r = impl_->Alloc(max, /*exact=*/false);
  if (!r) return std::nullopt;
  return std::make_pair(r->first, r->n);
}

// cf. swap_duplicate() / __swap_duplicate().
Status SwapArea::Duplicate(uint64_t slot) {
  if (slot >= pages_) return OutOfRange("Duplicate", slot, pages_);
  std::lock_guard<std::mutex> l(impl_->ClusterOf(slot).lock);
  const uint8_t v = impl_->Map(slot);
  if (v == 0) return Status::InvalidArgument("Duplicate: " + SlotName(slot) + " is free");
  if (v == kSwapMapBad) return Status::InvalidArgument("Duplicate: " + SlotName(slot) + " is bad");
  if (v >= kSwapMapMax) {
    return Status::NoSpace("Duplicate: " + SlotName(slot) + " already has the maximum " +
                           std::to_string(kSwapMapMax) + " references");
  }
  impl_->SetMap(slot, v + 1);
  return Status::OK();
}

// cf. swap_free() / swap_entry_free(): a count that reaches 0 frees the slot,
// gives it back to its cluster and, for an unowned cluster, may move the
// cluster to the nonfull or free list.
Result<bool> SwapArea::Free(uint64_t slot) {
  if (slot >= pages_) return OutOfRange("Free", slot, pages_);
  const uint32_t ci = static_cast<uint32_t>(slot / kClusterSlots);
  Cluster& c = impl_->clusters[ci];
  std::lock_guard<std::mutex> l(c.lock);
  const uint8_t v = impl_->Map(slot);
  if (v == 0) return Status::InvalidArgument("Free: " + SlotName(slot) + " is already free");
  if (v == kSwapMapBad) return Status::InvalidArgument("Free: " + SlotName(slot) + " is bad");
  impl_->SetMap(slot, v - 1);
  if (v > 1) return false;
  c.AddFree(1);
  impl_->shards[ThisThreadShard()].inuse.fetch_sub(1, std::memory_order_relaxed);
  impl_->HintsOnFree(slot);
  if (c.owner == 0) impl_->RelocateLocked(ci);
  return true;
}

Status SwapArea::MarkBad(uint64_t slot) {
  if (slot >= pages_) return OutOfRange("MarkBad", slot, pages_);
  const uint32_t ci = static_cast<uint32_t>(slot / kClusterSlots);
  Cluster& c = impl_->clusters[ci];
  std::lock_guard<std::mutex> l(c.lock);
  const uint8_t v = impl_->Map(slot);
  if (v == kSwapMapBad) return Status::OK();  // already bad (slot 0 included)
  impl_->SetMap(slot, kSwapMapBad);
  impl_->bad.fetch_add(1, std::memory_order_relaxed);
  if (v == 0) {
    c.AddFree(-1);
    if (c.owner == 0) impl_->RelocateLocked(ci);
  } else {
    impl_->shards[ThisThreadShard()].inuse.fetch_sub(1, std::memory_order_relaxed);
  }
  return Status::OK();
}

uint8_t SwapArea::Count(uint64_t slot) const {
  return slot < pages_ ? impl_->Map(slot) : kSwapMapBad;
}

uint64_t SwapArea::usable_pages() const { return pages_ - 1 - bad_pages(); }

uint64_t SwapArea::inuse_pages() const {
  const int64_t n = impl_->InUse();
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

uint64_t SwapArea::bad_pages() const { return impl_->bad.load(std::memory_order_relaxed); }

bool SwapArea::IsConsistent() const {
  Impl& m = *impl_;
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(m.nr_clusters);
  for (uint32_t ci = 0; ci < m.nr_clusters; ++ci) locks.emplace_back(m.clusters[ci].lock);
  std::lock_guard<std::mutex> ll(m.list_lock);

  if (m.Map(0) != kSwapMapBad) return false;
  uint64_t inuse = 0, bad = 0, lo = m.pages, hi = 0;
  uint64_t on_list[3] = {0, 0, 0};
  for (uint32_t ci = 0; ci < m.nr_clusters; ++ci) {
    uint32_t f = 0;
    for (uint64_t s = m.ClusterStart(ci); s < m.ClusterEnd(ci); ++s) {
      const uint8_t v = m.Map(s);
      if (v == 0) {
        ++f;
        lo = std::min(lo, s);
        hi = s;
      } else if (v == kSwapMapBad) {
        bad += s != 0;
      } else if (v > kSwapMapMax) {
        return false;
      } else {
        ++inuse;
      }
    }
    const Cluster& c = m.clusters[ci];
    if (c.free.load(std::memory_order_relaxed) != f) return false;
    if (c.owner > kShards) return false;
    const ListId want = f == 0 ? ListId::kNone : f == kCS ? ListId::kFree : ListId::kNonfull;
    if (c.owner != 0 ? c.list != ListId::kNone : c.list != want) return false;
    ++on_list[static_cast<int>(c.list)];
  }
  // Walk both lists: links agree with Cluster::list and the sizes.
  for (ListId id : {ListId::kFree, ListId::kNonfull}) {
    const ClusterList& l = m.ListOf(id);
    uint64_t n = 0;
    uint32_t prev = kNoCluster;
    for (uint32_t i = l.head; i != kNoCluster; prev = i, i = m.clusters[i].next) {
      if (i >= m.nr_clusters || m.clusters[i].list != id || m.clusters[i].prev != prev)
        return false;
      if (++n > m.nr_clusters) return false;  // a cycle
    }
    if (l.tail != prev || n != l.size || n != on_list[static_cast<int>(id)]) return false;
  }
  if (inuse != static_cast<uint64_t>(m.InUse()) || bad != m.bad.load()) return false;
  if (lo <= hi && (m.lowest_bit.load() > lo || m.highest_bit.load() < hi)) return false;
  return true;
}

}  // namespace uswap
