// ReadSmallFile: the whole of a small file (a /proc entry: stat, statm,
// smaps_rollup) into a caller's buffer, NUL-terminated, with as many read()s
// as the kernel needs (/proc files may come in pieces).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>

#include "base/unique_fd.h"

namespace uswap {

// True when at least one byte was read; the text is truncated to size - 1.
inline bool ReadSmallFile(const char* path, char* buf, size_t size) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || size == 0) return false;
  size_t got = 0;
  while (got + 1 < size) {
    const ssize_t n = ::read(fd.get(), buf + got, size - 1 - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  buf[got] = '\0';
  return got > 0;
}

}  // namespace uswap
