#include "engine.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <cerrno>
#include <utility>

#include "memory_cgroup.h"

namespace uswap::bench {
namespace {

class RamEngine final : public Engine {
 public:
  const char* name() const override { return "ram"; }
  Result<EngineResult> Run(const WorkloadSpec& spec) override {
    USWAP_ASSIGN_OR_RETURN(AnonMapping region, AnonMapping::Create(spec.region_bytes));
    EngineResult r;
    r.workload = RunWorkload(
        region.data(), spec, [] { return ProcessCounters(); }, &InterruptFlag());
    if (r.workload.interrupted) return Interrupted();
    return r;
  }
};

}  // namespace

std::atomic<bool>& InterruptFlag() {
  static std::atomic<bool> flag{false};
  return flag;
}

Status Interrupted() { return Status::Busy("interrupted by a signal"); }

Result<std::unique_ptr<Engine>> MakeEngine(std::string_view name, const EngineConfig& config) {
  if (name == "ram") return MakeRamEngine(config);
  if (name == "kernel") return MakeKernelEngine(config, false);
  if (name == "kernel+zswap") return MakeKernelEngine(config, true);
  if (name == "uswap") return MakeUswapEngine(config);
  return Status::InvalidArgument("unknown engine '" + std::string(name) +
                                 "' (uswap, kernel, kernel+zswap, ram or all)");
}

std::unique_ptr<Engine> MakeRamEngine(const EngineConfig&) { return std::make_unique<RamEngine>(); }

Result<AnonMapping> AnonMapping::Create(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap " + std::to_string(bytes) + " bytes", errno);
  ::madvise(p, bytes, MADV_NOHUGEPAGE);  // best effort: THP may be compiled out
  return AnonMapping(static_cast<uint8_t*>(p), bytes);
}

AnonMapping::AnonMapping(AnonMapping&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), bytes_(o.bytes_) {}

AnonMapping::~AnonMapping() {
  if (data_) ::munmap(data_, bytes_);
}

Counters ProcessCounters(const std::string& swap_stat_file) {
  Counters c;
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    c.major_faults = static_cast<uint64_t>(ru.ru_majflt);
    c.minor_faults = static_cast<uint64_t>(ru.ru_minflt);
  }
  c.pswpin = ReadStatValue(swap_stat_file, "pswpin").value_or(0);
  c.pswpout = ReadStatValue(swap_stat_file, "pswpout").value_or(0);
  c.zswpin = ReadStatValue(swap_stat_file, "zswpin").value_or(0);
  c.zswpout = ReadStatValue(swap_stat_file, "zswpout").value_or(0);
  return c;
}

#ifndef USWAP_BENCH_HAVE_SPACE
// Until the engine (src/api) implements uswap::Space, the uswap engine is a
// stub that says so; CMake defines USWAP_BENCH_HAVE_SPACE and builds
// uswap_engine.cc once it does.
namespace {
class UnbuiltUswapEngine final : public Engine {
 public:
  const char* name() const override { return "uswap"; }
  Result<EngineResult> Run(const WorkloadSpec&) override {
    return Status::NotSupported("this build has no uswap::Space implementation yet");
  }
};
}  // namespace
std::unique_ptr<Engine> MakeUswapEngine(const EngineConfig&) {
  return std::make_unique<UnbuiltUswapEngine>();
}
#endif

}  // namespace uswap::bench
