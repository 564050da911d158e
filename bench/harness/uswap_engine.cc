// The uswap engine: the workload on a Region of a uswap::Space whose RAM
// budget is the bench's --ram and whose one swap area is the bench's --swap
// file. Counters come from Space::stats() (pgmajfault, pgminorfault, pswpin,
// pswpout). A run that went over the budget fails: it would not be a fair
// comparison.
#include <malloc.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "engine.h"
#include "memory_cgroup.h"
#include "uswap/uswap.h"

namespace uswap::bench {
namespace {

class UswapEngine final : public Engine {
 public:
  explicit UswapEngine(EngineConfig config) : config_(std::move(config)) {}
  const char* name() const override { return "uswap"; }

  Result<EngineResult> Run(const WorkloadSpec& spec) override {
    // Whole-process memory, measured as the kernel engine's is: this
    // process joins an observe-only memory cgroup for the run (root only;
    // pages charged before, such as the bench's own, stay outside), and the
    // group's peak is reported. The destructor moves it back out.
    std::unique_ptr<MemoryCgroup> observe;
    std::string observe_note;
    if (::geteuid() == 0) {
      // Free heap pages go back to the kernel first: pages an earlier run
      // charged to its own group would otherwise be reused here uncharged.
      ::malloc_trim(0);
      Result<std::unique_ptr<MemoryCgroup>> cg =
          MemoryCgroup::Create("uswap-bench-" + std::to_string(::getpid()) + "-uswap", 0);
      Status st = cg.ok() ? (*cg)->AddProcess(0) : cg.status();
      if (st.ok())
        observe = std::move(*cg);
      else
        observe_note = "peak memory not measured: " + st.ToString();
    }
    Result<EngineResult> r = RunIn(spec);
    if (r.ok() && observe) r->peak_bytes = observe->PeakBytes().value_or(0);
    if (r.ok() && !observe_note.empty()) r->note += (r->note.empty() ? "" : "; ") + observe_note;
    return r;
  }

 private:
  Result<EngineResult> RunIn(const WorkloadSpec& spec) {
    Config cfg;
    cfg.ram_budget_bytes = config_.ram_bytes;
    cfg.swap_areas.push_back({config_.uswap_swap_path});
    cfg.handler_threads = config_.handler_threads;
    if (config_.sigbus) cfg.fault_delivery = FaultDelivery::kSigbus;
    if (!config_.reclaim_policy.empty()) cfg.reclaim_policy = config_.reclaim_policy;
    if (config_.inactive_percent) cfg.inactive_percent = config_.inactive_percent;
    if (!config_.compress.empty()) cfg.compress = config_.compress;
    USWAP_ASSIGN_OR_RETURN(std::unique_ptr<Space> space, Space::Open(cfg));
    USWAP_ASSIGN_OR_RETURN(std::unique_ptr<Region> region, space->Map(spec.region_bytes));
    auto counters = [&space] {
      Stats s = space->stats();
      // Pages in and out of the compressed tier count as swap-ins and
      // swap-outs, as the kernel engine counts zswpin/zswpout.
      return Counters{s.pgmajfault, s.pswpin + s.zswap_loaded, s.pswpout + s.zswap_stored,
                      s.pgminorfault};
    };
    EngineResult r;
    r.workload =
        RunWorkload(static_cast<uint8_t*>(region->data()), spec, counters, &InterruptFlag());
    Stats s = space->stats();
    region.reset();  // a Region must go before its Space
    if (r.workload.interrupted) return Interrupted();
    if (s.budget_overshoot_pages) {
      // Not a fair run: uswap held more than its budget (swap too small).
      return Status::NoSpace("uswap went " + std::to_string(s.budget_overshoot_pages) +
                             " page(s) over its RAM budget (swap full?); the run does not count");
    }
    char note[256] = "";
    if (s.checksum_errors || s.read_errors || s.write_errors) {
      std::snprintf(note, sizeof note,
                    "checksum_errors=%" PRIu64 " read_errors=%" PRIu64 " write_errors=%" PRIu64,
                    s.checksum_errors, s.read_errors, s.write_errors);
    }
    r.note = note;
    if (s.zswap_limit_pages) {
      constexpr uint64_t kPage = 4096;
      // The tier's figures (its counters are since the Space opened: fill
      // and run).
      char z[320];
      const double mib = 1.0 / (1 << 20);
      std::snprintf(
          z, sizeof z,
          "zswap %s: stored %" PRIu64 ", loaded %" PRIu64 ", written back %" PRIu64
          ", rejected %" PRIu64 " poor / %" PRIu64
          " full; pool %.1f MiB of %.1f MiB limit, "
          "ratio %.2f, %.2f pool bytes per payload byte",
          cfg.compress == "auto" ? "lz4" : cfg.compress.c_str(), s.zswap_stored, s.zswap_loaded,
          s.zswap_written_back, s.zswap_rejected_poor, s.zswap_rejected_full,
          double(s.zswap_pool_pages * kPage) * mib, double(s.zswap_limit_pages * kPage) * mib,
          s.zswap_payload_bytes ? double(s.zswap_objects * kPage) / double(s.zswap_payload_bytes)
                                : 0.0,
          s.zswap_payload_bytes ? double(s.zswap_pool_pages * kPage) / double(s.zswap_payload_bytes)
                                : 0.0);
      r.note += (r.note.empty() ? "" : "; ") + std::string(z);
    }
    return r;
  }

  EngineConfig config_;
};

}  // namespace

std::unique_ptr<Engine> MakeUswapEngine(const EngineConfig& config) {
  return std::make_unique<UswapEngine>(config);
}

}  // namespace uswap::bench
