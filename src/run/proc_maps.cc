#include "run/proc_maps.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/proc_file.h"

namespace uswap {

Result<std::vector<ProcMapping>> ReadProcMaps(uintptr_t b, uintptr_t e) {
  USWAP_ASSIGN_OR_RETURN(const std::string text, ReadProcText("/proc/self/maps"));
  return ParseProcMaps(text, b, e);
}

std::vector<ProcMapping> ParseProcMaps(std::string_view text, uintptr_t b, uintptr_t e) {
  std::vector<ProcMapping> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string line(text.substr(pos, eol - pos));
    pos = eol + 1;
    unsigned long lo = 0, hi = 0;
    char perms[5] = {};
    int name = 0;
    // start-end perms offset dev inode [name]
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %*s %*s %*s %n", &lo, &hi, perms, &name) != 3)
      continue;
    if (hi <= b || lo >= e) continue;
    ProcMapping m;
    m.range = {std::max<uintptr_t>(lo, b), std::min<uintptr_t>(hi, e)};
    m.prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
             (perms[2] == 'x' ? PROT_EXEC : 0);
    if (name > 0 && static_cast<size_t>(name) < line.size()) m.name = line.substr(name);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace uswap
