// Plot: `uswap bench --plot FILE.svg|FILE.png` — the runs of one bench
// invocation drawn by gnuplot (Debian's gnuplot-nox; scripts/install-deps.sh
// installs it): accesses/s per engine for each pattern and thread count,
// and the sampled p50/p99 access latency (log scale) beside it.
//
// gnuplot runs as a child process (no shell) on a script and data files in
// a temporary directory, removed afterwards.
//
// Thread-safety: none needed (called once, at the end of a bench run).
#pragma once

#include <string>
#include <vector>

#include "report.h"
#include "uswap/status.h"

namespace uswap::bench {

// OK when `path` names a file --plot can draw (.svg or .png), else
// InvalidArgument saying so. `uswap bench` checks before it runs.
Status CheckPlotPath(const std::string& path);

// Draws the successful runs of `runs` into `path` (.svg or .png, by its
// extension) under `title`. InvalidArgument for another extension or no
// successful run; NotFound when gnuplot is not installed (the message says
// how to install it); IOError when gnuplot fails (its exit status).
Status WritePlot(const std::vector<RunRecord>& runs, const std::string& path,
                 const std::string& title);

// The gnuplot script WritePlot runs, reading the data files named (for
// tests: its text is checked without running gnuplot).
std::string PlotScript(const std::string& output, bool png, const std::string& title,
                       size_t engines, const std::string& throughput_data,
                       const std::string& latency_data);

}  // namespace uswap::bench
