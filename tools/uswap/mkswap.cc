// uswap mkswap: sets up a Linux swap area (SWAPSPACE2 v1) on a file or block
// device, byte-compatible with util-linux mkswap(8). The work is the
// library's MakeSwapArea (include/uswap/swap_area.h, which says what is
// written and where uswap differs from util-linux on purpose); this file
// parses the command line and prints what util-linux mkswap prints.
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cli_util.h"
#include "commands.h"
#include "swap/swap_format.h"
#include "uswap/swap_area.h"

namespace uswap::cli {

namespace {

namespace sf = swap_format;

constexpr char kCmd[] = "mkswap";

constexpr char kHelp[] =
    "usage: uswap mkswap [-L LABEL] [-U UUID] [-p PAGESIZE] [-s SIZE] [-f] FILE\n"
    "\n"
    "Sets up a Linux swap area (SWAPSPACE2, version 1) on FILE, byte-compatible\n"
    "with util-linux mkswap(8).\n"
    "\n"
    "  -L LABEL     volume label, at most 15 bytes\n"
    "  -U UUID      xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, clear, random (default) or time\n"
    "  -p PAGESIZE  page size: a power of two from 4096 to 65536 (default: this system's)\n"
    "  -s SIZE      create FILE with SIZE bytes (suffix K, M, G or T), mode 0600,\n"
    "               fully allocated; FILE must not exist unless -f\n"
    "  -f           format even if FILE holds data or a signature (or exists, with -s)\n"
    "\n"
    "Without -s, FILE is an existing regular file or block device, and the area\n"
    "covers all of it (rounded down to whole pages).\n";

struct Options {
  std::string label;
  std::string uuid_spec = "random";
  size_t page_size = 0;
  std::optional<uint64_t> size;
  bool force = false;
  std::string path;
};

// Parses argv into `opts`; returns an exit code when the command is done
// (help printed or bad usage), nullopt to go on.
std::optional<int> ParseArgs(int argc, char** argv, Options& opts) {
  static const option kLong[] = {{"label", required_argument, nullptr, 'L'},
                                 {"uuid", required_argument, nullptr, 'U'},
                                 {"pagesize", required_argument, nullptr, 'p'},
                                 {"size", required_argument, nullptr, 's'},
                                 {"force", no_argument, nullptr, 'f'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":L:U:p:s:fh", kLong, nullptr)) != -1) {
    switch (c) {
      case 'L':
        opts.label = optarg;
        break;
      case 'U':
        opts.uuid_spec = optarg;
        break;
      case 'p': {
        Result<size_t> ps = ParsePageSize(optarg);
        if (!ps.ok()) return UsageError(kCmd, ps.status().message());
        opts.page_size = *ps;
        break;
      }
      case 's': {
        Result<uint64_t> s = ParseSize(optarg);
        if (!s.ok()) return UsageError(kCmd, s.status().message());
        opts.size = *s;
        break;
      }
      case 'f':
        opts.force = true;
        break;
      default:
        return HelpOrUsageError(kCmd, c, argv, kHelp);
    }
  }
  std::optional<std::string> path = OneFileOperand(kCmd, argc, argv);
  if (!path) return 2;
  opts.path = *path;
  if (opts.page_size == 0) {
    const long ps = ::sysconf(_SC_PAGESIZE);
    opts.page_size = ps > 0 ? static_cast<size_t>(ps) : sf::kMinPageSize;
  }
  Status label = CheckLabel(opts.label);
  if (!label.ok()) return UsageError(kCmd, label.message());
  return std::nullopt;
}

int Run(const Options& opts) {
  const std::string& path = opts.path;
  Result<Uuid> uuid = MakeUuid(opts.uuid_spec);
  if (!uuid.ok()) return UsageError(kCmd, uuid.status().message());
  // Past RLIMIT_FSIZE, posix_fallocate must fail with EFBIG (and the file
  // be removed) rather than SIGXFSZ kill us with a partial file left.
  if (opts.size) std::signal(SIGXFSZ, SIG_IGN);

  SwapAreaOptions area;
  area.label = opts.label;
  area.uuid = *uuid;
  area.page_size = opts.page_size;
  area.force = opts.force;
  Result<SwapAreaInfo> made = MakeSwapArea(path, opts.size.value_or(0), area);
  if (!made.ok()) {
    // The library names the condition; the CLI adds the option that
    // changes it.
    std::string msg = made.status().message();
    if (made.status().IsBusy())
      msg += opts.size && msg == "already exists" ? " (use -f to resize and format it, or omit -s)"
                                                  : "; use -f to overwrite it";
    if (made.status().IsNotFound()) msg += " (use -s SIZE to create it)";
    return Fail(kCmd, path, msg);
  }
  for (const std::string& w : made->warnings)
    std::fprintf(stderr, "uswap mkswap: %s: warning: %s\n", path.c_str(), w.c_str());
  // The two lines util-linux mkswap prints.
  const uint64_t usable = made->usable_bytes;
  std::printf("Setting up swapspace version 1, size = %s (%llu bytes)\n", HumanSize(usable).c_str(),
              static_cast<unsigned long long>(usable));
  std::printf("%s, UUID=%s\n", opts.label.empty() ? "no label" : ("LABEL=" + opts.label).c_str(),
              FormatUuid(*uuid).c_str());
  return 0;
}

}  // namespace

int MkswapMain(int argc, char** argv) {
  Options opts;
  if (std::optional<int> done = ParseArgs(argc, argv, opts)) return *done;
  return Run(opts);
}

}  // namespace uswap::cli
