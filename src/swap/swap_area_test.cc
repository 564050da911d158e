// Tests of SwapArea: fixed behaviour first, then property tests that run
// random operation sequences against a plain model (one count byte per slot),
// single-threaded and with four threads that each own the slots they got.

#include "swap/swap_area.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/proc_file.h"

namespace uswap {
namespace {

constexpr uint32_t kCS = SwapArea::kClusterSlots;
constexpr uint8_t kBad = SwapArea::kSwapMapBad;
constexpr uint8_t kMax = SwapArea::kSwapMapMax;

uint64_t ClusterOf(uint64_t slot) { return slot / kCS; }

// Allocates every slot with Allocate(); returns them in order.
std::vector<uint64_t> AllocateAll(SwapArea& a) {
  std::vector<uint64_t> out;
  while (auto s = a.Allocate()) out.push_back(*s);
  return out;
}

TEST(SwapAreaTest, FreshAreaCounts) {
  const uint32_t bad[] = {3, 700};
  SwapArea a(1000, bad);
  EXPECT_EQ(a.pages(), 1000u);
  EXPECT_EQ(a.usable_pages(), 1000u - 1 - 2);
  EXPECT_EQ(a.bad_pages(), 2u);
  EXPECT_EQ(a.inuse_pages(), 0u);
  EXPECT_EQ(a.free_pages(), 997u);
  EXPECT_EQ(a.Count(0), kBad);
  EXPECT_EQ(a.Count(3), kBad);
  EXPECT_EQ(a.Count(4), 0);
  EXPECT_EQ(a.Count(1000), kBad);  // out of range reads as bad
  EXPECT_TRUE(a.IsConsistent());
}

// The process's resident bytes (/proc/self/statm).
uint64_t ResidentBytes() {
  char text[256];
  unsigned long size = 0, resident = 0;
  EXPECT_TRUE(ReadSmallFile("/proc/self/statm", text, sizeof(text)));
  EXPECT_EQ(std::sscanf(text, "%lu %lu", &size, &resident), 2);
  return uint64_t{resident} * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// swap_map takes memory only where slots are used (swapon's vzalloc): a
// value-initialised map made every area cost a byte per slot at open,
// paid again by every process of a `uswap run` tree.
TEST(SwapAreaTest, AFreshAreaWritesOnlyItsClusterTable) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan writes shadow memory for every byte the open reads";
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  GTEST_SKIP() << "TSan writes shadow memory for every byte the open reads";
#endif
#endif
  constexpr uint64_t kSlots = uint64_t{1} << 22;  // a 16 GiB area: a 4 MiB swap_map
  const uint64_t before = ResidentBytes();
  SwapArea a(kSlots, {});
  const uint64_t after = ResidentBytes();
  // The cluster table is written at open: 16384 clusters of 64 bytes.
  EXPECT_LT(after - before, uint64_t{2} << 20) << "the open wrote the swap_map";
  ASSERT_TRUE(a.Allocate());
  EXPECT_EQ(a.inuse_pages(), 1u);
}

TEST(SwapAreaTest, ConsecutiveAllocationsAreContiguousWithinACluster) {
  SwapArea a(8 * kCS, {});
  std::vector<uint64_t> got;
  for (int i = 0; i < 600; ++i) {
    auto s = a.Allocate();
    ASSERT_TRUE(s);
    got.push_back(*s);
  }
  for (size_t i = 1; i < got.size(); ++i) {
    if (got[i - 1] % kCS != kCS - 1) {
      EXPECT_EQ(got[i], got[i - 1] + 1) << "at " << i;
    } else {
      EXPECT_EQ(got[i] % kCS, 0u) << "a new cluster starts at its first slot, at " << i;
    }
  }
  // A fresh area prefers whole free clusters over cluster 0 (holds the header).
  EXPECT_EQ(got[0], kCS);
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, AllocateUpToTakesTheRestOfTheCurrentCluster) {
  SwapArea a(4 * kCS, {});
  auto first = a.Allocate();
  ASSERT_TRUE(first);
  auto r = a.AllocateUpTo(64);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, *first + 1);
  EXPECT_EQ(r->second, 64u);
  auto rest = a.AllocateUpTo(100000);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->first, *first + 65);
  EXPECT_EQ(rest->first + rest->second, (ClusterOf(*first) + 1) * kCS)
      << "stops at the cluster end";
  for (uint64_t s = *first; s < rest->first + rest->second; ++s) EXPECT_EQ(a.Count(s), 1) << s;
  EXPECT_FALSE(a.AllocateUpTo(0));
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, AllocateRunIsExactAndStaysInOneCluster) {
  SwapArea a(3 * kCS, {});
  auto r = a.AllocateRun(kCS);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r % kCS, 0u);
  for (uint64_t s = *r; s < *r + kCS; ++s) EXPECT_EQ(a.Count(s), 1);
  EXPECT_FALSE(a.AllocateRun(0));
  EXPECT_FALSE(a.AllocateRun(kCS + 1));
  // Cluster 0 has 255 usable slots (slot 0 is the header): no full run left
  // except the other whole cluster.
  auto r2 = a.AllocateRun(kCS);
  ASSERT_TRUE(r2);
  EXPECT_FALSE(a.AllocateRun(kCS));
  auto r3 = a.AllocateRun(kCS - 1);
  ASSERT_TRUE(r3);
  EXPECT_EQ(*r3, 1u);
  EXPECT_EQ(a.free_pages(), 0u);
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, ExhaustionReturnsNulloptAndFreedSlotsAreReused) {
  SwapArea a(1000, {});
  std::vector<uint64_t> all = AllocateAll(a);
  EXPECT_EQ(all.size(), 999u);
  EXPECT_EQ(a.inuse_pages(), 999u);
  EXPECT_FALSE(a.Allocate());
  EXPECT_FALSE(a.AllocateRun(1));
  EXPECT_FALSE(a.AllocateUpTo(8));
  auto freed = a.Free(517);
  ASSERT_TRUE(freed.ok());
  EXPECT_TRUE(*freed);
  EXPECT_EQ(a.Allocate(), std::optional<uint64_t>(517));
  for (uint64_t s = 600; s < 610; ++s) ASSERT_TRUE(*a.Free(s));
  auto run = a.AllocateRun(10);
  ASSERT_TRUE(run);
  EXPECT_EQ(*run, 600u);
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, BadPagesFromTheHeaderAreNeverHandedOut) {
  const uint32_t bad[] = {1, 5, 255, 256, 300, 511, 999, 5 /* duplicate */};
  SwapArea a(1000, bad);
  EXPECT_EQ(a.bad_pages(), 7u);
  std::vector<uint64_t> all = AllocateAll(a);
  EXPECT_EQ(all.size(), a.usable_pages());
  for (uint64_t s : all) {
    for (uint32_t b : bad) ASSERT_NE(s, b);
    ASSERT_NE(s, 0u);
  }
  auto f = a.Free(300);
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.status().IsInvalidArgument());
  EXPECT_NE(f.status().message().find("slot 300"), std::string::npos) << f.status().ToString();
  EXPECT_FALSE(a.Duplicate(300).ok());
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, FreeOfAFreeSlotIsAnErrorNamingTheSlot) {
  SwapArea a(100, {});
  auto f = a.Free(42);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("swap slot 42"), std::string::npos) << f.status().ToString();
  EXPECT_EQ(a.Count(42), 0) << "no wrap-around";
  auto s = a.Allocate();
  ASSERT_TRUE(s);
  EXPECT_TRUE(*a.Free(*s));
  EXPECT_FALSE(a.Free(*s).ok()) << "double free";
  EXPECT_FALSE(a.Free(0).ok()) << "the header slot";
  EXPECT_TRUE(a.Free(100).status().IsInvalidArgument()) << "out of range";
  EXPECT_EQ(a.inuse_pages(), 0u);
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, DuplicateCountsReferencesUpToTheMaximum) {
  SwapArea a(100, {});
  auto s = a.Allocate();
  ASSERT_TRUE(s);
  for (int i = 1; i < kMax; ++i) ASSERT_TRUE(a.Duplicate(*s).ok()) << i;
  EXPECT_EQ(a.Count(*s), kMax);
  Status st = a.Duplicate(*s);
  EXPECT_TRUE(st.IsNoSpace()) << st.ToString();
  EXPECT_NE(st.message().find("slot " + std::to_string(*s)), std::string::npos);
  EXPECT_EQ(a.inuse_pages(), 1u);
  for (int i = kMax; i > 1; --i) ASSERT_FALSE(*a.Free(*s)) << i;
  EXPECT_TRUE(*a.Free(*s));
  EXPECT_TRUE(a.Duplicate(*s).IsInvalidArgument()) << "free slot";
  EXPECT_TRUE(a.Duplicate(5000).IsInvalidArgument()) << "out of range";
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, MarkBadTakesASlotOutOfUse) {
  SwapArea a(300, {});
  auto s = a.Allocate();
  ASSERT_TRUE(s);
  ASSERT_TRUE(a.Duplicate(*s).ok());
  ASSERT_TRUE(a.MarkBad(*s).ok());
  EXPECT_EQ(a.inuse_pages(), 0u) << "an in-use slot marked bad stops counting";
  EXPECT_EQ(a.bad_pages(), 1u);
  EXPECT_EQ(a.usable_pages(), 298u);
  EXPECT_TRUE(a.MarkBad(*s).ok()) << "idempotent";
  EXPECT_EQ(a.bad_pages(), 1u);
  ASSERT_TRUE(a.MarkBad(*s + 1).ok());  // a free slot
  EXPECT_TRUE(a.MarkBad(0).ok());
  EXPECT_TRUE(a.MarkBad(300).IsInvalidArgument());
  std::vector<uint64_t> all = AllocateAll(a);
  EXPECT_EQ(all.size(), 297u);
  for (uint64_t x : all) ASSERT_TRUE(x != *s && x != *s + 1);
  EXPECT_TRUE(a.IsConsistent());
}

