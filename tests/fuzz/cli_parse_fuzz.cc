// libFuzzer target for the command-line parsers of uswap mkswap/inspect/label
// (tools/uswap/cli_util.h): sizes, page sizes, UUIDs, labels, JSON quoting
// and the util-linux size strings.
//
// Input: one selector byte, then the text. Checks each parser's contract,
// not only the absence of crashes. Also linked into cli_util_test, which
// replays the corpus and regressions in every normal build.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "cli_util.h"

namespace {

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "cli_parse_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace uswap::cli;
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: {
      uswap::Result<uint64_t> v = ParseSize(text);
      if (v.ok() && AllDigits(text)) {
        const size_t nz = text.find_first_not_of('0');
        const std::string_view digits = nz == std::string_view::npos ? "0" : text.substr(nz);
        Require(std::to_string(*v) == digits, "a plain number parses to itself");
      }
      if (v.ok()) Require(!text.empty() && text[0] >= '0' && text[0] <= '9', "starts with a digit");
      break;
    }
    case 1: {
      uswap::Result<size_t> v = ParsePageSize(text);
      if (v.ok()) Require(*v >= 4096 && *v <= 65536 && (*v & (*v - 1)) == 0, "page size range");
      break;
    }
    case 2: {
      uswap::Result<Uuid> u = ParseUuid(text);
      if (u.ok()) {
        std::string lower(text);
        for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c);
        Require(uswap::FormatUuid(*u) == lower, "FormatUuid inverts ParseUuid");
      }
      break;
    }
    case 3: {
      const bool ok = CheckLabel(text).ok();
      Require(ok == (text.size() <= 15 && text.find('\0') == std::string_view::npos),
              "labels of at most 15 bytes without NUL");
      break;
    }
    case 4: {
      const std::string q = JsonQuote(text);
      Require(q.size() >= 2 && q.front() == '"' && q.back() == '"', "quoted");
      for (size_t i = 1; i + 1 < q.size(); ++i) {
        const auto c = static_cast<unsigned char>(q[i]);
        Require(c >= 0x20 && c < 0x7f, "printable ASCII only");
        if (c == '"') Require(q[i - 1] == '\\', "quotes escaped");
      }
      break;
    }
    case 5: {
      uint64_t n = 0;
      std::memcpy(&n, text.data(), std::min(text.size(), sizeof(n)));
      const std::string s = HumanSize(n);
      Require(!s.empty() && s.back() == 'B', "a size ends in B");
      break;
    }
  }
  return 0;
}
