// Minimal logging: one line per event on stderr, prefixed "uswap: ".
// Used for rare events an operator must see (write errors, overshoot of the
// budget, read errors); never on the hot path. Thread-safe (one write(2)
// per line). Tests may silence it with SetLogSink.
#pragma once

#include <functional>
#include <string>

namespace uswap {

enum class LogLevel { kInfo, kWarning, kError };

// printf-style; the line is written atomically.
void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Replaces the sink (default: stderr). Pass nullptr to restore the default.
void SetLogSink(std::function<void(LogLevel, const std::string&)> sink);

}  // namespace uswap
