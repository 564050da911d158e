// Zswap (the compressed tier) against a reference model, over a fake disk
// tier: random stores, loads, invalidates and write-backs, single- and
// multi-threaded (a write-back thread racing every other operation); a
// page is never lost or returned stale across tier moves; a full pool
// passes pages down; a failed write-back keeps the object; a corrupted
// object is EBADMSG, never data; incompressible pages bypass the pool; the
// budget is charged exactly the pool's pages and tables.
#include "mm/zswap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "fuzz/fuzz_replay.h"
#include "mm/page_io.h"

namespace uswap {
namespace {

constexpr size_t kPage = 4096;
constexpr uint64_t kBudget = 1024;
constexpr uint64_t kSlots = 8192;

// Version v of the page in `slot`: compressible about 3:1, unless `random`.
void Fill(uint8_t* p, uint64_t slot, uint32_t v, bool random = false) {
  auto* w = reinterpret_cast<uint64_t*>(p);
  uint64_t x = slot * 0x9e3779b97f4a7c15ull + v + 1;
  for (size_t k = 0; k < kPage / 8; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    w[k] = random || k % 3 == 0 ? x : (slot << 24) + v;
  }
}

// The disk below: slots in a map; writes may fail or be slowed (to widen
// races with loads and invalidates).
class FakeDisk final : public SwapBackend {
 public:
  const char* name() const override { return "fake-disk"; }
  void Store(std::span<SwapPage> pages) override {
    if (delay_us.load()) usleep(delay_us.load());
    MutexLock l(&mu_);
    for (SwapPage& p : pages) {
      if (p.status != kPassDown) continue;
      if (fail_writes.load()) {
        p.status = EIO;
        continue;
      }
      slots_[p.entry.value()].assign(p.buf, p.buf + kPage);
      p.sum = PageChecksum(p.buf, kPage);
      p.status = 0;
      writes++;
    }
  }
  void Load(std::span<SwapPage> pages) override {
    MutexLock l(&mu_);
    for (SwapPage& p : pages) {
      if (p.status != kPassDown) continue;
      auto it = slots_.find(p.entry.value());
      if (it == slots_.end()) {
        p.status = ENODATA;  // never written: a test bug or a lost page
        continue;
      }
      std::memcpy(p.buf, it->second.data(), kPage);
      p.status = PageChecksum(p.buf, kPage) == p.sum ? 0 : EBADMSG;
    }
  }
  void Invalidate(SwapEntry e) override {
    MutexLock l(&mu_);
    slots_.erase(e.value());
  }
  std::atomic<bool> fail_writes{false};
  std::atomic<unsigned> delay_us{0};
  std::atomic<uint64_t> writes{0};

 private:
  Mutex mu_;
  std::map<uint64_t, std::vector<uint8_t>> slots_ GUARDED_BY(mu_);
};

struct Tiers {
  explicit Tiers(ZswapOptions o = {}) : frames(kBudget, kPage, Watermarks{16, 20, 24}) {
    auto codec = Compressor::Create("lz4");
    if (!codec.ok()) return;
    z = std::make_unique<Zswap>(o, std::move(*codec), kPage, kBudget, &disk, &frames, nullptr);
    EXPECT_TRUE(z->AttachArea(0, kSlots).ok());
  }
  ~Tiers() {
    if (z) z->DetachArea(0);
  }
  // The engine's stacking: the pool first, then the disk.
  int Store(SwapEntry e, uint8_t* buf, uint32_t* sum, bool* in_pool = nullptr) {
    SwapPage p;
    p.entry = e;
    p.buf = buf;
    z->Store(std::span<SwapPage>(&p, 1));
    if (in_pool) *in_pool = p.status == 0;
    if (p.status == kPassDown) disk.Store(std::span<SwapPage>(&p, 1));
    *sum = p.sum;
    return p.status;
  }
  int Load(SwapEntry e, uint8_t* buf, uint32_t sum, bool* from_pool = nullptr) {
    SwapPage p;
    p.entry = e;
    p.buf = buf;
    p.sum = sum;
    z->Load(std::span<SwapPage>(&p, 1));
    if (from_pool) *from_pool = p.status != kPassDown;
    if (p.status == kPassDown) disk.Load(std::span<SwapPage>(&p, 1));
    return p.status;
  }
  void Free(SwapEntry e) {
    z->Invalidate(e);
    disk.Invalidate(e);
  }
  FramePool frames;
  FakeDisk disk;
  std::unique_ptr<Zswap> z;
};

class ZswapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Compressor::Create("lz4").ok()) GTEST_SKIP() << "built without liblz4";
  }
};