TEST(SwapAreaTest, SmallAreaNotAMultipleOfTheClusterSize) {
  SwapArea a(11, {});
  EXPECT_EQ(a.usable_pages(), 10u);
  EXPECT_FALSE(a.AllocateRun(11));
  auto r = a.AllocateRun(10);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1u);
  EXPECT_FALSE(a.Allocate());
  EXPECT_TRUE(*a.Free(4));
  EXPECT_TRUE(*a.Free(5));
  EXPECT_EQ(a.AllocateRun(2), std::optional<uint64_t>(4));
  ASSERT_TRUE(*a.Free(10));
  auto up = a.AllocateUpTo(64);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->first, 10u);
  EXPECT_EQ(up->second, 1u);
  EXPECT_TRUE(a.IsConsistent());

  SwapArea one(1, {});  // the header only
  EXPECT_EQ(one.usable_pages(), 0u);
  EXPECT_FALSE(one.Allocate());
  EXPECT_TRUE(one.IsConsistent());
}

TEST(SwapAreaTest, SlotsAreReachableFromAnotherThread) {
  // A thread's shard keeps its cluster off the lists; another thread must
  // still find the free slots left in it when nothing else is free.
  SwapArea a(11, {});
  ASSERT_EQ(a.Allocate(), std::optional<uint64_t>(1));
  std::vector<uint64_t> other;
  std::thread t([&] { other = AllocateAll(a); });
  t.join();
  EXPECT_EQ(other.size(), 9u);
  EXPECT_FALSE(a.Allocate());
  EXPECT_TRUE(a.IsConsistent());
}

