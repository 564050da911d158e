// The uswap engine: the workload on a Region of a uswap::Space whose RAM
// budget is the bench's --ram and whose one swap area is the bench's --swap
// file. Counters come from Space::stats() (pgmajfault, pswpin, pswpout).
#include <cinttypes>
#include <cstdio>

#include "engine.h"
#include "uswap/uswap.h"

namespace uswap::bench {
namespace {

class UswapEngine final : public Engine {
 public:
  explicit UswapEngine(EngineConfig config) : config_(std::move(config)) {}
  const char* name() const override { return "uswap"; }

  Result<EngineResult> Run(const WorkloadSpec& spec) override {
    Config cfg;
    cfg.ram_budget_bytes = config_.ram_bytes;
    cfg.swap_areas.push_back({config_.uswap_swap_path});
    cfg.handler_threads = config_.handler_threads;
    if (config_.sigbus) cfg.fault_delivery = FaultDelivery::kSigbus;
    USWAP_ASSIGN_OR_RETURN(std::unique_ptr<Space> space, Space::Open(cfg));
    USWAP_ASSIGN_OR_RETURN(std::unique_ptr<Region> region, space->Map(spec.region_bytes));
    auto counters = [&space] {
      Stats s = space->stats();
      return Counters{s.pgmajfault, s.pswpin, s.pswpout, s.pgminorfault};
    };
    EngineResult r;
    r.workload =
        RunWorkload(static_cast<uint8_t*>(region->data()), spec, counters, &InterruptFlag());
    Stats s = space->stats();
    region.reset();  // a Region must go before its Space
    if (r.workload.interrupted) return Interrupted();
    char note[256] = "";
    if (s.checksum_errors || s.read_errors || s.write_errors || s.budget_overshoot_pages) {
      std::snprintf(note, sizeof note,
                    "checksum_errors=%" PRIu64 " read_errors=%" PRIu64 " write_errors=%" PRIu64
                    " budget_overshoot_pages=%" PRIu64,
                    s.checksum_errors, s.read_errors, s.write_errors, s.budget_overshoot_pages);
    }
    r.note = note;
    return r;
  }

 private:
  EngineConfig config_;
};

}  // namespace

std::unique_ptr<Engine> MakeUswapEngine(const EngineConfig& config) {
  return std::make_unique<UswapEngine>(config);
}

}  // namespace uswap::bench
