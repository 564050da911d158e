// `uswap demo`: the main job of the README. Maps a region several times the
// RAM budget, works through it (fill, then random reads and writes checked
// against what was written) with a progress line, and prints the engine's
// counters and the swap area's usage.
#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness/swap_file.h"
#include "cli_util.h"
#include "commands.h"
#include "uswap/uswap.h"

namespace uswap::cli {

namespace {

constexpr const char* kCmd = "demo";
constexpr size_t kPage = 4096;

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "usage: uswap demo [--ram SIZE] [--region SIZE] [--swap FILE] [--threads N]\n"
               "                  [--accesses N]\n"
               "Maps a region larger than the RAM budget (default: 256M of RAM, 1G region),\n"
               "fills it, reads and writes it at random checking every read, and prints the\n"
               "paging counters and swap usage. Without --swap a swap file is created under\n"
               "$TMPDIR (default /var/tmp) and removed at the end.\n");
}

uint64_t Word(uint64_t page, uint64_t version) {
  return (page + 1) * 0x9E3779B97F4A7C15ull ^ version * 0xD6E8FEB86659FD93ull;
}

struct Progress {
  bool tty = isatty(STDERR_FILENO);
  void Show(const char* phase, uint64_t done, uint64_t total, const Stats& s) {
    if (!tty) return;
    std::fprintf(
        stderr, "\r%-6s %5.1f%%  resident %llu/%llu pages  swapped out %llu  in %llu   ", phase,
        total ? 100.0 * done / total : 100.0, static_cast<unsigned long long>(s.resident_pages),
        static_cast<unsigned long long>(s.budget_pages), static_cast<unsigned long long>(s.pswpout),
        static_cast<unsigned long long>(s.pswpin));
  }
  void End() {
    if (tty) std::fprintf(stderr, "\n");
  }
};

}  // namespace