// ---------------------------------------------------------------------------
// Property tests against a model.

// The model: one count per slot, as swap_map.
struct Model {
  explicit Model(uint64_t pages, std::span<const uint32_t> bad) : count(pages, 0) {
    count[0] = kBad;
    for (uint32_t b : bad) count[b] = kBad;
  }
  bool HasRun(uint32_t n) const {  // n free slots inside one cluster
    for (uint64_t c = 0; c * kCS < count.size(); ++c) {
      uint32_t len = 0;
      for (uint64_t s = c * kCS; s < std::min<uint64_t>(count.size(), (c + 1) * kCS); ++s) {
        len = count[s] == 0 ? len + 1 : 0;
        if (len >= n) return true;
      }
    }
    return false;
  }
  uint64_t InUse() const {
    uint64_t n = 0;
    for (uint8_t c : count) n += c != 0 && c != kBad;
    return n;
  }
  std::vector<uint8_t> count;
};

// Checks that [first, first + n) was free in the model, lies in one cluster,
// and takes it.
void TakeRun(Model& m, uint64_t first, uint32_t n) {
  ASSERT_GE(n, 1u);
  ASSERT_LE(first + n, m.count.size());
  ASSERT_EQ(ClusterOf(first), ClusterOf(first + n - 1)) << "run crosses a cluster: " << first;
  for (uint64_t s = first; s < first + n; ++s) {
    ASSERT_EQ(m.count[s], 0) << "slot " << s << " handed out while not free";
    m.count[s] = 1;
  }
}

