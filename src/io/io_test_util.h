// Helpers shared by the io/ tests and benchmarks: a scratch directory on a
// real file system (O_DIRECT's direct path needs one; tmpfs would take the
// page-cache path and hide alignment bugs), slot-stamped page patterns, and
// the process's open-fd count.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace uswap::testing {

// A mkdtemp directory under /var/tmp (or $TMPDIR, /tmp: the first that is
// not tmpfs), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* const bases[] = {"/var/tmp", std::getenv("TMPDIR"), "/tmp"};
    for (const char* base : bases) {
      if (base == nullptr) continue;
      struct statfs fs;
      if (::statfs(base, &fs) != 0 || fs.f_type == TMPFS_MAGIC) continue;
      std::string templ = std::string(base) + "/uswap-io-XXXXXX";
      if (::mkdtemp(templ.data()) != nullptr) {
        path_ = templ;
        return;
      }
    }
    std::string templ = "/var/tmp/uswap-io-XXXXXX";  // every candidate was tmpfs
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Fills `len` bytes with 64-bit words that name (slot, stamp, word index),
// so a misplaced, stale or torn page is caught by CheckPattern.
inline void FillPattern(void* buf, size_t len, uint64_t slot, uint32_t stamp) {
  auto* p = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i + 8 <= len; i += 8) {
    const uint64_t word = (slot << 40) ^ (uint64_t{stamp} << 16) ^ (i / 8) ^ 0x9e3779b97f4a7c15ull;
    std::memcpy(p + i, &word, 8);
  }
}

inline bool CheckPattern(const void* buf, size_t len, uint64_t slot, uint32_t stamp) {
  auto* p = static_cast<const unsigned char*>(buf);
  for (size_t i = 0; i + 8 <= len; i += 8) {
    const uint64_t want = (slot << 40) ^ (uint64_t{stamp} << 16) ^ (i / 8) ^ 0x9e3779b97f4a7c15ull;
    uint64_t got;
    std::memcpy(&got, p + i, 8);
    if (got != want) return false;
  }
  return true;
}

// Entries in /proc/self/fd (the directory's own fd included).
inline int CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (::readdir(dir) != nullptr) ++n;
  ::closedir(dir);
  return n;
}

}  // namespace uswap::testing
