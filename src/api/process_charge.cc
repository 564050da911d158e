#include "api/process_charge.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/proc_file.h"

namespace uswap {

uint64_t ProcessCharge::Sample(uint64_t metadata_bytes) {
  char buf[2048];
  unsigned long long size = 0, resident = 0, shared = 0;
  if (!ReadSmallFile("/proc/self/statm", buf, sizeof(buf)) ||
      std::sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3)
    return last_;
  const uint64_t priv = (resident > shared ? resident - shared : 0) * page_size_;
  if (samples_++ % kPssEvery == 0 && priv > 0 &&
      ReadSmallFile("/proc/self/smaps_rollup", buf, sizeof(buf))) {
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
