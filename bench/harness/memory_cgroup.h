// MemoryCgroup: a memory cgroup that limits the kernel engine's child process
// to the same RAM as uswap's budget, removed again by its destructor.
//
// Works with whichever hierarchy holds the memory controller: cgroup v2 (a
// cgroup2 mount whose cgroup.controllers lists "memory": memory.max,
// memory.swap.max = max) or cgroup v1 (a cgroup mount with the memory
// option: memory.limit_in_bytes, memory.swappiness = 60, the kernel's
// default; memsw is left unlimited so swap is not capped). The group is made
// directly under the hierarchy's root (root only).
//
// Thread-safety: none needed (one thread creates, uses and destroys it); the
// child joins with AddProcess() from its own process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uswap/status.h"

namespace uswap::bench {

class MemoryCgroup {
 public:
  // Creates <memory hierarchy root>/<name> limited to `limit_bytes`, or
  // observing only (no limit) when `limit_bytes` is 0.
  // NotSupported when no hierarchy has the memory controller; the error of
  // the failing write otherwise (nothing is left behind).
  static Result<std::unique_ptr<MemoryCgroup>> Create(const std::string& name,
                                                      uint64_t limit_bytes);
  // Moves any process still inside to the parent group, then removes the
  // directory (retried for a while: v1 may report EBUSY while charges drain).
  ~MemoryCgroup();
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  // Moves process `pid` (0 = the caller) into the group.
  Status AddProcess(pid_t pid) const;
  // `key`'s value in the group's memory.stat; nullopt when it has no such line
  // (v1 and older v2 kernels count no pswpin/pswpout per group).
  std::optional<uint64_t> Stat(const std::string& key) const;
  // The most memory the group ever held (v1 memory.max_usage_in_bytes, v2
  // memory.peak): what its processes charged — anonymous and shmem pages,
  // the swap cache — the same measure for every engine. nullopt when the
  // kernel has no such file.
  std::optional<uint64_t> PeakBytes() const;
  // The memory the group holds now (v1 memory.usage_in_bytes, v2
  // memory.current); nullopt when unreadable.
  std::optional<uint64_t> UsageBytes() const;
  // Its swapped-out bytes now: v2 memory.swap.current, v1
  // memory.memsw.usage_in_bytes - memory.usage_in_bytes. nullopt without
  // swap accounting (no such files).
  std::optional<uint64_t> SwappedBytes() const;
  // Processes of the group its OOM killer killed (the oom_kill line of v1
  // memory.oom_control, v2 memory.events); nullopt when not counted.
  std::optional<uint64_t> OomKills() const;

  const std::string& path() const { return path_; }
  int version() const { return version_; }

 private:
  MemoryCgroup(std::string root, std::string path, int version)
      : root_(std::move(root)), path_(std::move(path)), version_(version) {}
  std::string root_;  // hierarchy root (the parent)
  std::string path_;
  int version_;
};

// Roots of the hierarchies holding the memory controller, with their version.
struct MemoryHierarchy {
  std::string root;
  int version = 0;
};
std::optional<MemoryHierarchy> FindMemoryHierarchy();

// `key`'s value in a file of "name value" lines (memory.stat, /proc/vmstat).
std::optional<uint64_t> ReadStatValue(const std::string& file, const std::string& key);

}  // namespace uswap::bench
