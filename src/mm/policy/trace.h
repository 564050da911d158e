// Page reference traces for the simulator (`uswap sim`, doc/policies.md):
//   text - one page number per line (decimal, or hex with 0x), optionally
//          followed by blanks and `r` or `w`; blank lines and lines opening
//          with '#' (a header, e.g. "# uswap faults") are skipped
//   u32  - little-endian uint32 per reference: bits 0-30 page, bit 31 write
//   u64  - little-endian uint64 page numbers
// A trace is held in memory with its pages renumbered densely in order of
// first reference, so the simulator indexes arrays, not hash maps.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "uswap/status.h"

namespace uswap {

enum class TraceFormat { kText, kU32, kU64 };

// "text", "u32", "u64".
std::optional<TraceFormat> ParseTraceFormat(std::string_view name);

struct Trace {
  std::vector<uint32_t> refs;   // one dense page id per reference
  std::vector<uint64_t> pages;  // dense id -> page number
  size_t distinct() const { return pages.size(); }
};

// Appends the page of each reference. InvalidArgument for a bad text line
// (its number named) or an empty trace; Corruption for a binary trace cut
// inside a record.
Result<Trace> ParseTrace(std::string_view data, TraceFormat format);
// The same from a file descriptor read to its end (a file or a pipe).
Result<Trace> ReadTrace(int fd, TraceFormat format);

}  // namespace uswap