void RunModelTest(uint64_t pages, uint32_t seed, int ops) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> bad;
  for (int i = 0; i < 6; ++i) bad.push_back(1 + rng() % (pages - 1));
  SwapArea a(pages, bad);
  Model m(pages, bad);
  auto rnd = [&](uint64_t n) { return rng() % n; };
  // Phases bias toward allocating or freeing, so the area fills and empties.
  bool filling = true;
  for (int op = 0; op < ops; ++op) {
    if (op % 5000 == 0) filling = !filling;
    const uint64_t slot = rnd(pages + 2);  // sometimes out of range
    const uint8_t cur = slot < pages ? m.count[slot] : kBad;
    const unsigned kind = rnd(100);
    if (kind < (filling ? 30u : 10u)) {
      auto s = a.Allocate();
      if (s) {
        TakeRun(m, *s, 1);
      } else {
        ASSERT_FALSE(m.HasRun(1)) << "Allocate failed with a free slot, op " << op;
      }
    } else if (kind < (filling ? 40u : 15u)) {
      const uint32_t n = 1 + rnd(kCS + 8);
      auto s = a.AllocateRun(n);
      if (s) {
        ASSERT_LE(n, kCS);
        TakeRun(m, *s, n);
      } else if (n <= kCS) {
        ASSERT_FALSE(m.HasRun(n)) << "AllocateRun(" << n << ") failed, op " << op;
      }
    } else if (kind < (filling ? 50u : 20u)) {
      const uint32_t max = 1 + rnd(80);
      auto r = a.AllocateUpTo(max);
      if (r) {
        ASSERT_LE(r->second, max);
        TakeRun(m, r->first, r->second);
      } else {
        ASSERT_FALSE(m.HasRun(1));
      }
    } else if (kind < 60) {
      Status st = a.Duplicate(slot);
      if (cur == 0 || cur == kBad) {
        ASSERT_TRUE(st.IsInvalidArgument()) << st.ToString();
      } else if (cur == kMax) {
        ASSERT_TRUE(st.IsNoSpace()) << st.ToString();
      } else {
        ASSERT_TRUE(st.ok()) << st.ToString();
        ++m.count[slot];
      }
    } else if (kind < 99) {
      // Free: mostly a used slot near the random one.
      uint64_t s = slot < pages ? slot : 1;
      for (int i = 0; i < 64 && (m.count[s] == 0 || m.count[s] == kBad) && rnd(8) != 0; ++i) {
        s = 1 + rnd(pages - 1);
      }
      auto r = a.Free(s);
      if (m.count[s] == 0 || m.count[s] == kBad) {
        ASSERT_FALSE(r.ok()) << "Free of slot " << s << " with count " << int{m.count[s]};
      } else {
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ASSERT_EQ(*r, m.count[s] == 1);
        --m.count[s];
      }
    } else {
      Status st = a.MarkBad(slot);
      if (slot >= pages) {
        ASSERT_TRUE(st.IsInvalidArgument());
      } else {
        ASSERT_TRUE(st.ok()) << st.ToString();
        m.count[slot] = kBad;
      }
    }
    if (slot < pages) {
      ASSERT_EQ(a.Count(slot), m.count[slot]) << "slot " << slot << " op " << op;
    }
    if (op % 2000 == 0) {
      ASSERT_TRUE(a.IsConsistent()) << "op " << op;
      ASSERT_EQ(a.inuse_pages(), m.InUse());
      for (uint64_t s = 0; s < pages; ++s) ASSERT_EQ(a.Count(s), m.count[s]) << s;
    }
  }
  ASSERT_TRUE(a.IsConsistent());
  ASSERT_EQ(a.inuse_pages(), m.InUse());
  uint64_t bad_count = 0;
  for (uint64_t s = 1; s < pages; ++s) bad_count += m.count[s] == kBad;
  ASSERT_EQ(a.bad_pages(), bad_count);
}

TEST(SwapAreaPropertyTest, RandomOperationsMatchTheModel) {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RunModelTest(/*pages=*/3000, seed, /*ops=*/100000);
    if (HasFatalFailure()) return;
  }
}

TEST(SwapAreaPropertyTest, RandomOperationsOnSmallAreas) {
  for (uint64_t pages : {2u, 11u, 257u, 600u}) {
    SCOPED_TRACE("pages " + std::to_string(pages));
    RunModelTest(pages, static_cast<uint32_t>(pages), /*ops=*/20000);
    if (HasFatalFailure()) return;
  }
}

