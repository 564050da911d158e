#include "run/run_env.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace uswap {
namespace {

constexpr const char* kRam = "USWAP_RUN_RAM";
constexpr const char* kSwap = "USWAP_RUN_SWAP";
constexpr const char* kSwapDir = "USWAP_RUN_SWAP_DIR";
constexpr const char* kSwapSize = "USWAP_RUN_SWAP_SIZE";
constexpr const char* kCompress = "USWAP_RUN_COMPRESS";
constexpr const char* kPolicy = "USWAP_RUN_POLICY";
constexpr const char* kStats = "USWAP_RUN_STATS";
constexpr const char* kRecord = "USWAP_RUN_RECORD";
constexpr const char* kTop = "USWAP_RUN_TOP";
constexpr const char* kPoll = "USWAP_RUN_HANDLER_POLL_US";
constexpr const char* kBudget = "USWAP_RUN_BUDGET";               // "FD:INODE"
constexpr const char* kCountProcess = "USWAP_RUN_COUNT_PROCESS";  // "1" or unset

std::string Get(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Result<uint64_t> GetNumber(const char* name, bool required) {
  std::string v = Get(name);
  if (v.empty()) {
    if (required) return Status::NotFound(std::string(name) + " is not set");
    return uint64_t{0};
  }
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v[0] == '-')
    return Status::InvalidArgument(std::string(name) + "=" + v + " is not a number");
  return static_cast<uint64_t>(n);
}

}  // namespace

std::vector<std::string> RunSettings::Encode() const {
  std::vector<std::string> env = {
      std::string(kRam) + "=" + std::to_string(ram_bytes),
      std::string(kSwapDir) + "=" + swap_dir,
      std::string(kSwapSize) + "=" + std::to_string(swap_bytes),
      std::string(kTop) + "=" + std::to_string(top_pid),
  };
  if (handler_poll_us >= 0)
    env.push_back(std::string(kPoll) + "=" + std::to_string(handler_poll_us));
  if (budget_fd >= 0)
    env.push_back(std::string(kBudget) + "=" + std::to_string(budget_fd) + ":" +
                  std::to_string(budget_inode));
  if (count_process) env.push_back(std::string(kCountProcess) + "=1");
  if (!swap_file.empty()) env.push_back(std::string(kSwap) + "=" + swap_file);
  if (!compress.empty()) env.push_back(std::string(kCompress) + "=" + compress);
  if (!policy.empty()) env.push_back(std::string(kPolicy) + "=" + policy);
  if (!stats_file.empty()) env.push_back(std::string(kStats) + "=" + stats_file);
  if (!record_file.empty()) env.push_back(std::string(kRecord) + "=" + record_file);
  return env;
}

Result<RunSettings> RunSettings::Decode() {
  RunSettings s;
  USWAP_ASSIGN_OR_RETURN(s.ram_bytes, GetNumber(kRam, true));
  USWAP_ASSIGN_OR_RETURN(s.swap_bytes, GetNumber(kSwapSize, false));
  USWAP_ASSIGN_OR_RETURN(uint64_t top, GetNumber(kTop, false));
  s.top_pid = static_cast<pid_t>(top);
  if (!Get(kPoll).empty()) {
    USWAP_ASSIGN_OR_RETURN(uint64_t poll, GetNumber(kPoll, false));
    s.handler_poll_us = static_cast<int>(std::min<uint64_t>(poll, 1000000));
  }
  if (const std::string b = Get(kBudget); !b.empty()) {
    char* end = nullptr;
    const long fd = std::strtol(b.c_str(), &end, 10);
    const unsigned long long ino = *end == ':' ? std::strtoull(end + 1, &end, 10) : 0;
    if (fd < 0 || fd > INT32_MAX || ino == 0 || *end != '\0')
      return Status::InvalidArgument(std::string(kBudget) + "=" + b + " is not FD:INODE");
    s.budget_fd = static_cast<int>(fd);
    s.budget_inode = ino;
  }
  s.count_process = Get(kCountProcess) == "1";
  s.swap_file = Get(kSwap);
  s.swap_dir = Get(kSwapDir);
  s.compress = Get(kCompress);
  s.policy = Get(kPolicy);
  s.stats_file = Get(kStats);
  s.record_file = Get(kRecord);
  if (s.swap_file.empty() && s.swap_dir.empty())
    return Status::InvalidArgument(std::string(kSwap) + " and " + kSwapDir + " are both unset");
  return s;
}

}  // namespace uswap