TEST_F(ZswapTest, MatchesAModelThroughStoresLoadsInvalidatesAndWritebacks) {
  ZswapOptions o;
  o.max_pool_percent = 20;  // 204 pages: the pool fills and writes back
  Tiers t(o);
  struct Page {
    uint32_t version = 0;  // 0: the slot is free
    uint32_t sum = 0;
  };
  std::vector<Page> model(kSlots);
  std::vector<uint8_t> buf(kPage), want(kPage);
  std::mt19937_64 rng(7);
  uint64_t loads = 0, from_pool = 0;
  for (int step = 0; step < 60000; step++) {
    const uint64_t slot = rng() % 2048;
    const SwapEntry e(0, slot);
    Page& m = model[slot];
    const unsigned op = rng() % 10;
    if (m.version == 0) {
      m.version = static_cast<uint32_t>(step + 1);
      Fill(buf.data(), slot, m.version);
      ASSERT_EQ(t.Store(e, buf.data(), &m.sum), 0) << "step " << step;
    } else if (op < 6) {
      bool pool = false;
      ASSERT_EQ(t.Load(e, buf.data(), m.sum, &pool), 0) << "step " << step;
      Fill(want.data(), slot, m.version);
      ASSERT_EQ(std::memcmp(buf.data(), want.data(), kPage), 0) << "stale or lost, step " << step;
      loads++;
      from_pool += pool;
      if (op < 3) {  // an exclusive load: the page is dirty, its slot freed
        t.Free(e);
        m = Page();
      }
    } else if (op < 8) {
      t.Free(e);
      m = Page();
    } else {
      // kswapd's turn (MemoryNode::BalanceOnce).
      while (t.z->NeedsWriteback()) {
        const size_t n = t.z->Writeback(1 + rng() % 16);
        if (n == 0 && t.z->MaybeCompact() == 0) break;
      }
    }
  }
  const ZswapStats s = t.z->stats();
  EXPECT_GT(s.written_back, 100u);
  EXPECT_GT(from_pool, loads / 10);  // the pool holds ~600 of ~1500 live pages
  EXPECT_LE(s.pool_pages, s.limit_pages + 8);
  EXPECT_EQ(s.corrupt + s.writeback_errors, 0u);
  // The budget holds exactly the pool's pages and the tables.
  EXPECT_EQ(t.frames.charged_metadata(), s.pool_pages * kPage + s.table_bytes);
  for (uint64_t slot = 0; slot < kSlots; slot++)
    if (model[slot].version) t.Free(SwapEntry(0, slot));
  const ZswapStats end = t.z->stats();
  EXPECT_EQ(end.objects, 0u);
  EXPECT_EQ(end.payload_bytes, 0u);
}