// Four threads, each with its own model of the slots it holds; `owner`
// catches a slot handed out to two holders at once.
TEST(SwapAreaPropertyTest, ConcurrentThreadsNeverShareASlot) {
  constexpr uint64_t kPages = 2500;  // small enough to run full at times
  constexpr int kThreads = 4;
  constexpr int kOps = 30000;
  constexpr uint8_t kOwnedBad = 0xff;
  SwapArea a(kPages, {});
  std::vector<std::atomic<uint8_t>> owner(kPages);
  std::atomic<uint64_t> marked_bad{0};
  std::atomic<int> failures{0};
  std::vector<std::vector<uint8_t>> models(kThreads, std::vector<uint8_t>(kPages, 0));

  auto worker = [&](int t) {
    std::mt19937_64 rng(100 + t);
    std::vector<uint8_t>& m = models[t];
    std::vector<uint64_t> held;  // slots with m[s] > 0 (may hold stale entries)
    auto fail = [&](const std::string& what) {
      if (failures.fetch_add(1) < 10) ADD_FAILURE() << "thread " << t << ": " << what;
    };
    auto take = [&](uint64_t first, uint32_t n) {
      for (uint64_t s = first; s < first + n; ++s) {
        uint8_t expected = 0;
        if (!owner[s].compare_exchange_strong(expected, static_cast<uint8_t>(t + 1))) {
          fail("slot " + std::to_string(s) + " handed out while held by " +
               std::to_string(expected));
        }
        if (a.Count(s) != 1) fail("fresh slot " + std::to_string(s) + " count != 1");
        m[s] = 1;
        held.push_back(s);
      }
    };
    for (int op = 0; op < kOps && failures.load() == 0; ++op) {
      const unsigned kind = rng() % 100;
      const bool want_more = held.size() < 450;
      if (kind < (want_more ? 40u : 20u)) {
        if (auto s = a.Allocate()) take(*s, 1);
      } else if (kind < (want_more ? 45u : 22u)) {
        const uint32_t n = 1 + rng() % 32;
        if (auto s = a.AllocateRun(n)) take(*s, n);
      } else if (kind < (want_more ? 50u : 25u)) {
        if (auto r = a.AllocateUpTo(1 + rng() % 64)) take(r->first, r->second);
      } else if (!held.empty()) {
        const size_t i = rng() % held.size();
        const uint64_t s = held[i];
        if (m[s] == 0 || m[s] == kOwnedBad) {  // stale entry
          held[i] = held.back();
          held.pop_back();
          continue;
        }
        if (kind < 60) {
          Status st = a.Duplicate(s);
          if (m[s] == kMax ? !st.IsNoSpace() : !st.ok()) fail("Duplicate: " + st.ToString());
          if (st.ok()) ++m[s];
        } else if (kind < 99) {
          const bool last = m[s] == 1;
          // Give up ownership before the slot can be handed out again.
          if (last) owner[s].store(0);
          auto r = a.Free(s);
          if (!r.ok() || *r != last) fail("Free: " + r.status().ToString());
          --m[s];
        } else {
          Status st = a.MarkBad(s);
          if (!st.ok()) fail("MarkBad: " + st.ToString());
          m[s] = kOwnedBad;
          marked_bad.fetch_add(1);
        }
        // A slot we still hold is ours alone: its count is stable.
        if (m[s] != 0 && m[s] != kOwnedBad && a.Count(s) != m[s]) fail("count differs");
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);

  ASSERT_TRUE(a.IsConsistent());
  uint64_t held = 0;
  for (const auto& m : models) {
    for (uint8_t c : m) held += c != 0 && c != kOwnedBad;
  }
  EXPECT_EQ(a.inuse_pages(), held);
  EXPECT_EQ(a.bad_pages(), marked_bad.load());
  // Free everything (from this thread: counts may move between shards).
  for (const auto& m : models) {
    for (uint64_t s = 0; s < kPages; ++s) {
      if (m[s] == 0 || m[s] == kOwnedBad) continue;
      for (int i = m[s]; i > 0; --i) ASSERT_EQ(*a.Free(s), i == 1);
    }
  }
  EXPECT_EQ(a.inuse_pages(), 0u);
  EXPECT_EQ(a.free_pages(), a.usable_pages());
  EXPECT_TRUE(a.IsConsistent());
  EXPECT_EQ(AllocateAll(a).size(), a.usable_pages());
}

}  // namespace
}  // namespace uswap
