// Helpers for engine tests: swap files made with the library's own header
// writer, Spaces with small budgets, and kernel-measured resident memory.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/space_impl.h"
#include "io/io_test_util.h"
#include "swap/swap_header.h"
#include "uswap/uswap.h"

namespace uswap::testing {

// Writes a fully allocated swap area of `pages` pages (header included).
inline void MakeSwapFile(const std::string& path, uint64_t pages, size_t page_size = 4096) {
  SwapHeader h;
  h.page_size = page_size;
  h.last_page = static_cast<uint32_t>(pages - 1);
  std::vector<uint8_t> page = h.Serialize();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::posix_fallocate(fd, 0, static_cast<off_t>(pages * page_size)), 0);
  ASSERT_EQ(::pwrite(fd, page.data(), page.size(), 0), static_cast<ssize_t>(page.size()));
  ::close(fd);
}

// The deterministic content of version `v` of page `i` (8-byte words).
inline uint64_t PageWord(uint64_t page, uint32_t version, size_t word) {
  return (page * 0x9E3779B97F4A7C15ull) ^ (uint64_t{version} << 32) ^
         (word * 0xD6E8FEB86659FD93ull) ^ 1;  // never all-zero, so pages never count as zero pages
}

inline void WritePage(uint8_t* p, uint64_t page, uint32_t version, size_t ps = 4096) {
  auto* w = reinterpret_cast<uint64_t*>(p);
  for (size_t i = 0; i < ps / 8; i++) w[i] = PageWord(page, version, i);
}

inline bool CheckPage(const uint8_t* p, uint64_t page, uint32_t version, size_t ps = 4096) {
  auto* w = reinterpret_cast<const uint64_t*>(p);
  for (size_t i = 0; i < ps / 8; i++)
    if (w[i] != PageWord(page, version, i)) return false;
  return true;
}

// A random read/write workload checked against a model (the acceptance
// model test's, shared): `threads` threads over the `pages` pages at
// `base`; thread t owns the pages p with p % threads == t and keeps their
// versions. 90% of accesses go to a hot window of half the budget that
// moves on every `window_step` accesses (the working set moves, so pages go
// cold and come back), 10% are uniform over the region. A third of the
// accesses write one 8-byte word per 512 bytes; the rest read one and
// compare. Ends with a full check of every page. Pages start zero (a fresh
// region). Returns the mismatches seen.
struct ModelWorkload {
  uint64_t pages = 0;
  uint64_t budget = 0;  // pages
  unsigned threads = 1;
  uint64_t accesses_per_thread = 0;
  uint64_t seed = 1234;
  uint64_t window_step = 20000;
};

inline uint64_t RunRandomModel(uint8_t* base, const ModelWorkload& m, size_t ps = 4096) {
  std::atomic<uint64_t> mismatches{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < m.threads; t++) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(m.seed + t);
      std::vector<uint32_t> version(m.pages, 0);
      const uint64_t own = m.pages / m.threads;
      const uint64_t window = std::max<uint64_t>(2, m.budget / 2 / m.threads);
      for (uint64_t n = 0; n < m.accesses_per_thread; n++) {
        uint64_t slot;
        if (rng() % 10)
          slot = ((n / m.window_step) * (window / 2) + rng() % window) % own;
        else
          slot = rng() % own;
        uint64_t page = slot * m.threads + t;
        auto* w = reinterpret_cast<uint64_t*>(base + page * ps);
        size_t word = (rng() % 8) * 64;
        if (rng() % 3 == 0) {
          uint32_t v = ++version[page];
          for (size_t k = 0; k < 8; k++) w[k * 64] = PageWord(page, v, k * 64);
        } else {
          uint64_t want = version[page] ? PageWord(page, version[page], word) : 0;
          if (w[word] != want) mismatches++;
        }
      }
      for (uint64_t page = t; page < m.pages; page += m.threads) {
        auto* w = reinterpret_cast<uint64_t*>(base + page * ps);
        for (size_t k = 0; k < 8; k++) {
          uint64_t want = version[page] ? PageWord(page, version[page], k * 64) : 0;
          if (w[k * 64] != want) mismatches++;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return mismatches.load();
}

// A scratch dir with one swap file, and a Space over it.
class EngineFixture : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  std::string NewSwapFile(const std::string& name, uint64_t pages) {
    std::string path = dir_.File(name);
    MakeSwapFile(path, pages);
    return path;
  }

  std::unique_ptr<Space> OpenSpace(Config cfg) {
    auto s = Space::Open(cfg);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  Config SmallConfig(size_t budget_pages, const std::string& swap) {
    Config cfg;
    cfg.ram_budget_bytes = budget_pages * 4096;
    if (!swap.empty()) cfg.swap_areas.push_back({swap});
    return cfg;
  }

  TempDir dir_;
};

}  // namespace uswap::testing
