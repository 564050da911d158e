#include "api/process_charge.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/unique_fd.h"

namespace uswap {
namespace {

// Reads a /proc file of this process into buf (NUL-terminated); false on error.
bool ReadProc(const char* path, char* buf, size_t size) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  size_t got = 0;
  while (got + 1 < size) {
    const ssize_t n = ::read(fd.get(), buf + got, size - 1 - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  buf[got] = '\0';
  return got > 0;
}

}  // namespace

uint64_t ProcessCharge::Sample(uint64_t metadata_bytes) {
  char buf[2048];
  unsigned long long size = 0, resident = 0, shared = 0;
  if (!ReadProc("/proc/self/statm", buf, sizeof(buf)) ||
      std::sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3)
    return last_;
  const uint64_t priv = (resident > shared ? resident - shared : 0) * page_size_;
  if (samples_++ % kPssEvery == 0 && priv > 0 &&
      ReadProc("/proc/self/smaps_rollup", buf, sizeof(buf))) {
    if (const char* p = std::strstr(buf, "\nPss_Anon:")) {
      const double pss = std::strtod(p + 10, nullptr) * 1024;
      share_ = std::clamp(pss / static_cast<double>(priv), 0.0, 1.0);
    }
  }
  const auto anon = static_cast<uint64_t>(static_cast<double>(priv) * share_);
  last_ = anon > metadata_bytes ? anon - metadata_bytes : 0;
  return last_;
}

}  // namespace uswap
