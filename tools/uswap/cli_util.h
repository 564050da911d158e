// Helpers shared by the swap-area subcommands (mkswap, inspect, label):
// parsing of sizes, page sizes, UUIDs and labels from the command line, the
// one-line error convention, and small output helpers.
//
// The parsers take untrusted text and never abort; they are fuzzed
// (tests/fuzz/cli_parse_fuzz.cc). Thread-safety: pure functions, except
// MakeUuid (reads the clock and getrandom(2)). Writing and random bytes:
// swap/swap_header.h (PwriteAll, FillRandom, RandomUuid).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "swap/swap_header.h"
#include "uswap/status.h"

namespace uswap::cli {

using Uuid = std::array<uint8_t, 16>;

// "123" (bytes), "64K", "512M", "2G", "1T" (powers of 1024; "KiB" and
// lower-case suffixes accepted too). Digits only, no sign, no spaces; values
// that overflow 64 bits are InvalidArgument.
Result<uint64_t> ParseSize(std::string_view text);

// A page size for -p: ParseSize, then a power of two in [4096, 65536].
Result<size_t> ParsePageSize(std::string_view text);

// The canonical 8-4-4-4-12 hex form, either case.
Result<Uuid> ParseUuid(std::string_view text);

// FormatUuid (lower-case 8-4-4-4-12): swap/swap_header.h.

// True when the UUID is all zero: "no UUID" in a swap header.
bool IsNullUuid(const Uuid& uuid);

// A -U argument as mkswap(8) and tune2fs(8) take it: "clear" (all zero),
// "random" (version 4, from getrandom), "time" (version 1: the clock, a
// random clock sequence and a random multicast node, as libuuid does
// without a MAC address), or a canonical UUID.
Result<Uuid> MakeUuid(std::string_view spec);

// A -L argument: at most 15 bytes, so that the 16-byte field keeps its NUL
// (util-linux truncates with a warning; uswap refuses instead).
Status CheckLabel(std::string_view label);

// `text` as a JSON string literal, quotes included. Bytes that are not
// printable ASCII become \u00XX, so the output is valid JSON (and ASCII)
// whatever a damaged header holds.
std::string JsonQuote(std::string_view text);

// The error convention of the CLI (commands.h): one line on stderr,
// "uswap CMD: FILE: message" (FILE omitted when empty). Return the exit code
// (1 for Fail, 2 for UsageError) so callers can `return Fail(...)`.
int Fail(std::string_view cmd, std::string_view file, std::string_view message);
int UsageError(std::string_view cmd, std::string_view message);
// For getopt_long run with opterr = 0 and an optstring opening with ':':
// the UsageError for its '?' (unknown option) or ':' (missing value) `c`.
int BadOption(std::string_view cmd, int c, char** argv);
// The `default:` of a getopt_long loop run with opterr = 0, an optstring
// opening with ':' and 'h' for --help: prints `help` for 'h' (exit code 0),
// else the UsageError for '?' (unknown option) or ':' (missing value).
int HelpOrUsageError(std::string_view cmd, int c, char** argv, const char* help);
// The one FILE operand left after getopt_long; nullopt (after printing the
// UsageError: exit code 2) when there is none or more than one.
std::optional<std::string> OneFileOperand(std::string_view cmd, int argc, char** argv);

// `bytes` as util-linux prints sizes (size_to_human_string() with a space
// and three-letter suffixes): "1020 KiB", "2.4 MiB", "512 B".
std::string HumanSize(uint64_t bytes);

// Where the CLI makes the swap files it needs (bench, demo, run): $TMPDIR,
// else /var/tmp (disk-backed on Debian, unlike a tmpfs /tmp).
std::string TempDir();

}  // namespace uswap::cli
