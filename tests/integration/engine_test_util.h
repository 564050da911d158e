// Helpers for engine tests: swap files made with the library's own header
// writer, Spaces with small budgets, and kernel-measured resident memory.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/space_impl.h"
#include "base/test_hook.h"
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

// Region memory accessors. Every access a test makes to region bytes goes
// through one of these (never inline in a test body): the bytes move
// between threads through the kernel (pread/pwrite of the memfd,
// UFFDIO_CONTINUE), which ThreadSanitizer cannot see, so tests/tsan.supp
// suppresses races whose stack contains one of these frames, by name
// (uswap::testing::WritePage, CheckPage, Fill*, Check*, Touch*). noinline
// keeps the frame in every stack.

// Writes version `version` of page `page` (every word).
__attribute__((noinline)) inline void WritePage(uint8_t* p, uint64_t page, uint32_t version,
                                                size_t ps = 4096) {
  auto* w = reinterpret_cast<uint64_t*>(p);
  for (size_t i = 0; i < ps / 8; i++) w[i] = PageWord(page, version, i);
}

// Whether every word of the page is version `version` of page `page`.
__attribute__((noinline)) inline bool CheckPage(const uint8_t* p, uint64_t page, uint32_t version,
                                                size_t ps = 4096) {
  auto* w = reinterpret_cast<const uint64_t*>(p);
  for (size_t i = 0; i < ps / 8; i++)
    if (w[i] != PageWord(page, version, i)) return false;
  return true;
}

// Whether every byte of the page is zero.
__attribute__((noinline)) inline bool CheckAllZero(const uint8_t* p, size_t ps = 4096) {
  auto* w = reinterpret_cast<const uint64_t*>(p);
  for (size_t i = 0; i < ps / 8; i++)
    if (w[i] != 0) return false;
  return true;
}

// CheckPage for a model's version: 0 = never written (all zero).
__attribute__((noinline)) inline bool CheckVersion(const uint8_t* p, uint64_t page,
                                                   uint32_t version, size_t ps = 4096) {
  return version ? CheckPage(p, page, version, ps) : CheckAllZero(p, ps);
}

// memset / memcpy into region memory.
__attribute__((noinline)) inline void FillBytes(void* p, int byte, size_t n) {
  std::memset(p, byte, n);
}
__attribute__((noinline)) inline void FillFrom(void* dst, const void* src, size_t n) {
  std::memcpy(dst, src, n);
}
// read(2) into region memory (the kernel writes it: a kernel-mode fault).
__attribute__((noinline)) inline ssize_t FillFromFd(int fd, void* p, size_t n) {
  return ::read(fd, p, n);
}

// Whether region bytes equal `want`; how many bytes differ from it.
__attribute__((noinline)) inline bool CheckEqual(const void* p, const void* want, size_t n) {
  return std::memcmp(p, want, n) == 0;
}
__attribute__((noinline)) inline uint64_t CheckCountDiffering(const void* p, const void* want,
                                                              size_t n) {
  auto* a = static_cast<const uint8_t*>(p);
  auto* b = static_cast<const uint8_t*>(want);
  uint64_t diff = 0;
  for (size_t k = 0; k < n; k++) diff += a[k] != b[k];
  return diff;
}

// Reads one byte (returns only once the access got data).
__attribute__((noinline)) inline uint8_t TouchByte(const void* p) {
  return *static_cast<const volatile uint8_t*>(p);
}

// Polls `cond` every `every` until it holds (true) or `timeout` passes
// (false). For waiting on an observable condition (a counter, a flag),
// never on time alone.
template <typename Cond>
bool WaitUntil(Cond cond, std::chrono::milliseconds timeout = std::chrono::seconds(10),
               std::chrono::microseconds every = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(every);
  }
  return true;
}

