// uswap stat: a running Space's counters, every interval, as vmstat(8)
// shows /proc/vmstat: read from the Space's stats socket (published when
// Config::stats_socket or USWAP_STATS_SOCKET asks for it; see
// src/api/stats_endpoint.h). The first line holds the totals since the
// Space opened, each later line what happened during the interval
// (Stats::Since); resident, free and swap used are the state at the time.
#include <dirent.h>
#include <getopt.h>
#include <poll.h>
#include <sys/types.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "api/stats_endpoint.h"
#include "cli_util.h"
#include "commands.h"

namespace uswap::cli {

namespace {

constexpr char kCmd[] = "stat";

constexpr char kHelp[] =
    "usage: uswap stat [--interval S] [--count N] [--json|--prometheus] [PID|SOCKET]\n"
    "\n"
    "Prints the counters of a running uswap Space every S seconds, like\n"
    "vmstat(8): the first line since the Space opened, then per interval. The\n"
    "program must publish them: Config::stats_socket, or the environment\n"
    "variable USWAP_STATS_SOCKET=auto (or a socket path) when it starts.\n"
    "PID names the process (its socket under "
    "$XDG_RUNTIME_DIR/uswap, /run/uswap\n"
    "for root, else /tmp/uswap-UID); SOCKET is a path; without either, the only\n"
    "socket there is read. Only the Space's user and root may read it.\n"
    "\n"
    "  --interval S   seconds between samples (default 1; fractions allowed)\n"
    "  --count N      stop after N samples (default: until interrupted)\n"
    "  --json         each sample as the Space's Stats JSON, one per line\n"
    "  --prometheus   each sample in the Prometheus text exposition format\n";

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// "name value" lines of Stats::ToText (area lines skipped) -> map.
std::map<std::string, uint64_t> ParseText(const std::string& text, uint64_t* swap_used) {
  std::map<std::string, uint64_t> m;
  std::istringstream in(text);
  std::string line;
  *swap_used = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string name;
    f >> name;
    if (name == "area") {  // area PATH prio P pages N inuse N bad N
      std::string word;
      uint64_t v;
      while (f >> word)
        if (word == "inuse" && f >> v) *swap_used += v;
      continue;
    }
    uint64_t v;
    if (f >> v) m[name] = v;
  }
  return m;
}

// The socket to read: PID, path, or the only one in the directory.
Result<std::string> Resolve(const char* arg) {
  if (arg) {
    std::string a = arg;
    if (a.find('/') != std::string::npos) return a;
    char* end = nullptr;
    errno = 0;
    long pid = std::strtol(arg, &end, 10);
    if (errno || *end || pid <= 0)
      return Status::InvalidArgument("'" + a + "' is neither a PID nor a socket path");
    return StatsSocketPath(static_cast<pid_t>(pid));
  }
  const std::string dir = StatsSocketDir();
  std::string only;
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string s = e->d_name;
      if (s.size() > 5 && s.compare(s.size() - 5, 5, ".sock") == 0) {
        only = dir + "/" + s;
        n++;
      }
    }
    ::closedir(d);
  }
  if (n == 1) return only;
  return Status::InvalidArgument(
      n == 0
          ? "no uswap stats socket in " + dir + " (start the program with USWAP_STATS_SOCKET=auto)"
          : std::to_string(n) + " stats sockets in " + dir + ": name a PID or a socket");
}

}  // namespace

int StatMain(int argc, char** argv) {
  static const option kLong[] = {
      {"interval", required_argument, nullptr, 'i'}, {"count", required_argument, nullptr, 'c'},
      {"json", no_argument, nullptr, 'j'},           {"prometheus", no_argument, nullptr, 'P'},
      {"help", no_argument, nullptr, 'h'},           {nullptr, 0, nullptr, 0}};
  double interval = 1;
  long count = -1;
  std::string format = "text";
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", kLong, nullptr)) != -1) {
    char* end = nullptr;
    switch (c) {
      case 'i':
        interval = std::strtod(optarg, &end);
        if (*end || !(interval > 0) || interval > 86400)
          return UsageError(kCmd, "--interval needs seconds, more than 0");
        break;
      case 'c':
        count = std::strtol(optarg, &end, 10);
        if (*end || count <= 0) return UsageError(kCmd, "--count needs a positive number");
        break;
      case 'j':
        format = "json";
        break;
      case 'P':
        format = "prometheus";
        break;
      default:
        return HelpOrUsageError(kCmd, c, argv, kHelp);
    }
  }
  if (argc - optind > 1) return UsageError(kCmd, "more than one PID or SOCKET given");
  Result<std::string> path = Resolve(optind < argc ? argv[optind] : nullptr);
  if (!path.ok()) return Fail(kCmd, "", path.status().message());

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  std::map<std::string, uint64_t> last;
  for (long sample = 0; !g_stop && (count < 0 || sample < count); sample++) {
    if (sample > 0) ::poll(nullptr, 0, static_cast<int>(std::lround(interval * 1000)));
    if (g_stop) break;
    Result<std::string> got = ReadStatsEndpoint(*path, format);
    if (!got.ok()) return Fail(kCmd, *path, got.status().message());
    if (format != "text") {
      std::fputs(got->c_str(), stdout);
      if (format == "prometheus" && (count < 0 || sample + 1 < count)) std::fputs("\n", stdout);
      std::fflush(stdout);
      continue;
    }
    uint64_t swap_used = 0;
    std::map<std::string, uint64_t> now = ParseText(*got, &swap_used);
    static const char* const kCounters[] = {"pgfault", "pgmajfault", "pswpin",
                                            "pswpout", "pgscan",     "pgsteal"};
    if (sample % 20 == 0)
      std::printf("%10s %10s %10s %10s %10s %10s %9s %9s %9s\n", "pgfault", "pgmajfault", "pswpin",
                  "pswpout", "pgscan", "pgsteal", "resident", "free", "swapused");
    for (const char* k : kCounters) {
      const uint64_t v = now[k], before = last.count(k) ? last[k] : 0;
      std::printf("%10llu ", static_cast<unsigned long long>(v >= before ? v - before : 0));
    }
    std::printf("%9llu %9llu %9llu\n", static_cast<unsigned long long>(now["resident_pages"]),
                static_cast<unsigned long long>(now["free_frames"]),
                static_cast<unsigned long long>(swap_used));
    std::fflush(stdout);
    last = std::move(now);
  }
  return 0;
}

}  // namespace uswap::cli
