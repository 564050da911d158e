// Fault round trips, per page, through the whole engine (Google Benchmark):
//   BM_MinorFault      re-touch of a resident page whose PTE was zapped
//                      (inactive list): MINOR fault -> UFFDIO_CONTINUE
//   BM_ZeroFillFault   first touch in random order (no fault-around):
//                      MISSING fault -> UFFDIO_ZEROPAGE
//   BM_ZeroFillSeq     first touch in order: fault-around maps 16 at a time
//   BM_SwapIn          read of a swapped-out page, readahead off, file or
//                      uring store: MISSING fault -> O_DIRECT read +
//                      UFFDIO_COPY
//   BM_DeviceRead      the floor under BM_SwapIn: one O_DIRECT 4 KiB pread at
//                      a random offset of a file as large as its swap area,
//                      in the same directory, no engine
// Times are wall-clock per page, handler-thread delivery unless the
// arguments say sigbus:1. Run: build/bench/fault_bench --benchmark_repetitions=3
// Figures and their analysis: doc/engine.md, "Where the time goes".
// Environment: USWAP_BENCH_POLL_US=N measures with Config::handler_poll_us
// = N (0: handler threads never poll); USWAP_BENCH_STATS=1 prints the
// Space's counters after BM_SwapIn.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "api/space_impl.h"
#include "base/unique_fd.h"
#include "bench/harness/swap_file.h"
#include "uswap/uswap.h"

