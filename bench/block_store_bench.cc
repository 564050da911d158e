// BlockStore kinds side by side on one 1 GiB file (O_DIRECT), to choose
// DefaultBlockStore() from measurements (figures in block_store.cc).
//
// Workloads, each run for every kind this build has ("file", "uring"):
//   rand-read-qd1     one 4 KiB read of a random slot per iteration
//   rand-read-batch32 32 random 4 KiB reads submitted as one batch
//                     (a readahead window, a swap-in burst)
//   write-256k        one 64-slot run at a random 64-slot boundary
//                     (cluster write-back)
// Times are wall-clock (the thread waits on the disk). The file is created
// (written, not sparse: reads must reach the disk) in a temporary directory
// under /var/tmp and removed at exit.
//
//   block_store_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/block_store.h"
#include "io/io_test_util.h"
#include "io/page_buffer.h"

namespace uswap {
namespace {

constexpr size_t kPage = 4096;
constexpr uint64_t kFileBytes = uint64_t{1} << 30;
constexpr uint64_t kSlots = kFileBytes / kPage;
constexpr uint32_t kBatch = 32;
constexpr uint32_t kRun = 64;

// Writes the area file with non-zero data through O_DIRECT, then syncs.
bool CreateAreaFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0600);
  if (fd < 0) return false;
  constexpr size_t kChunk = size_t{1} << 20;
  PageBuffer chunk(kChunk);
  for (uint64_t off = 0; off < kFileBytes; off += kChunk) {
    testing::FillPattern(chunk.data(), kChunk, off / kPage, 1);
    if (::pwrite(fd, chunk.data(), kChunk, static_cast<off_t>(off)) !=
        static_cast<ssize_t>(kChunk)) {
      ::close(fd);
      return false;
    }
  }
  const bool ok = ::fdatasync(fd) == 0;
  ::close(fd);
  return ok;
}

uint64_t RandomSlot(std::mt19937_64& rng) { return 1 + rng() % (kSlots - 1); }

void ReportError(benchmark::State& state, const Status& s) {
  state.SkipWithError(s.ToString().c_str());
}

void BM_RandReadQd1(benchmark::State& state, BlockStore* store) {
  std::mt19937_64 rng(1);
  PageBuffer buf(kPage);
  for (auto _ : state) {
    Status s = store->Read(RandomSlot(rng), 1, buf.data());
    if (!s.ok()) return ReportError(state, s);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kPage);
}

void BM_RandReadBatch32(benchmark::State& state, BlockStore* store) {
  std::mt19937_64 rng(2);
  PageBuffer buf(kBatch * kPage);
  std::vector<BlockIo> batch(kBatch);
  for (auto _ : state) {
    for (uint32_t i = 0; i < kBatch; ++i) {
      batch[i] = BlockIo{.op = BlockIo::Op::kRead,
                         .slot = RandomSlot(rng),
                         .nr = 1,
                         .buf = buf.data() + size_t{i} * kPage};
    }
    Status s = store->Submit(batch);
    if (!s.ok()) return ReportError(state, s);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * kBatch * kPage);
}

void BM_Write256k(benchmark::State& state, BlockStore* store) {
  std::mt19937_64 rng(3);
  PageBuffer buf(kRun * kPage);
  testing::FillPattern(buf.data(), buf.size(), 0, 2);
  const uint64_t nr_runs = (kSlots - 1) / kRun;
  for (auto _ : state) {
    Status s = store->Write(1 + (rng() % nr_runs) * kRun, kRun, buf.data());
    if (!s.ok()) return ReportError(state, s);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kRun * kPage);
}

}  // namespace
}  // namespace uswap

int main(int argc, char** argv) {
  using namespace uswap;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  testing::TempDir dir;  // removed, with the file, when main returns
  if (!dir.ok()) {
    std::fprintf(stderr, "block_store_bench: cannot create a directory under /var/tmp\n");
    return 1;
  }
  const std::string path = dir.File("area");
  if (!CreateAreaFile(path)) {
    std::fprintf(stderr, "block_store_bench: cannot write %s\n", path.c_str());
    return 1;
  }

  std::vector<std::unique_ptr<BlockStore>> stores;
  for (const std::string& kind : AvailableBlockStores()) {
    auto store = OpenBlockStore(path, kPage, kSlots, BlockStoreOptions{.kind = kind});
    if (!store.ok()) {
      std::fprintf(stderr, "block_store_bench: %s\n", store.status().ToString().c_str());
      continue;
    }
    BlockStore* s = store->get();
    stores.push_back(std::move(*store));
    benchmark::RegisterBenchmark(("rand-read-qd1/" + kind).c_str(), BM_RandReadQd1, s)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("rand-read-batch32/" + kind).c_str(), BM_RandReadBatch32, s)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("write-256k/" + kind).c_str(), BM_Write256k, s)->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  stores.clear();
  return 0;
}
