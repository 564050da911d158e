// RunSettings: what `uswap run` (tools/uswap/run.cc) tells the preloaded
// shim (shim.cc) of every process it starts, through the environment, so
// that processes the program execs inherit them as they inherit
// LD_PRELOAD. One variable per field, USWAP_RUN_*; sizes in bytes.
//
// Thread-safety: values; Decode reads the environment (call it before
// threads that may setenv).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "uswap/status.h"

namespace uswap {

struct RunSettings {
  uint64_t ram_bytes = 0;    // the RAM budget of each process
  std::string swap_file;     // an existing swap area for the first process, or empty
  std::string swap_dir;      // where a process without one creates its own
  uint64_t swap_bytes = 0;   // size of a created area (sparse)
  std::string compress;      // Config::compress
  std::string policy;        // Config::reclaim_policy; empty: the library's default
  std::string stats_file;    // counters at exit (first process; others add ".PID")
  std::string record_file;   // Config::record_faults, named as stats_file
  pid_t top_pid = 0;         // the process `uswap run` exec'd
  int handler_poll_us = -1;  // Config::handler_poll_us; -1: the library's default
  // The tree's shared RAM budget (CreateSharedBudget): the descriptor
  // number it has in the processes that hold it (inherited across fork and
  // exec), and its inode, which tells it from another file at that number.
  // -1 / 0: none (each process has a budget of its own).
  int budget_fd = -1;
  uint64_t budget_inode = 0;
  // --count-process-memory: the budget also holds each process's own
  // memory outside uswap (Config::shared_budget_counts_process).
  bool count_process = false;

  // "NAME=VALUE" strings for the environment.
  std::vector<std::string> Encode() const;
  // From the environment: NotFound when USWAP_RUN_RAM is unset (the shim
  // was preloaded without `uswap run`), InvalidArgument naming a bad value.
  static Result<RunSettings> Decode();
};

}  // namespace uswap
