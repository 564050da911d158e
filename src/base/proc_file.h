// ReadSmallFile: the whole of a small file (a /proc entry: stat, statm,
// smaps_rollup) into a caller's buffer, NUL-terminated, with as many read()s
// as the kernel needs (/proc files may come in pieces). ReadProcText: the
// same into a string of any length (/proc/PID/maps).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "base/unique_fd.h"
#include "uswap/status.h"

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

// The error names the path.
inline Result<std::string> ReadProcText(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open(" + path + ")", errno);
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read(" + path + ")", errno);
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace uswap
