// Micro-benchmarks of SwapArea, the slot allocator on the swap-out path.
//   BM_AllocateFree      Allocate() + Free() of one slot; 1 and 2 threads on one
//                        area (each thread allocates from its own cluster).
//   BM_AllocateUpToFree  AllocateUpTo(64) + Free() of every slot of the batch
//                        (the write-back of one cluster's worth of pages).
// Goal: < 100 ns per pair single-threaded. Run with
//   swap_area_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <memory>

#include "swap/swap_area.h"

namespace uswap {
namespace {

constexpr uint64_t kPages = uint64_t{1} << 20;  // 4 GiB of 4 KiB slots

// One area shared by the threads of a run (set up by thread 0 between runs).
SwapArea& SharedArea() {
  static SwapArea area(kPages, {});
  return area;
}

void BM_AllocateFree(benchmark::State& state) {
  SwapArea& area = SharedArea();
  for (auto _ : state) {
    auto s = area.Allocate();
    if (!s) {
      state.SkipWithError("area full");
      break;
    }
    benchmark::DoNotOptimize(area.Free(*s));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocateFree)->Threads(1)->Threads(2)->UseRealTime();

void BM_AllocateUpToFree(benchmark::State& state) {
  SwapArea& area = SharedArea();
  int64_t slots = 0;
  for (auto _ : state) {
    auto r = area.AllocateUpTo(64);
    if (!r) {
      state.SkipWithError("area full");
      break;
    }
    for (uint64_t s = r->first; s < r->first + r->second; ++s) {
      benchmark::DoNotOptimize(area.Free(s));
    }
    slots += r->second;
  }
  state.SetItemsProcessed(slots);  // items/s = slots allocated and freed per second
}
BENCHMARK(BM_AllocateUpToFree)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace uswap

BENCHMARK_MAIN();
