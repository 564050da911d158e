#include "bench/harness/plot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

extern char** environ;

namespace uswap::bench {

namespace {

// gnuplot strings are single-quoted: a quote inside is doubled.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string PlotScript(const std::string& output, bool png, const std::string& title,
                       size_t engines, const std::string& throughput_data,
                       const std::string& latency_data) {
  std::ostringstream s;
  s << (png ? "set terminal pngcairo size 1200,500 font 'sans,10'\n"
            : "set terminal svg size 1200,500 dynamic font 'sans,11'\n");
  s << "set output " << Quote(output) << "\n"
    << "set termoption noenhanced\n"
    << "set datafile missing 'NaN'\n"
    << "set multiplot layout 1,2 title " << Quote(title) << "\n"
    << "set style data histograms\n"
    << "set style histogram clustered gap 1\n"
    << "set style fill solid 0.85 border -1\n"
    << "set boxwidth 0.9\n"
    << "set grid ytics\n"
    << "set key top right\n"
    << "set xtics rotate by -25 nomirror\n"
    << "set logscale y\n"
    << "set format y '%.0s%c'\n"
    << "set ylabel 'accesses/s (4 KiB each, log scale)'\n"
    << "set title 'throughput (median run)'\n"
    << "plot for [c=2:" << engines + 1 << "] " << Quote(throughput_data)
    << " using c:xtic(1) title columnheader(c)\n"
    << "set format y '%g'\n"
    << "set ylabel 'access latency (us, sampled, log scale)'\n"
    << "set title 'latency: p50 and p99'\n"
    << "plot for [c=2:" << 2 * engines + 1 << "] " << Quote(latency_data)
    << " using c:xtic(1) title columnheader(c)\n"
    << "unset multiplot\n";
  return s.str();
}

Status CheckPlotPath(const std::string& path) {
  if (path.size() > 4 && (EndsWith(path, ".svg") || EndsWith(path, ".png"))) return Status::OK();
  return Status::InvalidArgument("--plot needs a FILE.svg or FILE.png, not '" + path + "'");
}

Status WritePlot(const std::vector<RunRecord>& runs, const std::string& path,
                 const std::string& title) {
  USWAP_RETURN_IF_ERROR(CheckPlotPath(path));
  const bool png = EndsWith(path, ".png");
  // Rows: pattern/threads in the order run; columns: engines in the order run.
  std::vector<std::string> cases, engines;
  std::map<std::pair<std::string, std::string>, const RunRecord*> at;
  for (const RunRecord& r : runs) {
    if (!r.status.ok()) continue;
    const std::string c =
        std::string(PatternName(r.spec.pattern)) + " " + std::to_string(r.spec.threads) + "t";
    if (std::find(cases.begin(), cases.end(), c) == cases.end()) cases.push_back(c);
    if (std::find(engines.begin(), engines.end(), r.engine) == engines.end())
      engines.push_back(r.engine);
    at[{c, r.engine}] = &r;
  }
  if (cases.empty()) return Status::InvalidArgument("--plot: no run succeeded, nothing to draw");

  char tmpl[] = "/tmp/uswap-plot.XXXXXX";
  if (!::mkdtemp(tmpl)) return Status::FromErrno("mkdtemp", errno);
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string tput = dir + "/throughput.dat", lat = dir + "/latency.dat",
                    script = dir + "/plot.gp";
  {
    std::ofstream t(tput), l(lat), g(script);
    t << "case";
    l << "case";
    for (const std::string& e : engines) {
      t << " " << e;
      l << " " << e << "-p50 " << e << "-p99";
    }
    t << "\n";
    l << "\n";
    for (const std::string& c : cases) {
      std::string label = c;
      std::replace(label.begin(), label.end(), ' ', '/');
      t << label;
      l << label;
      for (const std::string& e : engines) {
        auto it = at.find({c, e});
        if (it == at.end()) {
          t << " NaN";
          l << " NaN NaN";
          continue;
        }
        const WorkloadResult& w = it->second->result.workload;
        t << " " << AccessesPerSecond(w);
        l << " " << std::max(w.p50_us, 0.01) << " " << std::max(w.p99_us, 0.01);
      }
      t << "\n";
      l << "\n";
    }
    g << PlotScript(path, png, title, engines.size(), tput, lat);
    if (!t || !l || !g) return Status::IOError("cannot write the plot's data in " + dir);
  }
  pid_t pid;
  char arg0[] = "gnuplot";
  std::string script_arg = script;
  char* argv[] = {arg0, script_arg.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  int err = ::posix_spawnp(&pid, "gnuplot", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err == ENOENT)
    return Status::NotFound(
        "--plot needs gnuplot, which is not installed (apt-get install gnuplot-nox)");
  if (err) return Status::FromErrno("starting gnuplot", err);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return Status::IOError("gnuplot failed drawing " + path + " (exit status " +
                           std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) +
                           ")");
  return Status::OK();
}

}  // namespace uswap::bench