// Several threads own disjoint slots (the engine never has two operations
// on one slot); one more thread writes back all the time, racing their
// loads and invalidates on the very objects it writes.
TEST_F(ZswapTest, WritebackRacingLoadsAndInvalidatesLosesNothing) {
  ZswapOptions o;
  o.max_pool_percent = 30;
  Tiers t(o);
  t.disk.delay_us = 20;  // a write-back's I/O takes a while
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, loads{0};
  std::thread writer([&] {
    while (!stop.load()) t.z->Writeback(8);
  });
  constexpr int kThreads = 3;
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; th++) {
    threads.emplace_back([&, th] {
      std::mt19937_64 rng(th + 1);
      std::vector<uint32_t> version(kSlots / kThreads), sum(kSlots / kThreads);
      std::vector<uint8_t> buf(kPage), want(kPage);
      for (int step = 0; step < 8000; step++) {
        const uint64_t k = rng() % version.size();
        const uint64_t slot = k * kThreads + th;
        const SwapEntry e(0, slot);
        if (version[k] == 0) {
          version[k] = static_cast<uint32_t>(step + 1);
          Fill(buf.data(), slot, version[k]);
          if (t.Store(e, buf.data(), &sum[k]) != 0) bad++;
        } else if (rng() % 3) {
          if (t.Load(e, buf.data(), sum[k]) != 0) bad++;
          Fill(want.data(), slot, version[k]);
          if (std::memcmp(buf.data(), want.data(), kPage) != 0) bad++;
          loads++;
          if (rng() % 2) {
            t.Free(e);
            version[k] = 0;
          }
        } else {
          t.Free(e);
          version[k] = 0;
        }
      }
      for (uint64_t k = 0; k < version.size(); k++)
        if (version[k]) t.Free(SwapEntry(0, k * kThreads + th));
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  writer.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(loads.load(), 1000u);
  const ZswapStats s = t.z->stats();
  EXPECT_GT(s.written_back, 0u);
  EXPECT_EQ(s.objects, 0u);
}

TEST_F(ZswapTest, AFullPoolPassesPagesDownAndIncompressibleOnesBypassIt) {
  ZswapOptions o;
  o.max_pool_percent = 5;  // 51 pages
  Tiers t(o);
  std::vector<uint8_t> buf(kPage), back(kPage);
  std::vector<uint32_t> sums(4096);
  // Random bytes do not compress under the threshold: straight to disk.
  for (uint64_t slot = 1000; slot < 1100; slot++) {
    Fill(buf.data(), slot, 1, /*random=*/true);
    ASSERT_EQ(t.Store(SwapEntry(0, slot), buf.data(), &sums[slot]), 0);
  }
  EXPECT_EQ(t.z->stats().rejected_poor, 100u);
  EXPECT_EQ(t.z->stats().pool_pages, 0u);
  uint64_t down = 0;
  for (uint64_t slot = 0; slot < 1000; slot++) {
    Fill(buf.data(), slot, 1);
    bool in_pool = true;
    ASSERT_EQ(t.Store(SwapEntry(0, slot), buf.data(), &sums[slot], &in_pool), 0);
    down += !in_pool;
  }
  ZswapStats s = t.z->stats();
  EXPECT_GT(s.rejected_full, 0u);
  EXPECT_EQ(s.rejected_full, down);
  EXPECT_LE(s.pool_pages, s.limit_pages + 4);
  for (uint64_t slot = 0; slot < 1100; slot++) {
    ASSERT_EQ(t.Load(SwapEntry(0, slot), back.data(), sums[slot]), 0) << slot;
    Fill(buf.data(), slot, 1, slot >= 1000);
    ASSERT_EQ(std::memcmp(buf.data(), back.data(), kPage), 0) << slot;
    t.Free(SwapEntry(0, slot));
  }
}

// A fork's copy: the objects of one pool go into another with the same
// codec as they are, and load back as the pages they were, written back
// like any other; a full pool refuses them and what it does not hold gives
// nothing to copy.
TEST_F(ZswapTest, ObjectsCopiedIntoAnotherPoolLoadAsTheirPages) {
  Tiers parent, child;
  std::vector<uint8_t> buf(kPage), back(kPage), obj(kPage);
  std::vector<uint32_t> sums(64);
  for (uint64_t slot = 0; slot < 64; slot++) {
    Fill(buf.data(), slot, 7);
    bool in_pool = false;
    ASSERT_EQ(parent.Store(SwapEntry(0, slot), buf.data(), &sums[slot], &in_pool), 0);
    ASSERT_TRUE(in_pool);
    const size_t n = parent.z->CopyObject(SwapEntry(0, slot), obj.data(), obj.size());
    ASSERT_GT(n, 0u);
    ASSERT_LT(n, kPage);
    // Under another slot in the child, as a child's own area numbers it.
    ASSERT_TRUE(child.z->StoreObject(SwapEntry(0, 1000 + slot), obj.data(), n));
  }
  EXPECT_EQ(child.z->stats().copied_in, 64u);
  EXPECT_EQ(child.z->stats().stored, 0u) << "nothing was compressed in the child";
  EXPECT_EQ(child.z->stats().objects, 64u);
  EXPECT_EQ(parent.z->CopyObject(SwapEntry(0, 64), obj.data(), obj.size()), 0u) << "not held";
  // Half written back to the child's disk, then every page loaded.
  EXPECT_EQ(child.z->Writeback(32), 32u);
  for (uint64_t slot = 0; slot < 64; slot++) {
    ASSERT_EQ(child.Load(SwapEntry(0, 1000 + slot), back.data(), sums[slot]), 0) << slot;
    Fill(buf.data(), slot, 7);
    ASSERT_EQ(std::memcmp(buf.data(), back.data(), kPage), 0) << slot;
    child.Free(SwapEntry(0, 1000 + slot));
    parent.Free(SwapEntry(0, slot));
  }
  // A pool at its limit takes no copied object.
  ZswapOptions o;
  o.max_pool_percent = 5;
  Tiers full(o);
  uint64_t refused = 0;
  for (uint64_t slot = 0; slot < 1000 && !refused; slot++) {
    Fill(buf.data(), slot, 7);
    ASSERT_EQ(parent.Store(SwapEntry(0, slot), buf.data(), &sums[0]), 0);
    const size_t n = parent.z->CopyObject(SwapEntry(0, slot), obj.data(), obj.size());
    if (!full.z->StoreObject(SwapEntry(0, slot), obj.data(), n)) refused = slot;
    parent.Free(SwapEntry(0, slot));
  }
  EXPECT_GT(refused, 0u);
  EXPECT_LE(full.z->stats().pool_pages, full.z->stats().limit_pages + 4);
  for (uint64_t slot = 0; slot < refused; slot++) full.Free(SwapEntry(0, slot));
}

TEST_F(ZswapTest, AFailedWritebackKeepsTheObject) {
  ZswapOptions o;
  o.max_pool_percent = 50;
  Tiers t(o);
  std::vector<uint8_t> buf(kPage), back(kPage);
  std::vector<uint32_t> sums(64);
  for (uint64_t slot = 0; slot < 64; slot++) {
    Fill(buf.data(), slot, 1);
    ASSERT_EQ(t.Store(SwapEntry(0, slot), buf.data(), &sums[slot]), 0);
  }
  t.disk.fail_writes = true;
  // Every object gets its second chance first, then its failed write.
  EXPECT_EQ(t.z->Writeback(64), 0u);
  ZswapStats s = t.z->stats();
  EXPECT_EQ(s.writeback_errors, 64u);
  EXPECT_EQ(s.objects, 64u);
  t.disk.fail_writes = false;
  EXPECT_EQ(t.z->Writeback(64), 0u) << "a failed object is not written back again";
  for (uint64_t slot = 0; slot < 64; slot++) {
    bool pool = false;
    ASSERT_EQ(t.Load(SwapEntry(0, slot), back.data(), sums[slot], &pool), 0);
    EXPECT_TRUE(pool);
    Fill(buf.data(), slot, 1);
    ASSERT_EQ(std::memcmp(buf.data(), back.data(), kPage), 0);
    t.Free(SwapEntry(0, slot));
  }
  EXPECT_EQ(t.z->stats().objects, 0u);
}

// Corrupted objects: every bit flip, truncation-like damage and garbage
// gives EBADMSG (counted), never a crash or wrong bytes.
TEST_F(ZswapTest, ACorruptedObjectIsAChecksumErrorNeverData) {
  Tiers t;
  std::vector<uint8_t> buf(kPage), back(kPage);
  std::mt19937_64 rng(3);
  uint64_t ebadmsg = 0;
  for (uint64_t slot = 0; slot < 300; slot++) {
    uint32_t sum = 0;
    Fill(buf.data(), slot, 1);
    ASSERT_EQ(t.Store(SwapEntry(0, slot), buf.data(), &sum), 0);
    ASSERT_TRUE(t.z->MutateObjectForTest(SwapEntry(0, slot), [&](uint8_t* b, size_t len) {
      switch (slot % 3) {
        case 0:  // one bit
          b[rng() % len] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:  // a run of garbage
          for (size_t i = rng() % len, n = 0; i < len && n < 16; i++, n++)
            b[i] = static_cast<uint8_t>(rng());
          break;
        default:  // all of it
          for (size_t i = 0; i < len; i++) b[i] = static_cast<uint8_t>(rng());
      }
    }));
    const int st = t.Load(SwapEntry(0, slot), back.data(), sum);
    if (st == 0) {
      // The flip did not change the decoded page (e.g. a match offset's
      // unused bits): then the bytes must be exact.
      ASSERT_EQ(std::memcmp(buf.data(), back.data(), kPage), 0) << slot;
    } else {
      ASSERT_EQ(st, EBADMSG) << slot;
      ebadmsg++;
    }
    t.Free(SwapEntry(0, slot));
  }
  EXPECT_GT(ebadmsg, 250u);
}

// A pool that stores and frees objects of many sizes keeps some freed
// pages for reuse; with a small limit those alone must not fill it (the
// fuzzer found a 5% share of a 1024-page budget filled by 64 cached pages).
TEST_F(ZswapTest, StoresNeverFailOnCachedPages) {
  ZswapOptions o;
  o.max_pool_percent = 5;  // 51 pages
  Tiers t(o);
  std::vector<uint8_t> buf(kPage);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 3000; i++) {
    // Pages that compress to anything from ~30 bytes to ~2.4 KiB: most
    // size classes, so freed zspages of many classes pile up.
    auto* w = reinterpret_cast<uint64_t*>(buf.data());
    const unsigned random_words = static_cast<unsigned>(rng() % 300);
    for (size_t k = 0; k < kPage / 8; k++) w[k] = k < random_words ? rng() : i;
    bool in_pool = false;
    uint32_t sum = 0;
    ASSERT_EQ(t.Store(SwapEntry(0, 1), buf.data(), &sum, &in_pool), 0);
    ASSERT_TRUE(in_pool) << "store " << i << " refused; poor " << t.z->stats().rejected_poor
                         << " full " << t.z->stats().rejected_full << " pool "
                         << t.z->stats().pool_pages << " limit " << t.z->stats().limit_pages;
    t.Free(SwapEntry(0, 1));
  }
  EXPECT_LE(t.z->stats().pool_pages, 8u);
}

// Every seed and every input that once broke the decompress fuzzer passes
// its checks (a failure aborts).
TEST_F(ZswapTest, FuzzCorpusAndRegressionsPass) {
  EXPECT_GE(fuzz::ReplayFuzzInputs(USWAP_FUZZ_DIR, "zswap_load_fuzz"), 6);
}

}  // namespace
}  // namespace uswap
