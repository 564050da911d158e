// KernelZswap against a parameters directory of its own (the real one is
// exercised end to end by bench_cli_test), /proc/meminfo parsing, and the
// --equal-memory solve.
#include "kernel_zswap.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine.h"

namespace uswap::bench {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// A fake /sys/module/zswap/parameters and /proc/crypto in a scratch directory.
class FakeZswap : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uswap-zswap-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    paths_.params = root_ + "/parameters";
    paths_.crypto = root_ + "/crypto";
    std::filesystem::create_directory(paths_.params);
    Write("enabled", "N\n");
    Write("compressor", "lzo\n");
    Write("max_pool_percent", "20\n");
    Write("accept_threshold_percent", "90\n");
    Write("shrinker_enabled", "N\n");
    Crypto({"lzo", "lzo-rle", "deflate"});
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Write(const std::string& param, const std::string& value) {
    std::ofstream(paths_.params + "/" + param) << value;
  }
  std::string Read(const std::string& param) {
    std::ifstream in(paths_.params + "/" + param);
    std::string v;
    std::getline(in, v);
    return v;
  }
  void Crypto(std::initializer_list<const char*> algs) {
    std::ofstream out(paths_.crypto);
    for (const char* a : algs)
      out << "name         : " << a << "\ndriver       : " << a << "-generic\n\n";
  }

  std::string root_;
  ZswapPaths paths_;
};

TEST_F(FakeZswap, OnEnablesWithLzoRleAndRestoresEverything) {
  {
    Result<std::unique_ptr<KernelZswap>> z = KernelZswap::On("", paths_);
    ASSERT_TRUE(z.ok()) << z.status().ToString();
    EXPECT_TRUE((*z)->enabled());
    EXPECT_EQ((*z)->compressor(), "lzo-rle");
    EXPECT_EQ(Read("enabled"), "Y");
    EXPECT_EQ(Read("compressor"), "lzo-rle");
  }
  EXPECT_EQ(Read("enabled"), "N");
  EXPECT_EQ(Read("compressor"), "lzo");
  EXPECT_EQ(Read("max_pool_percent"), "20");
}

TEST_F(FakeZswap, OnKeepsTheKernelsCompressorWithoutLzoRle) {
  Crypto({"lzo", "deflate"});
  Result<std::unique_ptr<KernelZswap>> z = KernelZswap::On("", paths_);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_EQ((*z)->compressor(), "lzo");
}

TEST_F(FakeZswap, OnUsesTheCompressorAskedFor) {
  {
    Result<std::unique_ptr<KernelZswap>> z = KernelZswap::On("deflate", paths_);
    ASSERT_TRUE(z.ok()) << z.status().ToString();
    EXPECT_EQ(Read("compressor"), "deflate");
  }
  EXPECT_EQ(Read("compressor"), "lzo");
}

TEST_F(FakeZswap, OffDisablesAndRestoresAnEnabledZswap) {
  Write("enabled", "Y\n");
  {
    Result<std::unique_ptr<KernelZswap>> z = KernelZswap::Off(paths_);
    ASSERT_TRUE(z.ok()) << z.status().ToString();
    EXPECT_FALSE((*z)->enabled());
    EXPECT_EQ(Read("enabled"), "N");
  }
  EXPECT_EQ(Read("enabled"), "Y");
}

// A parameter changed by someone else during the run is put back too: the
// destructor restores what was saved, not what it wrote.
TEST_F(FakeZswap, RestoresParametersChangedDuringTheRun) {
  {
    Result<std::unique_ptr<KernelZswap>> z = KernelZswap::On("", paths_);
    ASSERT_TRUE(z.ok());
    Write("max_pool_percent", "50\n");
  }
  EXPECT_EQ(Read("max_pool_percent"), "20");
}

TEST_F(FakeZswap, NoZswapIsNotSupportedAndNamesTheCause) {
  paths_.params = root_ + "/no-such-dir";
  EXPECT_FALSE(KernelZswap::Available(paths_));
  for (bool on : {true, false}) {
    Result<std::unique_ptr<KernelZswap>> r =
        on ? KernelZswap::On("", paths_) : KernelZswap::Off(paths_);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsNotSupported());
    EXPECT_NE(r.status().message().find("no-such-dir"), std::string::npos) << r.status().message();
  }
}

TEST(ReadZswapSampleTest, ParsesMeminfo) {
  char path[] = "/tmp/uswap-meminfo-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "MemTotal:       24684544 kB\nSwapTotal:        131072 kB\n"
                         "SwapFree:          65536 kB\nZswap:             15428 kB\n"
                         "Zswapped:          25536 kB\n";
  std::optional<ZswapSample> s = ReadZswapSample(path);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->pool_bytes, 15428u * 1024);
  EXPECT_EQ(s->stored_bytes, 25536u * 1024);
  EXPECT_EQ(s->swap_used_bytes, 65536u * 1024);
  std::ofstream(path) << "MemTotal:       24684544 kB\n";  // a kernel without zswap
  EXPECT_FALSE(ReadZswapSample(path).has_value());
  ::unlink(path);
}

ZswapFigures Calibration(uint64_t pool, uint64_t swapped, uint64_t usage) {
  ZswapFigures z;
  z.compressor = "lzo-rle";
  z.pool_peak_bytes = pool;
  z.stored_bytes = swapped;
  z.swapped_bytes = swapped;
  z.usage_bytes = usage;
  return z;
}

TEST(SolveEqualMemoryTest, LimitPlusPoolIsTheBudget) {
  // 64 MiB touched at a 32 MiB budget, 3:1: L + (64 - L) / 3 = 32 -> L = 16.
  EqualMemory e = SolveEqualMemory(32 * kMiB, Calibration(32 * kMiB / 3, 32 * kMiB, 32 * kMiB));
  ASSERT_TRUE(e.solved) << e.why;
  EXPECT_NEAR(static_cast<double>(e.limit_bytes), 16.0 * kMiB, 4096);
  EXPECT_EQ(e.limit_bytes % 4096, 0u);
  EXPECT_NEAR(e.pool_per_swapped, 1 / 3.0, 1e-6);
  EXPECT_EQ(e.budget_bytes, 32 * kMiB);
}

TEST(SolveEqualMemoryTest, NoLimitWhenThePoolAloneOutgrowsTheBudget) {
  // 2 GiB touched at 256 MiB, 2:1: the pool alone would be ~1 GiB.
  EqualMemory e = SolveEqualMemory(256 * kMiB, Calibration(896 * kMiB, 1792 * kMiB, 256 * kMiB));
  EXPECT_FALSE(e.solved);
  EXPECT_NE(e.why.find("no limit"), std::string::npos) << e.why;
  // Incompressible pages cost the pool at least their size: never a solution.
  EXPECT_FALSE(SolveEqualMemory(32 * kMiB, Calibration(40 * kMiB, 32 * kMiB, 32 * kMiB)).solved);
}

TEST(SolveEqualMemoryTest, NoPoolKeepsTheBudget) {
  EqualMemory e = SolveEqualMemory(32 * kMiB, Calibration(0, 0, 20 * kMiB));
  ASSERT_TRUE(e.solved);
  EXPECT_EQ(e.limit_bytes, 32 * kMiB);
}

}  // namespace
}  // namespace uswap::bench
