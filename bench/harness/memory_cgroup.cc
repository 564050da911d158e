#include "memory_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "base/unique_fd.h"

namespace uswap::bench {
namespace {

Status WriteFile(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return Status::FromErrno("write '" + value + "' to " + path, errno);
  }
  return Status::OK();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The number a one-number file starts with; nullopt when unreadable or empty.
std::optional<uint64_t> ReadNumber(const std::string& path) {
  const std::string text = ReadFile(path);
  if (text.empty()) return std::nullopt;
  return std::strtoull(text.c_str(), nullptr, 10);
}

bool HasWord(const std::string& text, const std::string& word, char sep) {
  std::istringstream in(text);
  std::string w;
  while (std::getline(in, w, sep)) {
    while (!w.empty() && (w.back() == '\n' || w.back() == ' ')) w.pop_back();
    if (w == word) return true;
  }
  return false;
}

}  // namespace

std::optional<uint64_t> ReadStatValue(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string name;
  uint64_t value;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return std::nullopt;
}

std::optional<MemoryHierarchy> FindMemoryHierarchy() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, type, opts, rest;
  std::optional<MemoryHierarchy> v1;
  while (mounts >> dev >> dir >> type >> opts && std::getline(mounts, rest)) {
    if (type == "cgroup2" && HasWord(ReadFile(dir + "/cgroup.controllers"), "memory", ' ')) {
      return MemoryHierarchy{dir, 2};
    }
    if (type == "cgroup" && !v1 && HasWord(opts, "memory", ',')) v1 = MemoryHierarchy{dir, 1};
  }
  return v1;
}

Result<std::unique_ptr<MemoryCgroup>> MemoryCgroup::Create(const std::string& name,
                                                           uint64_t limit_bytes) {
  std::optional<MemoryHierarchy> h = FindMemoryHierarchy();
  if (!h) return Status::NotSupported("no cgroup hierarchy has the memory controller");
  if (h->version == 2 && !HasWord(ReadFile(h->root + "/cgroup.subtree_control"), "memory", ' ')) {
    USWAP_RETURN_IF_ERROR(WriteFile(h->root + "/cgroup.subtree_control", "+memory"));
  }
  std::string path = h->root + "/" + name;
  if (::mkdir(path.c_str(), 0755) != 0) return Status::FromErrno("mkdir " + path, errno);
  // From here the destructor removes the directory on every path.
  std::unique_ptr<MemoryCgroup> cg(new MemoryCgroup(h->root, path, h->version));
  if (limit_bytes == 0) return cg;  // observe only
  const std::string limit = std::to_string(limit_bytes);
  if (h->version == 2) {
    USWAP_RETURN_IF_ERROR(WriteFile(path + "/memory.max", limit));
    // Absent when the kernel was booted without swap accounting: not needed then.
    if (::access((path + "/memory.swap.max").c_str(), F_OK) == 0) {
      USWAP_RETURN_IF_ERROR(WriteFile(path + "/memory.swap.max", "max"));
    }
  } else {
    USWAP_RETURN_IF_ERROR(WriteFile(path + "/memory.limit_in_bytes", limit));
    USWAP_RETURN_IF_ERROR(WriteFile(path + "/memory.swappiness", "60"));
  }
  return cg;
}

MemoryCgroup::~MemoryCgroup() {
  std::istringstream procs(ReadFile(path_ + "/cgroup.procs"));
  std::string pid;
  while (procs >> pid) {
    Status st = WriteFile(root_ + "/cgroup.procs", pid);
    if (!st.ok()) Log(LogLevel::kWarning, "%s", st.ToString().c_str());
  }
  for (int attempt = 0; ::rmdir(path_.c_str()) != 0; ++attempt) {
    if (errno == ENOENT) return;
    if (errno != EBUSY || attempt == 250) {
      Log(LogLevel::kError, "cannot remove cgroup %s: %s", path_.c_str(), std::strerror(errno));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status MemoryCgroup::AddProcess(pid_t pid) const {
  return WriteFile(path_ + "/cgroup.procs", std::to_string(pid == 0 ? ::getpid() : pid));
}

std::optional<uint64_t> MemoryCgroup::Stat(const std::string& key) const {
  return ReadStatValue(path_ + "/memory.stat", key);
}

std::optional<uint64_t> MemoryCgroup::PeakBytes() const {
  return ReadNumber(path_ + (version_ == 2 ? "/memory.peak" : "/memory.max_usage_in_bytes"));
}

std::optional<uint64_t> MemoryCgroup::UsageBytes() const {
  return ReadNumber(path_ + (version_ == 2 ? "/memory.current" : "/memory.usage_in_bytes"));
}

std::optional<uint64_t> MemoryCgroup::OomKills() const {
  return ReadStatValue(path_ + (version_ == 2 ? "/memory.events" : "/memory.oom_control"),
                       "oom_kill");
}

std::optional<uint64_t> MemoryCgroup::SwappedBytes() const {
  if (version_ == 2) return ReadNumber(path_ + "/memory.swap.current");
  std::optional<uint64_t> memsw = ReadNumber(path_ + "/memory.memsw.usage_in_bytes");
  std::optional<uint64_t> mem = ReadNumber(path_ + "/memory.usage_in_bytes");
  if (!mem || !memsw) return std::nullopt;
  return *memsw > *mem ? *memsw - *mem : 0;
}

}  // namespace uswap::bench