int DemoMain(int argc, char** argv) {
  uint64_t ram = 256ull << 20, region_bytes = 1ull << 30, accesses = 0;
  unsigned threads = 2;
  std::string swap_path;
  static const option kLong[] = {{"ram", required_argument, nullptr, 'r'},
                                 {"region", required_argument, nullptr, 'g'},
                                 {"swap", required_argument, nullptr, 's'},
                                 {"threads", required_argument, nullptr, 't'},
                                 {"accesses", required_argument, nullptr, 'a'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  opterr = 0;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, ":h", kLong, nullptr)) != -1;) {
    switch (c) {
      case 'r':
      case 'g': {
        Result<uint64_t> v = ParseSize(optarg);
        if (!v.ok()) return UsageError(kCmd, v.status().message());
        (c == 'r' ? ram : region_bytes) = *v;
        break;
      }
      case 's':
        swap_path = optarg;
        break;
      case 't':
      case 'a': {
        char* end = nullptr;
        unsigned long long v = std::strtoull(optarg, &end, 10);
        if (!*optarg || *end || (c == 't' && (v < 1 || v > 64)))
          return UsageError(kCmd, std::string("bad number '") + optarg + "'");
        if (c == 't')
          threads = static_cast<unsigned>(v);
        else
          accesses = v;
        break;
      }
      case 'h':
        PrintUsage(stdout);
        return 0;
      default:
        return BadOption(kCmd, c, argv);
    }
  }
  if (optind != argc) return UsageError(kCmd, "unexpected argument");
  if (region_bytes < kPage) return UsageError(kCmd, "--region is too small");
  const uint64_t pages = region_bytes / kPage;
  if (accesses == 0) accesses = pages;

  if (swap_path.empty()) {
    swap_path = TempDir() + "/uswap-demo-" + std::to_string(getpid()) + ".swap";
  }
  // Room for the whole region plus 1/8 (clustering leaves partial clusters).
  auto swap =
      bench::SwapFile::CreateOrOpen(swap_path, region_bytes + region_bytes / 8 + (4u << 20));
  if (!swap.ok()) return Fail(kCmd, swap_path, swap.status().message());

  Config cfg;
  cfg.ram_budget_bytes = ram;
  cfg.swap_areas.push_back({(*swap)->path()});
  auto space = Space::Open(cfg);
  if (!space.ok()) return Fail(kCmd, "", space.status().ToString());
  auto region = (*space)->Map(region_bytes);
  if (!region.ok()) return Fail(kCmd, "", region.status().ToString());
  std::printf("uswap demo: region %s, RAM budget %s, swap %s, %u thread(s)\n",
              HumanSize(region_bytes).c_str(), HumanSize(ram).c_str(), (*swap)->path().c_str(),
              threads);

  auto* base = static_cast<uint64_t*>((*region)->data());
  const size_t words = kPage / sizeof(uint64_t);
  std::vector<uint64_t> version(pages, 1);
  Progress progress;
  auto t0 = std::chrono::steady_clock::now();

  // Phase 1: fill, each thread a contiguous share.
  std::atomic<uint64_t> done{0};
  auto run = [&](auto&& body) {
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < threads; t++) ts.emplace_back(body, t);
    for (auto& th : ts) th.join();
  };
  std::thread ticker;
  std::atomic<bool> ticking{true};
  const char* phase = "fill";
  uint64_t total = pages;
  ticker = std::thread([&] {
    while (ticking.load()) {
      progress.Show(phase, done.load(), total, (*space)->stats());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  run([&](unsigned t) {
    uint64_t lo = pages * t / threads, hi = pages * (t + 1) / threads;
    for (uint64_t p = lo; p < hi; p++) {
      base[p * words] = Word(p, 1);
      base[p * words + words - 1] = Word(p, 1) ^ 1;
      done++;
    }
  });
  auto t1 = std::chrono::steady_clock::now();

  // Phase 2: random reads (checked) and writes; thread t owns pages p % threads == t.
  phase = "random";
  total = accesses;
  done = 0;
  std::atomic<uint64_t> mismatches{0};
  run([&](unsigned t) {
    std::mt19937_64 rng(42 + t);
    const uint64_t mine = (pages - t + threads - 1) / threads;
    for (uint64_t n = 0; n < accesses / threads; n++) {
      uint64_t p = (rng() % mine) * threads + t;
      uint64_t* w = base + p * words;
      if (rng() % 4 == 0) {
        version[p]++;
        w[0] = Word(p, version[p]);
        w[words - 1] = Word(p, version[p]) ^ 1;
      } else if (w[0] != Word(p, version[p]) || w[words - 1] != (Word(p, version[p]) ^ 1)) {
        mismatches++;
      }
      done++;
    }
  });
  ticking = false;
  ticker.join();
  progress.End();
  auto t2 = std::chrono::steady_clock::now();

  Stats s = (*space)->stats();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf("fill:   %llu pages in %.2f s (%.0f pages/s)\n",
              static_cast<unsigned long long>(pages), secs(t0, t1), pages / secs(t0, t1));
  std::printf("random: %llu accesses in %.2f s (%.0f accesses/s), %llu mismatches\n",
              static_cast<unsigned long long>(accesses), secs(t1, t2), accesses / secs(t1, t2),
              static_cast<unsigned long long>(mismatches.load()));
  if (s.zswap_limit_pages) {
    // The compressed tier (doc/tiers.md): what it kept in RAM instead of
    // the disk, and at what memory cost.
    std::printf(
        "compressed tier: %llu pages stored, %llu faults served from it, %llu written back, "
        "%llu incompressible; pool %s of %s allowed, ratio %.2f\n",
        static_cast<unsigned long long>(s.zswap_stored),
        static_cast<unsigned long long>(s.zswap_loaded),
        static_cast<unsigned long long>(s.zswap_written_back),
        static_cast<unsigned long long>(s.zswap_rejected_poor),
        HumanSize(s.zswap_pool_pages * kPage).c_str(),
        HumanSize(s.zswap_limit_pages * kPage).c_str(),
        s.zswap_payload_bytes ? double(s.zswap_objects * kPage) / double(s.zswap_payload_bytes)
                              : 0.0);
  }
  std::printf("\n-- counters --\n%s", s.ToText().c_str());
  std::printf("\n-- swap areas --\n");
  for (const AreaStats& a : s.areas)
    std::printf("%s  priority %d  used %llu of %llu slots (%s of %s)  bad %llu\n", a.path.c_str(),
                a.priority, static_cast<unsigned long long>(a.inuse_pages),
                static_cast<unsigned long long>(a.pages), HumanSize(a.inuse_pages * kPage).c_str(),
                HumanSize(a.pages * kPage).c_str(), static_cast<unsigned long long>(a.bad_pages));
  region->reset();
  space->reset();
  if (mismatches.load()) return Fail(kCmd, "", "data mismatches: the engine returned wrong data");
  return 0;
}

}  // namespace uswap::cli
