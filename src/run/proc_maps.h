// ReadProcMaps: the calling process's mappings, from /proc/self/maps (cf.
// the kernel's show_map_vma). fork() reads the protections the program
// gave region memory (mprotect is the kernel's, not in AnonSpace's
// bookkeeping), mlockall() the file mappings it locks outside the region,
// and the pin guard another process's uswap memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "run/range_set.h"
#include "uswap/status.h"

namespace uswap {

struct ProcMapping {
  AddrRange range;
  int prot = 0;      // PROT_READ | PROT_WRITE | PROT_EXEC as the line says
  std::string name;  // a path, "[stack]", "[anon:...]" or empty
};

// The mappings that intersect [b, e), clipped to it, in address order.
// The open or read error names the file.
Result<std::vector<ProcMapping>> ReadProcMaps(uintptr_t b = 0, uintptr_t e = UINTPTR_MAX);
// The same from the text of a maps file (another process's: the pin guard).
std::vector<ProcMapping> ParseProcMaps(std::string_view text, uintptr_t b = 0,
                                       uintptr_t e = UINTPTR_MAX);

}  // namespace uswap
