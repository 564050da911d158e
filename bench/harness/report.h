// Report: the figures of `uswap bench` as a table for people and as JSON
// lines for scripts (one object per engine run).
//
// Figures per run: accesses/s and MiB/s of the run phase (4 KiB per
// access), sampled p50/p99 access latency, major faults and pages swapped
// in/out during the run phase, fill and run time, and mismatches (reads that
// saw wrong content; must be 0). Ratio lines compare uswap's throughput to
// the kernel's (and kernel+zswap's) for the same pattern and thread count.
// kernel+zswap runs add the zswap pool's peak, its compression ratio and the
// compressor, and with --equal-memory the limit chosen and limit + pool
// against the budget: a note in the table, fields in JSON.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

// uswap's accesses/s over `engine`'s ("kernel", "kernel+zswap") among `runs`
// for `rec`'s pattern and thread count; nullopt unless both ran.
std::optional<double> UswapVs(const std::vector<RunRecord>& runs, const RunRecord& rec,
                              std::string_view engine);

// The kernel+zswap figures in words ("zswap lzo-rle: pool peak 11.0 MiB
// (uncharged), ratio 2.9", then the equal-memory check); "" for other engines.
std::string ZswapNote(const EngineResult& r);

std::string TableHeader();
std::string TableRow(const RunRecord& rec);  // one line (skips and errors too)
// "uswap/kernel throughput" (and uswap/kernel+zswap) lines for every
// pattern/thread count where both ran.
std::string RatioLines(const std::vector<RunRecord>& runs);
// One JSON object on one line (no newline). For uswap, `runs` (the records of
// the same invocation) give vs_kernel and vs_kernel_zswap when those ran.
std::string JsonLine(const RunRecord& rec, const std::vector<RunRecord>& runs);

}  // namespace uswap::bench
