#include "cli_util.h"

#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "swap/swap_format.h"
#include "swap/swap_header.h"

namespace uswap::cli {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// User text inside a message, escaped so the message stays on one line.
std::string Quoted(std::string_view text) { return JsonQuote(text); }

// RFC 4122 §4.2: version 1 from 100 ns ticks since 1582-10-15; clock
// sequence and node random, node marked multicast so it never equals a MAC.
Result<Uuid> TimeUuid() {
  constexpr uint64_t kGregorianToUnix100ns = 0x01B21DD213814000ull;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const uint64_t t =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()) /
          100 +
      kGregorianToUnix100ns;
  Uuid u;
  USWAP_RETURN_IF_ERROR(FillRandom(u.data() + 8, 8));
  const uint32_t time_low = static_cast<uint32_t>(t);
  const uint16_t time_mid = static_cast<uint16_t>(t >> 32);
  const uint16_t time_hi = static_cast<uint16_t>(((t >> 48) & 0x0fff) | 0x1000);
  for (int i = 0; i < 4; ++i) u[i] = static_cast<uint8_t>(time_low >> (24 - 8 * i));
  u[4] = static_cast<uint8_t>(time_mid >> 8);
  u[5] = static_cast<uint8_t>(time_mid);
  u[6] = static_cast<uint8_t>(time_hi >> 8);
  u[7] = static_cast<uint8_t>(time_hi);
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);
  u[10] |= 0x01;
  return u;
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - digit) / 10) {
      return Status::InvalidArgument("size " + Quoted(text) + " is too large");
    }
    v = v * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return Status::InvalidArgument("size " + Quoted(text) +
                                   " is not a number (bytes, or with K, M, G or T)");
  }
  std::string_view suffix = text.substr(i);
  unsigned shift = 0;
  if (!suffix.empty()) {
    switch (suffix[0]) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      default:
        shift = 64;
    }
    std::string_view rest = suffix.substr(1);
    if (shift == 64 || !(rest.empty() || rest == "iB" || rest == "B")) {
      return Status::InvalidArgument("size " + Quoted(text) + " has an unknown suffix " +
                                     Quoted(suffix) + " (use K, M, G or T)");
    }
  }
  if (shift && v > (UINT64_MAX >> shift)) {
    return Status::InvalidArgument("size " + Quoted(text) + " is too large");
  }
  return v << shift;
}

Result<size_t> ParsePageSize(std::string_view text) {
  USWAP_ASSIGN_OR_RETURN(uint64_t v, ParseSize(text));
  if (v < swap_format::kMinPageSize || v > swap_format::kMaxPageSize || (v & (v - 1)) != 0) {
    return Status::InvalidArgument("page size " + Quoted(text) +
                                   " is not a power of two from 4096 to 65536");
  }
  return static_cast<size_t>(v);
}

Result<Uuid> ParseUuid(std::string_view text) {
  // Dashes after bytes 4, 6, 8 and 10: positions 8, 13, 18, 23.
  Status bad = Status::InvalidArgument(
      "UUID " + Quoted(text) +
      " is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (or clear, random, time)");
  if (text.size() != 36) return bad;
  Uuid u{};
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return bad;
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return bad;
    u[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return u;
}

bool IsNullUuid(const Uuid& uuid) { return uuid == Uuid{}; }

Result<Uuid> MakeUuid(std::string_view spec) {
  if (spec == "clear") return Uuid{};
  if (spec == "random") return RandomUuid();
  if (spec == "time") return TimeUuid();
  return ParseUuid(spec);
}

Status CheckLabel(std::string_view label) {
  constexpr size_t kMax = swap_format::kLabelSize - 1;
  if (label.size() > kMax) {
    return Status::InvalidArgument("label " + Quoted(label) + " is " +
                                   std::to_string(label.size()) + " bytes, at most " +
                                   std::to_string(kMax) + " fit");
  }
  if (label.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("label holds a NUL byte");
  }
  return Status::OK();
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    }
  }
  out += '"';
  return out;
}

int Fail(std::string_view cmd, std::string_view file, std::string_view message) {
  if (file.empty()) {
    std::fprintf(stderr, "uswap %.*s: %.*s\n", static_cast<int>(cmd.size()), cmd.data(),
                 static_cast<int>(message.size()), message.data());
  } else {
    std::fprintf(stderr, "uswap %.*s: %.*s: %.*s\n", static_cast<int>(cmd.size()), cmd.data(),
                 static_cast<int>(file.size()), file.data(), static_cast<int>(message.size()),
                 message.data());
  }
  return 1;
}

int UsageError(std::string_view cmd, std::string_view message) {
  std::fprintf(stderr, "uswap %.*s: %.*s (try 'uswap %.*s --help')\n", static_cast<int>(cmd.size()),
               cmd.data(), static_cast<int>(message.size()), message.data(),
               static_cast<int>(cmd.size()), cmd.data());
  return 2;
}

int BadOption(std::string_view cmd, int c, char** argv) {
  const std::string opt =
      optopt ? std::string("-") + static_cast<char>(optopt) : std::string(argv[optind - 1]);
  if (c == ':') return UsageError(cmd, "option " + opt + " needs a value");
  return UsageError(cmd, "unknown option " + opt);
}

int HelpOrUsageError(std::string_view cmd, int c, char** argv, const char* help) {
  if (c != 'h') return BadOption(cmd, c, argv);
  std::fputs(help, stdout);
  return 0;
}

std::optional<std::string> OneFileOperand(std::string_view cmd, int argc, char** argv) {
  if (optind + 1 == argc) return std::string(argv[optind]);
  UsageError(cmd, optind == argc ? "no FILE given" : "more than one FILE given");
  return std::nullopt;
}

std::string TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/var/tmp";
}

std::string HumanSize(uint64_t bytes) {
  // The power of 1024 below `bytes`: 0 (B), 10 (KiB), 20 (MiB), ...
  int exp = 0;
  while (exp < 60 && bytes >= (uint64_t{1} << (exp + 10))) exp += 10;
  static constexpr char kLetters[] = "BKMGTPE";
  const char letter = kLetters[exp / 10];
  std::string suffix = std::string(" ") + letter + (exp ? "iB" : "");
  uint64_t whole = bytes >> exp;
  uint64_t frac = exp ? bytes & ((uint64_t{1} << exp) - 1) : 0;
  if (frac) {
    // Three digits, then rounded to one, as util-linux does (the 4/5 rule
    // applied to the truncated thousandths).
    frac = frac >= UINT64_MAX / 1000 ? (frac / 1024) * 1000 / (uint64_t{1} << (exp - 10))
                                     : frac * 1000 / (uint64_t{1} << exp);
    frac = (frac + 50) / 100;
    if (frac == 10) {
      ++whole;
      frac = 0;
    }
  }
  if (frac) return std::to_string(whole) + "." + std::to_string(frac) + suffix;
  return std::to_string(whole) + suffix;
}

}  // namespace uswap::cli
