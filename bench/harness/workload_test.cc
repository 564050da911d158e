#include "workload.h"

#include <gtest/gtest.h>
#ifdef USWAP_BENCH_HAVE_LZ4
#include <lz4.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

namespace uswap::bench {
namespace {

std::vector<uint64_t> Page(DataKind data, uint64_t seed, uint64_t page, uint32_t version) {
  std::vector<uint64_t> p(kWordsPerPage);
  FillPage(p.data(), data, seed, page, version);
  return p;
}

TEST(ZipfGeneratorTest, RankZeroIsHottestAndSkewMatchesTheta) {
  const uint64_t n = 10000;
  ZipfGenerator zipf(n, 0.99);
  Rng rng(7);
  std::vector<uint64_t> hits(n);
  const int kSamples = 400000;
  for (int i = 0; i < kSamples; ++i) {
    uint64_t r = zipf.Next(rng);
    ASSERT_LT(r, n);
    ++hits[r];
  }
  double zeta = 0;
  for (uint64_t i = 1; i <= n; ++i) zeta += 1.0 / std::pow(static_cast<double>(i), 0.99);
  // P(rank 0) = 1 / zeta(n); within 10%.
  EXPECT_NEAR(hits[0] / double(kSamples), 1 / zeta, 0.1 / zeta);
  EXPECT_GT(hits[0], hits[1]);
  EXPECT_GT(hits[1], hits[10]);
  // The hottest 1% of ranks take far more than 1% of the accesses.
  uint64_t top = 0;
  for (uint64_t i = 0; i < n / 100; ++i) top += hits[i];
  EXPECT_GT(top, kSamples * 4 / 10);
}

TEST(ZipfGeneratorTest, SmallerThetaIsFlatter) {
  const uint64_t n = 10000;
  ZipfGenerator skewed(n, 0.99), flat(n, 0.2);
  Rng a(1), b(1);
  int skewed_zero = 0, flat_zero = 0;
  for (int i = 0; i < 100000; ++i) {
    skewed_zero += skewed.Next(a) == 0;
    flat_zero += flat.Next(b) == 0;
  }
  EXPECT_GT(skewed_zero, 10 * flat_zero);
}

TEST(RankScatterTest, IsABijectionThatSeparatesNeighbours) {
  for (uint64_t n : {2ull, 3ull, 1000ull, 4096ull, 524288ull}) {
    RankScatter s(n);
    std::vector<bool> seen(n);
    for (uint64_t r = 0; r < n; ++r) {
      uint64_t p = s.Page(r);
      ASSERT_LT(p, n);
      ASSERT_FALSE(seen[p]) << "n=" << n << " rank " << r;
      seen[p] = true;
    }
    if (n >= 1000) {  // the hot ranks 0..9 are not neighbours
      std::set<uint64_t> hot;
      for (uint64_t r = 0; r < 10; ++r) hot.insert(s.Page(r));
      for (uint64_t p : hot) EXPECT_FALSE(hot.count(p + 1)) << "n=" << n;
    }
  }
}

TEST(SeqSliceTest, CoversEveryPageExactlyOnce) {
  for (uint64_t pages : {1ull, 7ull, 1000ull, 1023ull}) {
    for (unsigned threads = 1; threads <= 9; ++threads) {
      uint64_t next = 0;
      for (unsigned t = 0; t < threads; ++t) {
        PageRange r = SeqSlice(pages, threads, t);
        EXPECT_EQ(r.begin, next);
        EXPECT_LE(r.begin, r.end);
        EXPECT_LE(r.end - r.begin, pages / threads + 1);
        next = r.end;
      }
      EXPECT_EQ(next, pages) << pages << " pages, " << threads << " threads";
    }
  }
}

TEST(VerifyPageTest, AcceptsWhatFillPageWrote) {
  for (DataKind d : {DataKind::kRandom, DataKind::kCompressible, DataKind::kZero}) {
    auto p = Page(d, 3, 42, 5);
    EXPECT_EQ(VerifyPage(p.data(), d, 3, 42, 5, true), Verdict::kOk) << DataKindName(d);
  }
}

TEST(VerifyPageTest, CatchesStaleWrongAndZeroPages) {
  for (DataKind d : {DataKind::kRandom, DataKind::kCompressible}) {
    auto p = Page(d, 3, 42, 5);
    EXPECT_EQ(VerifyPage(p.data(), d, 3, 42, 6, false), Verdict::kWrongOrStale);  // stale
    EXPECT_EQ(VerifyPage(p.data(), d, 3, 43, 5, false), Verdict::kWrongOrStale);  // wrong page
    EXPECT_EQ(VerifyPage(p.data(), d, 4, 42, 5, false), Verdict::kWrongOrStale);  // other seed
    std::vector<uint64_t> zero(kWordsPerPage, 0);
    EXPECT_EQ(VerifyPage(zero.data(), d, 3, 42, 5, false), Verdict::kZero);
  }
}

TEST(VerifyPageTest, FullCheckCatchesTornInterior) {
  auto p = Page(DataKind::kRandom, 1, 9, 0);
  p[200] ^= 1;
  EXPECT_EQ(VerifyPage(p.data(), DataKind::kRandom, 1, 9, 0, false), Verdict::kOk);
  EXPECT_EQ(VerifyPage(p.data(), DataKind::kRandom, 1, 9, 0, true), Verdict::kCorrupt);
  auto q = Page(DataKind::kRandom, 1, 9, 0);
  q[kWordsPerPage - 1] = 0;  // second half lost
  EXPECT_EQ(VerifyPage(q.data(), DataKind::kRandom, 1, 9, 0, false), Verdict::kCorrupt);
  std::vector<uint64_t> z(kWordsPerPage, 0);
  z[100] = 1;
  EXPECT_EQ(VerifyPage(z.data(), DataKind::kZero, 1, 9, 0, true), Verdict::kCorrupt);
}

TEST(FillPageTest, CompressibleRepeatsTwoThirdsOfThePageAndRandomDoesNot) {
  auto distinct = [](const std::vector<uint64_t>& p) {
    return std::set<uint64_t>(p.begin(), p.end()).size();
  };
  EXPECT_LE(distinct(Page(DataKind::kCompressible, 1, 2, 3)), kWordsPerPage / 3 + 2);
  EXPECT_EQ(distinct(Page(DataKind::kRandom, 1, 2, 3)), kWordsPerPage);
}

// --data compressible stands for a real heap, which compresses about 3:1
// (e.g. zswap's and zram's reported ratios); checked with lz4, the
// compressor a compressed tier would use. random must not compress.
TEST(FillPageTest, CompressibleCompressesAbout3To1WithLz4) {
#ifndef USWAP_BENCH_HAVE_LZ4
  GTEST_SKIP() << "built without lz4";
#else
  auto ratio = [](DataKind d) {
    std::vector<char> out(LZ4_compressBound(kPageSize));
    size_t in_bytes = 0, out_bytes = 0;
    for (uint64_t page = 0; page < 64; ++page) {
      auto p = Page(d, 1, page, static_cast<uint32_t>(page % 3));
      int n = LZ4_compress_default(reinterpret_cast<const char*>(p.data()), out.data(),
                                   static_cast<int>(kPageSize), static_cast<int>(out.size()));
      EXPECT_GT(n, 0);
      in_bytes += kPageSize;
      out_bytes += static_cast<size_t>(n);
    }
    return static_cast<double>(in_bytes) / static_cast<double>(out_bytes);
  };
  const double compressible = ratio(DataKind::kCompressible);
  EXPECT_GE(compressible, 2.5);
  EXPECT_LE(compressible, 3.5);
  EXPECT_LT(ratio(DataKind::kRandom), 1.01);
#endif
}

struct Region {
  explicit Region(size_t pages) : words(pages * kWordsPerPage) {}
  uint8_t* data() { return reinterpret_cast<uint8_t*>(words.data()); }
  std::vector<uint64_t> words;
};

WorkloadSpec Spec(Pattern p, size_t pages, unsigned threads) {
  WorkloadSpec s;
  s.pattern = p;
  s.region_bytes = pages * kPageSize;
  s.threads = threads;
  return s;
}

TEST(RunWorkloadTest, EveryPatternRunsCleanWithThreads) {
  for (Pattern p : {Pattern::kSeqRead, Pattern::kSeqWrite, Pattern::kRandRead, Pattern::kRandWrite,
                    Pattern::kZipfRead, Pattern::kMixed}) {
    Region region(1000);
    WorkloadSpec s = Spec(p, 1000, 4);
    s.ops = 20000;
    ASSERT_EQ(ValidateSpec(s), "");
    WorkloadResult r = RunWorkload(region.data(), s, {}, nullptr);
    EXPECT_EQ(r.mismatches, 0u) << PatternName(p) << ": " << r.first_mismatch;
    EXPECT_EQ(r.accesses, 20000u) << PatternName(p);
    EXPECT_EQ(r.reads + r.writes, r.accesses);
    EXPECT_EQ(r.verified_pages, PatternWrites(p) ? 1000u : 0u);
    EXPECT_GT(r.full_checks, 0u);
    EXPECT_FALSE(r.interrupted);
  }
}

TEST(RunWorkloadTest, DefaultIsOnePassForSeqAndRegionPagesForRandom) {
  Region region(101);
  WorkloadResult seq = RunWorkload(region.data(), Spec(Pattern::kSeqRead, 101, 3), {}, nullptr);
  EXPECT_EQ(seq.accesses, 101u);
  WorkloadResult rnd = RunWorkload(region.data(), Spec(Pattern::kRandRead, 101, 2), {}, nullptr);
  EXPECT_EQ(rnd.accesses, 101u);
}

TEST(RunWorkloadTest, SecondsBoundsTheRun) {
  Region region(64);
  WorkloadSpec s = Spec(Pattern::kRandRead, 64, 2);
  s.seconds = 0.2;
  WorkloadResult r = RunWorkload(region.data(), s, {}, nullptr);
  EXPECT_GT(r.accesses, 64u);
  EXPECT_GE(r.run_seconds, 0.19);
  EXPECT_LT(r.run_seconds, 5.0);
}

TEST(RunWorkloadTest, CountsAPageCorruptedAfterTheFill) {
  Region region(64);
  int calls = 0;
  // The counters callback runs between phases: the second call comes right
  // after the fill, a stand-in for a swap-in that returns the wrong page.
  auto corrupt = [&] {
    if (++calls == 2) std::memcpy(region.data() + 3 * kPageSize, region.data(), kPageSize);
    return Counters{};
  };
  WorkloadResult r = RunWorkload(region.data(), Spec(Pattern::kSeqRead, 64, 1), corrupt, nullptr);
  EXPECT_EQ(r.mismatches, 1u);
  EXPECT_NE(std::string(r.first_mismatch).find("page 3 "), std::string::npos) << r.first_mismatch;
}

TEST(RunWorkloadTest, VerifyPassCatchesALostWrite) {
  Region region(64);
  int calls = 0;
  auto lose = [&] {  // third call: after the run, before the verification pass
    if (++calls == 3) std::memset(region.data() + 10 * kPageSize, 0, kPageSize);
    return Counters{};
  };
  WorkloadResult r = RunWorkload(region.data(), Spec(Pattern::kSeqWrite, 64, 2), lose, nullptr);
  EXPECT_EQ(r.mismatches, 1u);
  EXPECT_NE(std::string(r.first_mismatch).find("zero page"), std::string::npos);
}

TEST(RunWorkloadTest, StopFlagEndsTheRun) {
  Region region(64);
  std::atomic<bool> stop{true};
  WorkloadResult r = RunWorkload(region.data(), Spec(Pattern::kRandRead, 64, 1), {}, &stop);
  EXPECT_TRUE(r.interrupted);
}

TEST(WorkloadNamesTest, RoundTrip) {
  for (const char* name :
       {"seq-read", "seq-write", "rand-read", "rand-write", "zipf-read", "mixed"}) {
    ASSERT_TRUE(ParsePattern(name).has_value()) << name;
    EXPECT_STREQ(PatternName(*ParsePattern(name)), name);
  }
  EXPECT_FALSE(ParsePattern("random").has_value());
  EXPECT_EQ(ParseDataKind("zero"), DataKind::kZero);
}

}  // namespace
}  // namespace uswap::bench
