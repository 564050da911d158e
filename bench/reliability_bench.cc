// What page integrity costs on the swap path: PageIo::Store then
// PageIo::Load of the same pages, per page, with
//   off      no checksum, no encryption
//   xxh3     Config::checksums (the default): XXH3-64 per page kept in memory
//   aes-gcm  Config::encrypt: AES-256-GCM per page (tag kept in memory)
// over two stores:
//   mem      the area's file store swapped for a MemStore (through
//            SwapDevices::SetStoreWrapper): the CPU cost alone, plus a copy
//   file     the real area file, O_DIRECT pread/pwrite: the cost next to
//            the disk's
// Each iteration writes a 64-page cluster (one request, as write-back
// issues it) to a fresh slot run and reads it back as 64 single-page
// requests (as swap-ins arrive). per_page is wall time per page for the
// write + read pair.
//
//   reliability_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/io_test_util.h"
#include "io/mem_store.h"
#include "io/page_buffer.h"
#include "mm/page_io.h"
#include "swap/swap_devices.h"
#include "swap/swap_header.h"

namespace uswap {
namespace {

constexpr size_t kPage = 4096;
constexpr uint64_t kSlots = 16384;  // 64 MiB area
constexpr uint32_t kBatch = 64;

enum Mode { kOff, kXxh3, kAesGcm };
enum StoreKind { kMem, kFile };

// Creates a fully allocated swap area of kSlots pages at `path`.
bool MakeArea(const std::string& path) {
  SwapHeader h;
  h.page_size = kPage;
  h.last_page = static_cast<uint32_t>(kSlots - 1);
  std::vector<uint8_t> page = h.Serialize();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::posix_fallocate(fd, 0, static_cast<off_t>(kSlots * kPage)) == 0 &&
            ::pwrite(fd, page.data(), page.size(), 0) == static_cast<ssize_t>(page.size());
  ::close(fd);
  return ok;
}

void BM_WriteRead(benchmark::State& state) {
  const auto mode = static_cast<Mode>(state.range(0));
  const auto kind = static_cast<StoreKind>(state.range(1));
  testing::TempDir dir;
  const std::string path = dir.File("bench.swap");
  if (!dir.ok() || !MakeArea(path)) {
    state.SkipWithError("cannot create the swap area");
    return;
  }
  SwapDevices devices(kPage, BlockStoreOptions{"file", true});
  if (kind == kMem) {
    devices.SetStoreWrapper([](std::unique_ptr<BlockStore> file) -> std::unique_ptr<BlockStore> {
      return std::make_unique<MemStore>(file->page_size(), file->nr_slots());
    });
  }
  PageIo io(&devices, PageIoOptions{mode != kOff, mode == kAesGcm});
  devices.SetAttachHook([&io](unsigned t, uint64_t pages) { return io.AttachArea(t, pages); });
  Result<unsigned> type = devices.Swapon(path);
  if (!type.ok()) {
    state.SkipWithError("swapon failed");
    return;
  }

  PageBuffer data(kBatch * kPage), back(kBatch * kPage);
  std::mt19937_64 rng(1);
  for (size_t i = 0; i < kBatch * kPage / 8; i++)
    reinterpret_cast<uint64_t*>(data.data())[i] = rng();
  auto* in = reinterpret_cast<uint8_t*>(data.data());
  auto* out = reinterpret_cast<uint8_t*>(back.data());
  std::vector<SwapPage> writes(kBatch), reads(kBatch);
  uint64_t next = 1, pages = 0;
  for (auto _ : state) {
    if (next + kBatch > kSlots) next = 1;
    for (uint32_t i = 0; i < kBatch; i++) {
      writes[i] = SwapPage();
      writes[i].entry = SwapEntry(*type, next + i);
      writes[i].buf = in + i * kPage;
    }
    io.Store(writes);
    for (const SwapPage& w : writes)
      if (w.status) state.SkipWithError("write failed");
    for (uint32_t i = 0; i < kBatch; i++) {
      // Every other page of the read-back, so each read is its own request.
      const uint32_t k = (i % 2) * (kBatch / 2) + i / 2;
      reads[i] = SwapPage();
      reads[i].entry = writes[k].entry;
      reads[i].buf = out + k * kPage;
      reads[i].sum = writes[k].sum;
    }
    io.Load(reads);
    for (const SwapPage& r : reads)
      if (r.status) state.SkipWithError("read failed");
    next += kBatch;
    pages += kBatch;
  }
  if (std::memcmp(in, out, kBatch * kPage) != 0) state.SkipWithError("read back differs");
  state.SetItemsProcessed(static_cast<int64_t>(pages));
  // Seconds per page (printed with an SI prefix: "550n" = 550 ns).
  state.counters["per_page"] = benchmark::Counter(
      static_cast<double>(pages), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  static const char* const kModes[] = {"off", "xxh3", "aes-gcm"};
  state.SetLabel(std::string(kModes[mode]) + (kind == kMem ? "/mem" : "/file"));
}
BENCHMARK(BM_WriteRead)
    ->ArgsProduct({{kOff, kXxh3, kAesGcm}, {kMem, kFile}})
    ->ArgNames({"mode", "store"})
    ->UseRealTime();

}  // namespace
}  // namespace uswap

BENCHMARK_MAIN();
