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

double MiB(uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

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

std::optional<double> UswapVs(const std::vector<RunRecord>& runs, const RunRecord& rec,
                              std::string_view engine) {
  const RunRecord* uswap = nullptr;
  const RunRecord* other = nullptr;
  for (const RunRecord& r : runs) {
    if (!SameGroup(r, rec) || !r.status.ok()) continue;
    if (r.engine == "uswap") uswap = &r;
    if (r.engine == engine) other = &r;
  }
  if (!uswap || !other) return std::nullopt;
  double k = AccessesPerSecond(other->result.workload);
  if (k <= 0) return std::nullopt;
  return AccessesPerSecond(uswap->result.workload) / k;
}

std::string ZswapNote(const EngineResult& r) {
  const ZswapFigures& z = r.zswap;
  if (z.compressor.empty()) return "";
  std::string out =
      Fmt("zswap %s: pool peak %.1f MiB (%s), ratio %.2f", z.compressor.c_str(),
          MiB(z.pool_peak_bytes), z.pool_charged ? "charged" : "uncharged", z.ratio());
  const EqualMemory& e = r.equal_memory;
  if (!e.asked) return out;
  if (!e.solved) return out + "; equal memory: " + e.why + ", so the same limit as uswap";
  out +=
      Fmt("; equal memory: limit %.1f + pool %.1f = %.1f MiB, budget %.1f MiB", MiB(r.limit_bytes),
          MiB(z.pool_peak_bytes), MiB(r.limit_bytes + z.pool_peak_bytes), MiB(e.budget_bytes));
  if (!e.why.empty()) out += " (" + e.why + ")";
  return out;
}

std::string TableHeader() {
  return Fmt("%-10s %-12s %3s %11s %8s %8s %8s %8s %8s %8s %8s %8s %7s %7s %8s", "pattern",
             "engine", "thr", "accesses/s", "MiB/s", "p50 us", "p99 us", "majflt", "minflt",
             "swapin", "swapout", "peak MiB", "fill s", "run s", "mismatch");
}

std::string TableRow(const RunRecord& rec) {
  std::string head =
      Fmt("%-10s %-12s %3u", PatternName(rec.spec.pattern), rec.engine.c_str(), rec.spec.threads);
  if (!rec.status.ok()) {
    return head + (rec.status.IsNotSupported() ? "  skipped: " : "  FAILED: ") +
           rec.status.message();
  }
  const WorkloadResult& w = rec.result.workload;
  const std::string peak =
      rec.result.peak_bytes ? Fmt("%.1f", rec.result.peak_bytes / 1048576.0) : std::string("-");
  std::string row =
      head + Fmt(" %11.0f %8.1f %8.2f %8.2f %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
                 " %8s %7.2f %7.2f %8" PRIu64,
                 AccessesPerSecond(w), MiBPerSecond(w), w.p50_us, w.p99_us, w.run.major_faults,
                 w.run.minor_faults, w.run.pswpin + w.run.zswpin, w.run.pswpout + w.run.zswpout,
                 peak.c_str(), w.fill_seconds, w.run_seconds, w.mismatches);
  if (w.mismatches) row += std::string("  first: ") + w.first_mismatch;
  std::string note = ZswapNote(rec.result);
  if (!rec.result.note.empty()) note += (note.empty() ? "" : "; ") + rec.result.note;
  if (!note.empty()) row += "  (" + note + ")";
  return row;
}

std::string RatioLines(const std::vector<RunRecord>& runs) {
  std::string out;
  for (const RunRecord& r : runs) {
    if (r.engine != "uswap") continue;
    for (const char* kernel : {"kernel", "kernel+zswap"}) {
      if (std::optional<double> ratio = UswapVs(runs, r, kernel)) {
        out += Fmt("%-10s threads %u: uswap/%s throughput %.2fx\n", PatternName(r.spec.pattern),
                   r.spec.threads, kernel, *ratio);
      }
    }
  }
  return out;
}

std::string JsonLine(const RunRecord& rec, const std::vector<RunRecord>& runs) {
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
  if (rec.result.limit_bytes) out += Fmt(",\"limit_bytes\":%" PRIu64, rec.result.limit_bytes);
  if (const ZswapFigures& z = rec.result.zswap; !z.compressor.empty()) {
    out += ",\"zswap_compressor\":" + JsonString(z.compressor);
    out += Fmt(",\"zswap_pool_peak_bytes\":%" PRIu64 ",\"zswap_stored_bytes\":%" PRIu64
               ",\"zswap_swapped_bytes\":%" PRIu64
               ",\"zswap_ratio\":%.3f"
               ",\"zswap_pool_charged\":%s,\"zswpin\":%" PRIu64 ",\"zswpout\":%" PRIu64
               ",\"fill_zswpout\":%" PRIu64,
               z.pool_peak_bytes, z.stored_bytes, z.swapped_bytes, z.ratio(),
               z.pool_charged ? "true" : "false", w.run.zswpin, w.run.zswpout, w.fill.zswpout);
  }
  if (const EqualMemory& e = rec.result.equal_memory; e.asked) {
    out += Fmt(",\"equal_memory\":%s,\"equal_memory_budget_bytes\":%" PRIu64
               ",\"equal_memory_total_bytes\":%" PRIu64
               ",\"equal_memory_pool_per_swapped\":%.4f"
               ",\"equal_memory_calibration_pool_bytes\":%" PRIu64,
               e.solved ? "true" : "false", e.budget_bytes,
               rec.result.limit_bytes + rec.result.zswap.pool_peak_bytes, e.pool_per_swapped,
               e.calibration_pool_bytes);
    if (!e.why.empty()) out += ",\"equal_memory_note\":" + JsonString(e.why);
  }
  out += Fmt(",\"fill_s\":%.3f,\"run_s\":%.3f,\"verify_s\":%.3f,\"verified_pages\":%" PRIu64
             ",\"full_checks\":%" PRIu64 ",\"mismatches\":%" PRIu64,
             w.fill_seconds, w.run_seconds, w.verify_seconds, w.verified_pages, w.full_checks,
             w.mismatches);
  if (w.mismatches) out += ",\"first_mismatch\":" + JsonString(w.first_mismatch);
  if (!rec.result.note.empty()) out += ",\"note\":" + JsonString(rec.result.note);
  if (rec.engine == "uswap") {
    if (std::optional<double> v = UswapVs(runs, rec, "kernel")) {
      out += Fmt(",\"vs_kernel\":%.3f", *v);
    }
    if (std::optional<double> v = UswapVs(runs, rec, "kernel+zswap")) {
      out += Fmt(",\"vs_kernel_zswap\":%.3f", *v);
    }
  }
  return out + "}";
}

}  // namespace uswap::bench