// A random read/write workload checked against a model (the acceptance
// model test's, shared): `threads` threads over the `pages` pages at
// `base`; thread t owns the pages p with p % threads == t and keeps their
// versions. 90% of accesses go to a hot window of half the budget that
// moves on every `window_step` accesses (the working set moves, so pages go
// cold and come back), 10% are uniform over the region. A third of the
// accesses write the whole page (a new version); the rest check the whole
// page against its version. Ends with a full check of every page. Pages
// start zero (a fresh region). Returns the mismatches seen; `versions`, if
// given, receives every page's final version (0 = never written).
struct ModelWorkload {
  uint64_t pages = 0;
  uint64_t budget = 0;  // pages
  unsigned threads = 1;
  uint64_t accesses_per_thread = 0;
  uint64_t seed = 1234;
  uint64_t window_step = 20000;
};

inline uint64_t RunRandomModel(uint8_t* base, const ModelWorkload& m, size_t ps = 4096,
                               std::vector<uint32_t>* versions = nullptr) {
  std::atomic<uint64_t> mismatches{0};
  std::vector<std::vector<uint32_t>> version(m.threads, std::vector<uint32_t>(m.pages, 0));
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < m.threads; t++) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(m.seed + t);
      std::vector<uint32_t>& ver = version[t];
      const uint64_t own = m.pages / m.threads;
      const uint64_t window = std::max<uint64_t>(2, m.budget / 2 / m.threads);
      for (uint64_t n = 0; n < m.accesses_per_thread; n++) {
        uint64_t slot;
        if (rng() % 10)
          slot = ((n / m.window_step) * (window / 2) + rng() % window) % own;
        else
          slot = rng() % own;
        uint64_t page = slot * m.threads + t;
        uint8_t* p = base + page * ps;
        if (rng() % 3 == 0)
          WritePage(p, page, ++ver[page], ps);
        else if (!CheckVersion(p, page, ver[page], ps))
          mismatches++;
      }
      for (uint64_t page = t; page < m.pages; page += m.threads)
        if (!CheckVersion(base + page * ps, page, ver[page], ps)) mismatches++;
    });
  }
  for (auto& w : workers) w.join();
  if (versions) {
    versions->assign(m.pages, 0);
    for (unsigned t = 0; t < m.threads; t++)
      for (uint64_t page = t; page < m.pages; page += m.threads)
        (*versions)[page] = version[t][page];
  }
  return mismatches.load();
}

// Removes the test hook and waits until no call of it is still running:
// the points tests hook ("swapin_before_io", "writeback_before_io",
// "reclaim_done") all run with regions_mu held shared, and Map() takes it
// exclusive, so once a Map() returned every call that loaded the old hook
// has finished. Call before the hook's context or its regions go away.
inline void ClearTestHook(Space& space) {
  SetTestHook(nullptr, nullptr);
  auto barrier = space.Map(4096);
  EXPECT_TRUE(barrier.ok()) << barrier.status().ToString();
}

// "key value\n" to the parent. Async-signal-safe: no locks, no allocation,
// one write(2).
inline void ReportToParent(int fd, const char* key, uint64_t value) {
  char buf[96];
  size_t n = 0;
  for (const char* k = key; *k && n < 64; k++) buf[n++] = *k;
  buf[n++] = ' ';
  char digits[20];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value);
  while (d) buf[n++] = digits[--d];
  buf[n++] = '\n';
  ssize_t w = ::write(fd, buf, n);
  (void)w;
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

  // A Space of `budget_pages` with one swap area ("a.swap") of `swap_pages`,
  // its faults delivered by `delivery` (for tests parameterised on it).
  std::unique_ptr<Space> OpenSpace(size_t budget_pages, uint64_t swap_pages,
                                   FaultDelivery delivery) {
    Config cfg = SmallConfig(budget_pages, NewSwapFile("a.swap", swap_pages));
    cfg.fault_delivery = delivery;
    return OpenSpace(cfg);
  }

  TempDir dir_;
};

}  // namespace uswap::testing
