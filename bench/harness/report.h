// Report: the figures of `uswap bench` as a table for people and as JSON
// lines for scripts (one object per engine run).
//
// Figures per run: accesses/s and MiB/s of the run phase (4 KiB per
// access), sampled p50/p99 access latency, major faults and pages swapped
// in/out during the run phase, fill and run time, and mismatches (reads that
// saw wrong content; must be 0). Ratio lines compare uswap's throughput to
// the kernel's for the same pattern and thread count.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine.h"
#include "uswap/status.h"
#include "workload.h"

namespace uswap::bench {

struct RunRecord {
  std::string engine;
  WorkloadSpec spec;
  uint64_t ram_bytes = 0;
  Status status;  // NotSupported: skipped; other non-OK: failed
  EngineResult result;
};

double AccessesPerSecond(const WorkloadResult& r);
double MiBPerSecond(const WorkloadResult& r);

// uswap's accesses/s over the kernel's among `runs` for `rec`'s pattern and
// thread count; nullopt unless both ran.
std::optional<double> UswapVsKernel(const std::vector<RunRecord>& runs, const RunRecord& rec);

std::string TableHeader();
std::string TableRow(const RunRecord& rec);  // one line (skips and errors too)
// "uswap/kernel throughput" lines for every pattern/thread count where both ran.
std::string RatioLines(const std::vector<RunRecord>& runs);
// One JSON object on one line (no newline). `vs_kernel` is added when set.
std::string JsonLine(const RunRecord& rec, std::optional<double> vs_kernel);

}  // namespace uswap::bench
