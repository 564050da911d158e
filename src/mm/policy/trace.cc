#include "mm/policy/trace.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>

namespace uswap {
namespace {

class Builder {
 public:
  void Ref(uint64_t page) {
    auto [it, fresh] = ids_.try_emplace(page, static_cast<uint32_t>(trace_.pages.size()));
    if (fresh) trace_.pages.push_back(page);
    trace_.refs.push_back(it->second);
  }
  Result<Trace> Finish() {
    if (trace_.refs.empty()) return Status::InvalidArgument("empty trace: no page reference");
    return std::move(trace_);
  }
  void Reserve(size_t n) {
    trace_.refs.reserve(n);
    ids_.reserve(n / 4 + 16);
  }

 private:
  Trace trace_;
  std::unordered_map<uint64_t, uint32_t> ids_;
};

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

Result<Trace> ParseText(std::string_view data) {
  Builder b;
  b.Reserve(data.size() / 8);
  size_t line_no = 0;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
    line_no++;
    size_t i = 0;
    while (i < line.size() && IsBlank(line[i])) i++;
    if (i == line.size() || line[i] == '#') continue;
    unsigned base = 10;
    if (line.size() - i > 2 && line[i] == '0' && (line[i + 1] == 'x' || line[i + 1] == 'X')) {
      base = 16;
      i += 2;
    }
    uint64_t page = 0;
    size_t digits = 0;
    bool overflow = false;
    for (; i < line.size(); i++, digits++) {
      char c = line[i];
      unsigned d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (base == 16 && c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (base == 16 && c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        break;
      if (page > (UINT64_MAX - d) / base) overflow = true;
      page = page * base + d;
    }
    while (i < line.size() && IsBlank(line[i])) i++;
    if (i < line.size() && (line[i] == 'r' || line[i] == 'w' || line[i] == 'R' || line[i] == 'W'))
      i++;
    while (i < line.size() && IsBlank(line[i])) i++;
    if (digits == 0 || overflow || i != line.size())
      return Status::InvalidArgument("line " + std::to_string(line_no) +
                                     ": not a page number (optionally followed by r or w): '" +
                                     std::string(line.substr(0, 60)) + "'");
    b.Ref(page);
  }
  return b.Finish();
}

template <typename T>
Result<Trace> ParseBinary(std::string_view data, const char* name) {
  if (data.size() % sizeof(T))
    return Status::Corruption("truncated " + std::string(name) +
                              " trace: " + std::to_string(data.size()) +
                              " bytes is not a multiple of " + std::to_string(sizeof(T)));
  Builder b;
  b.Reserve(data.size() / sizeof(T));
  for (size_t off = 0; off < data.size(); off += sizeof(T)) {
    uint64_t v = 0;
    for (size_t k = 0; k < sizeof(T); k++)
      v |= uint64_t(static_cast<uint8_t>(data[off + k])) << (8 * k);
    if constexpr (sizeof(T) == 4) v &= 0x7fffffffu;  // bit 31: write
    b.Ref(v);
  }
  return b.Finish();
}

}  // namespace

std::optional<TraceFormat> ParseTraceFormat(std::string_view name) {
  if (name == "text") return TraceFormat::kText;
  if (name == "u32") return TraceFormat::kU32;
  if (name == "u64") return TraceFormat::kU64;
  return std::nullopt;
}

Result<Trace> ParseTrace(std::string_view data, TraceFormat format) {
  switch (format) {
    case TraceFormat::kText:
      return ParseText(data);
    case TraceFormat::kU32:
      return ParseBinary<uint32_t>(data, "u32");
    case TraceFormat::kU64:
      return ParseBinary<uint64_t>(data, "u64");
  }
  return Status::InvalidArgument("unknown trace format");
}

Result<Trace> ReadTrace(int fd, TraceFormat format) {
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read trace", errno);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return ParseTrace(data, format);
}

}  // namespace uswap
