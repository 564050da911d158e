#include "report.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace uswap::bench {
namespace {

std::string Fmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += Fmt("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool SameGroup(const RunRecord& a, const RunRecord& b) {
  return a.spec.pattern == b.spec.pattern && a.spec.threads == b.spec.threads;
}

}  // namespace

double AccessesPerSecond(const WorkloadResult& r) {
  return r.run_seconds > 0 ? static_cast<double>(r.accesses) / r.run_seconds : 0;
}

double MiBPerSecond(const WorkloadResult& r) {
  return AccessesPerSecond(r) * static_cast<double>(kPageSize) / (1 << 20);
}

std::optional<double> UswapVsKernel(const std::vector<RunRecord>& runs, const RunRecord& rec) {
  const RunRecord* uswap = nullptr;
  const RunRecord* kernel = nullptr;
  for (const RunRecord& r : runs) {
    if (!SameGroup(r, rec) || !r.status.ok()) continue;
    if (r.engine == "uswap") uswap = &r;
    if (r.engine == "kernel") kernel = &r;
  }
  if (!uswap || !kernel) return std::nullopt;
  double k = AccessesPerSecond(kernel->result.workload);
  if (k <= 0) return std::nullopt;
  return AccessesPerSecond(uswap->result.workload) / k;
}

std::string TableHeader() {
  return Fmt("%-10s %-6s %3s %11s %8s %8s %8s %8s %8s %8s %8s %8s %7s %7s %8s", "pattern", "engine",
             "thr", "accesses/s", "MiB/s", "p50 us", "p99 us", "majflt", "minflt", "swapin",
             "swapout", "peak MiB", "fill s", "run s", "mismatch");
}

std::string TableRow(const RunRecord& rec) {
  std::string head =
      Fmt("%-10s %-6s %3u", PatternName(rec.spec.pattern), rec.engine.c_str(), rec.spec.threads);
  if (!rec.status.ok()) {
    return head + (rec.status.IsNotSupported() ? "  skipped: " : "  FAILED: ") +
           rec.status.message();
  }
  const WorkloadResult& w = rec.result.workload;
  const std::string peak =
      rec.result.peak_bytes ? Fmt("%.1f", rec.result.peak_bytes / 1048576.0) : std::string("-");
  std::string row = head + Fmt(" %11.0f %8.1f %8.2f %8.2f %8" PRIu64 " %8" PRIu64 " %8" PRIu64
                               " %8" PRIu64 " %8s %7.2f %7.2f %8" PRIu64,
                               AccessesPerSecond(w), MiBPerSecond(w), w.p50_us, w.p99_us,
                               w.run.major_faults, w.run.minor_faults, w.run.pswpin, w.run.pswpout,
                               peak.c_str(), w.fill_seconds, w.run_seconds, w.mismatches);
  if (w.mismatches) row += std::string("  first: ") + w.first_mismatch;
  if (!rec.result.note.empty()) row += "  (" + rec.result.note + ")";
  return row;
}

std::string RatioLines(const std::vector<RunRecord>& runs) {
  std::string out;
  for (const RunRecord& r : runs) {
    if (r.engine != "uswap") continue;
    if (std::optional<double> ratio = UswapVsKernel(runs, r)) {
      out += Fmt("%-10s threads %u: uswap/kernel throughput %.2fx\n", PatternName(r.spec.pattern),
                 r.spec.threads, *ratio);
    }
  }
  return out;
}

std::string JsonLine(const RunRecord& rec, std::optional<double> vs_kernel) {
  const WorkloadSpec& s = rec.spec;
  std::string out = Fmt(
      "{\"engine\":%s,\"pattern\":\"%s\",\"threads\":%u,\"region_bytes\":%zu,\"ram_bytes\":%" PRIu64
      ",\"data\":\"%s\",\"seed\":%" PRIu64,
      JsonString(rec.engine).c_str(), PatternName(s.pattern), s.threads, s.region_bytes,
      rec.ram_bytes, DataKindName(s.data), s.seed);
  if (!rec.status.ok()) {
    out += rec.status.IsNotSupported() ? ",\"skipped\":true,\"reason\":" : ",\"error\":";
    return out + JsonString(rec.status.message()) + "}";
  }
  const WorkloadResult& w = rec.result.workload;
  out +=
      Fmt(",\"accesses\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64
          ",\"accesses_per_s\":%.1f,\"mib_per_s\":%.2f,\"p50_us\":%.3f,\"p99_us\":%.3f",
          w.accesses, w.reads, w.writes, AccessesPerSecond(w), MiBPerSecond(w), w.p50_us, w.p99_us);
  out += Fmt(",\"major_faults\":%" PRIu64 ",\"minor_faults\":%" PRIu64 ",\"pswpin\":%" PRIu64
             ",\"pswpout\":%" PRIu64 ",\"fill_major_faults\":%" PRIu64 ",\"fill_pswpin\":%" PRIu64
             ",\"fill_pswpout\":%" PRIu64,
             w.run.major_faults, w.run.minor_faults, w.run.pswpin, w.run.pswpout,
             w.fill.major_faults, w.fill.pswpin, w.fill.pswpout);
  out += Fmt(",\"peak_bytes\":%" PRIu64, rec.result.peak_bytes);
  out += Fmt(",\"fill_s\":%.3f,\"run_s\":%.3f,\"verify_s\":%.3f,\"verified_pages\":%" PRIu64
             ",\"full_checks\":%" PRIu64 ",\"mismatches\":%" PRIu64,
             w.fill_seconds, w.run_seconds, w.verify_seconds, w.verified_pages, w.full_checks,
             w.mismatches);
  if (w.mismatches) out += ",\"first_mismatch\":" + JsonString(w.first_mismatch);
  if (!rec.result.note.empty()) out += ",\"note\":" + JsonString(rec.result.note);
  if (vs_kernel) out += Fmt(",\"vs_kernel\":%.3f", *vs_kernel);
  return out + "}";
}

}  // namespace uswap::bench