namespace uswap {
namespace {

constexpr size_t kPage = 4096;

struct Env {
  std::unique_ptr<bench::SwapFile> swap;
  std::unique_ptr<Space> space;
};

Env MakeEnv(size_t budget_pages, size_t swap_pages, unsigned readahead,
            FaultDelivery delivery = FaultDelivery::kHandlerThreads,
            const std::string& store = "file") {
  Env env;
  std::string path = "/var/tmp/uswap-fault-bench-" + std::to_string(getpid()) + ".swap";
  auto sf = bench::SwapFile::Create(path, (swap_pages + 1) * kPage);
  if (!sf.ok()) return env;
  env.swap = std::move(*sf);
  Config cfg;
  cfg.ram_budget_bytes = budget_pages * kPage;
  cfg.swap_areas.push_back({env.swap->path()});
  cfg.readahead_pages = readahead;
  cfg.block_store = store;
  cfg.fault_delivery = delivery;
  // USWAP_BENCH_POLL_US: the handler poll window to measure (default: the Config default).
  if (const char* poll = getenv("USWAP_BENCH_POLL_US")) cfg.handler_poll_us = atoi(poll);
  auto s = Space::Open(cfg);
  if (s.ok()) env.space = std::move(*s);
  return env;
}

std::vector<uint64_t> Shuffled(uint64_t n, uint64_t seed) {
  std::vector<uint64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return v;
}

void BM_MinorFault(benchmark::State& state) {
  const uint64_t pages = 4096;
  Env env = MakeEnv(16384, 16384, 8, static_cast<FaultDelivery>(state.range(0)));
  if (!env.space) return state.SkipWithError("cannot open a Space");
  auto r = env.space->Map(pages * kPage);
  volatile uint8_t* base = static_cast<uint8_t*>((*r)->data());
  for (uint64_t i = 0; i < pages; i++) base[i * kPage] = 1;
  MmRegion* mm = ImplOf(**r)->mm();
  auto order = Shuffled(pages, 1);
  for (auto _ : state) {
    state.PauseTiming();
    {
      // Unmap every page (what aging does to the inactive list).
      for (uint64_t b = 0; b < pages; b += MmRegion::kBlockPages) {
        MutexLock l(&mm->block_lock(b));
        for (uint64_t i = b; i < mm->block_end(b); i++)
          mm->pte(i).flags &= ~(kMapped | kWriteProtected);
        (void)mm->Zap(b, mm->block_end(b) - b);
      }
    }
    state.ResumeTiming();
    for (uint64_t i : order) benchmark::DoNotOptimize(base[i * kPage]);
  }
  state.SetItemsProcessed(state.iterations() * pages);
  state.counters["us_per_fault"] =
      benchmark::Counter(static_cast<double>(state.iterations() * pages),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  r->reset();
}
BENCHMARK(BM_MinorFault)->Arg(0)->ArgName("sigbus")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MinorFault)->Arg(1)->ArgName("sigbus")->Unit(benchmark::kMillisecond)->UseRealTime();

void ZeroFill(benchmark::State& state, bool random_order) {
  const uint64_t pages = 4096;
  Env env = MakeEnv(16384, 16384, 8);
  if (!env.space) return state.SkipWithError("cannot open a Space");
  auto order = Shuffled(pages, 2);
  if (!random_order) std::sort(order.begin(), order.end());
  for (auto _ : state) {
    state.PauseTiming();
    auto r = env.space->Map(pages * kPage);
    volatile uint8_t* base = static_cast<uint8_t*>((*r)->data());
    state.ResumeTiming();
    for (uint64_t i : order) base[i * kPage] = 1;
    state.PauseTiming();
    r->reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * pages);
  state.counters["us_per_page"] =
      benchmark::Counter(static_cast<double>(state.iterations() * pages),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
void BM_ZeroFillFault(benchmark::State& state) { ZeroFill(state, true); }
void BM_ZeroFillSeq(benchmark::State& state) { ZeroFill(state, false); }
BENCHMARK(BM_ZeroFillFault)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZeroFillSeq)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SwapIn(benchmark::State& state) {
  // 1024-page budget, 8192-page region: reading pages back in random order
  // is ~7/8 swap-ins. Readahead off: one 4 KiB read per fault.
  const uint64_t budget = 1024, pages = 8192;
  Env env = MakeEnv(budget, pages * 2, 1, static_cast<FaultDelivery>(state.range(1)),
                    state.range(0) ? "uring" : "file");
  if (!env.space) return state.SkipWithError("cannot open a Space");
  auto r = env.space->Map(pages * kPage);
  volatile uint8_t* base = static_cast<uint8_t*>((*r)->data());
  for (uint64_t i = 0; i < pages; i++) base[i * kPage] = static_cast<uint8_t>(i | 1);
  auto order = Shuffled(pages, 3);
  uint64_t majors = 0, touches = 0;
  for (auto _ : state) {
    uint64_t before = env.space->stats().pgmajfault;
    for (uint64_t i : order)
      if (base[i * kPage] != static_cast<uint8_t>(i | 1)) state.SkipWithError("wrong data");
    majors += env.space->stats().pgmajfault - before;
    touches += pages;
  }
  state.SetItemsProcessed(state.iterations() * pages);
  if (getenv("USWAP_BENCH_STATS")) fprintf(stderr, "%s\n", env.space->stats().ToText().c_str());
  state.counters["major_share"] = touches ? static_cast<double>(majors) / touches : 0;
  state.counters["us_per_major"] = benchmark::Counter(
      static_cast<double>(majors), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  r->reset();
}
BENCHMARK(BM_SwapIn)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({1, 1})
    ->ArgNames({"uring", "sigbus"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

void BM_DeviceRead(benchmark::State& state) {
  // Same size and directory as BM_SwapIn's swap area (16384 pages), written
  // once with non-zero data so that every read reaches the disk's blocks.
  const uint64_t pages = 16384;
  const std::string path = "/var/tmp/uswap-fault-bench-dev-" + std::to_string(getpid());
  {
    UniqueFd w(open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
    if (!w.valid()) return state.SkipWithError("cannot create the file");
    std::vector<uint8_t> chunk(256 * kPage, 0x5a);
    for (uint64_t done = 0; done < pages; done += 256)
      if (write(w.get(), chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size()))
        return state.SkipWithError("cannot write the file");
    fsync(w.get());
  }
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
  unlink(path.c_str());
  if (!fd.valid()) return state.SkipWithError("cannot open the file O_DIRECT");
  void* buf = nullptr;
  if (posix_memalign(&buf, kPage, kPage) != 0) return state.SkipWithError("out of memory");
  std::unique_ptr<void, decltype(&free)> hold(buf, &free);
  auto order = Shuffled(pages, 4);
  uint64_t reads = 0;
  for (auto _ : state) {
    for (uint64_t i : order)
      if (pread(fd.get(), buf, kPage, static_cast<off_t>(i * kPage)) != static_cast<ssize_t>(kPage))
        return state.SkipWithError("short read");
    reads += pages;
  }
  state.counters["us_per_read"] = benchmark::Counter(
      static_cast<double>(reads), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DeviceRead)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace
}  // namespace uswap

BENCHMARK_MAIN();
