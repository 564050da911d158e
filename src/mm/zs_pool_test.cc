// ZsPool against a reference model: random stores, loads, frees and
// compactions, single- and multi-threaded; packing of compressed-page-like
// sizes (issue 12: pool bytes / payload <= 1.10).
#include "mm/zs_pool.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

namespace uswap {
namespace {

constexpr size_t kPage = 4096;

// Object `key`'s bytes: recognisable, different for every key and length.
std::vector<uint8_t> Bytes(uint64_t key, size_t len) {
  std::vector<uint8_t> b(len);
  uint64_t x = key * 0x9e3779b97f4a7c15ull + len;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b[i] = static_cast<uint8_t>(x);
  }
  return b;
}

TEST(ZsPoolTest, RejectsEmptyAndOversizedObjects) {
  ZsPool pool(kPage);
  uint8_t buf[kPage] = {};
  EXPECT_TRUE(pool.Store(buf, 0).status().IsInvalidArgument());
  EXPECT_TRUE(pool.Store(buf, pool.max_object() + 1).status().IsInvalidArgument());
  auto h = pool.Store(buf, pool.max_object());
  ASSERT_TRUE(h.ok());
  EXPECT_NE(*h, 0u);
  EXPECT_EQ(pool.stats().pool_pages, 1u) << "a page-sized object takes one page";
}

// Every live object reads back exactly, through frees and compactions,
// against a std::map; at the end everything is freed and compaction gives
// every page back.
TEST(ZsPoolTest, RandomOperationsMatchAReferenceModel) {
  ZsPool pool(kPage);
  std::map<uint64_t, std::pair<uint64_t, size_t>> live;  // handle -> key, len
  std::mt19937_64 rng(7);
  std::vector<uint8_t> out(kPage);
  uint64_t next_key = 1, payload = 0;
  for (int step = 0; step < 60000; step++) {
    const unsigned op = rng() % 100;
    if (op < 55 || live.empty()) {
      const size_t len = 1 + rng() % pool.max_object();
      const uint64_t key = next_key++;
      const auto b = Bytes(key, len);
      auto h = pool.Store(b.data(), len);
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      ASSERT_TRUE(live.emplace(*h, std::make_pair(key, len)).second) << "handle reused while live";
      payload += len;
    } else if (op < 80) {
      auto it = live.lower_bound(rng());
      if (it == live.end()) it = live.begin();
      const auto [key, len] = it->second;
      ASSERT_EQ(pool.Load(it->first, out.data()), len);
      ASSERT_EQ(std::memcmp(out.data(), Bytes(key, len).data(), len), 0) << "object " << key;
    } else if (op < 99) {
      auto it = live.lower_bound(rng());
      if (it == live.end()) it = live.begin();
      payload -= it->second.second;
      pool.Free(it->first);
      live.erase(it);
    } else {
      pool.Compact();
    }
    if (step % 5000 == 0) {
      const ZsPoolStats s = pool.stats();
      ASSERT_EQ(s.objects, live.size());
      ASSERT_EQ(s.payload_bytes, payload);
    }
  }
  pool.Compact();
  for (const auto& [h, kl] : live) {
    ASSERT_EQ(pool.Load(h, out.data()), kl.second);
    ASSERT_EQ(std::memcmp(out.data(), Bytes(kl.first, kl.second).data(), kl.second), 0);
  }
  for (const auto& [h, kl] : live) pool.Free(h);
  pool.Compact();
  const ZsPoolStats s = pool.stats();
  EXPECT_EQ(s.objects, 0u);
  EXPECT_EQ(s.payload_bytes, 0u);
  // At most one empty zspage (of up to 4 pages) is kept per class.
  EXPECT_LE(s.pool_pages, 255u * 4) << "zspages leaked";
}

// Compressed pages (lz4 on real memory: mostly 1-3 KiB), churned as a
// pool would be by loads and writeback: after compaction the pool takes at
// most 10% more than its payload.
TEST(ZsPoolTest, CompressedPageSizesPackWithinTenPercentAfterCompaction) {
  ZsPool pool(kPage);
  std::mt19937_64 rng(11);
  std::normal_distribution<double> size(1550, 500);
  std::vector<uint64_t> handles;
  std::vector<uint8_t> buf(kPage, 0x5a);
  for (int i = 0; i < 40000; i++) {
    const size_t len = std::clamp<long>(std::lround(size(rng)), 64, 2990);
    auto h = pool.Store(buf.data(), len);
    ASSERT_TRUE(h.ok());
    handles.push_back(*h);
  }
  // Free a random half: the zspages are left half empty.
  std::shuffle(handles.begin(), handles.end(), rng);
  for (size_t i = 0; i < handles.size() / 2; i++) pool.Free(handles[i]);
  const double before = pool.stats().fragmentation(kPage);
  const size_t freed = pool.Compact();
  const ZsPoolStats s = pool.stats();
  std::printf("pool/payload: %.3f after freeing half, %.3f after Compact (%zu pages freed)\n",
              before, s.fragmentation(kPage), freed);
  EXPECT_GT(freed, 0u);
  EXPECT_GT(before, 1.3) << "the frees did not fragment the pool: the test proves nothing";
  EXPECT_LE(s.fragmentation(kPage), 1.10)
      << s.pool_pages << " pages for " << s.payload_bytes << " bytes";
}

// Threads store, load, free and compact at once; each checks its own
// objects (ThreadSanitizer checks the locking in its stage).
TEST(ZsPoolTest, ConcurrentUseKeepsEveryObjectIntact) {
  ZsPool pool(kPage);
  constexpr int kThreads = 4;
  std::vector<uint64_t> bad(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<std::pair<uint64_t, std::pair<uint64_t, size_t>>> mine;
      std::vector<uint8_t> out(kPage);
      for (int step = 0; step < 8000; step++) {
        const unsigned op = rng() % 10;
        if (op < 5 || mine.empty()) {
          const size_t len = 1 + rng() % 3000;
          const uint64_t key = (uint64_t(t) << 32) | step;
          auto h = pool.Store(Bytes(key, len).data(), len);
          if (!h.ok()) {
            bad[t]++;
            continue;
          }
          mine.push_back({*h, {key, len}});
        } else if (op < 8) {
          const auto& [h, kl] = mine[rng() % mine.size()];
          if (pool.Load(h, out.data()) != kl.second ||
              std::memcmp(out.data(), Bytes(kl.first, kl.second).data(), kl.second) != 0)
            bad[t]++;
        } else if (op < 9) {
          const size_t i = rng() % mine.size();
          pool.Free(mine[i].first);
          mine[i] = mine.back();
          mine.pop_back();
        } else if (step % 100 == 0) {
          pool.Compact();
        }
      }
      for (const auto& [h, kl] : mine) {
        if (pool.Load(h, out.data()) != kl.second ||
            std::memcmp(out.data(), Bytes(kl.first, kl.second).data(), kl.second) != 0)
          bad[t]++;
        pool.Free(h);
      }
    });
  for (auto& th : ts) th.join();
  for (int t = 0; t < kThreads; t++) EXPECT_EQ(bad[t], 0u) << "thread " << t;
  EXPECT_EQ(pool.stats().objects, 0u);
}

}  // namespace
}  // namespace uswap
