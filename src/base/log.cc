#include "base/log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace uswap {

namespace {
std::mutex g_sink_mu;
std::function<void(LogLevel, const std::string&)> g_sink;
}  // namespace

void Log(LogLevel level, const char* fmt, ...) {
  char buf[1024];
  const char* tag = level == LogLevel::kError     ? "error: "
                    : level == LogLevel::kWarning ? "warning: "
                                                  : "";
  int n = std::snprintf(buf, sizeof buf, "uswap: %s", tag);
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  va_end(ap);
  std::string line(buf);
  {
    std::lock_guard<std::mutex> l(g_sink_mu);
    if (g_sink) {
      g_sink(level, line);
      return;
    }
  }
  line += '\n';
  ssize_t w = ::write(STDERR_FILENO, line.data(), line.size());
  (void)w;
}

void SetLogSink(std::function<void(LogLevel, const std::string&)> sink) {
  std::lock_guard<std::mutex> l(g_sink_mu);
  g_sink = std::move(sink);
}

}  // namespace uswap
