#include "uswap/stats.h"

#include <cstdio>
#include <sstream>

#include "mm/vmstat.h"

namespace uswap {

namespace {
// Counters only grow while a Space lives: the engine's event counters
// (mm/vmstat.h), copied one for one. Gauges are the state now.
#define USWAP_STATS_COUNTERS(X) \
  USWAP_VMSTAT_ITEMS(X)         \
  X(zswap_stored)               \
  X(zswap_loaded)               \
  X(zswap_written_back)         \
  X(zswap_rejected_poor)        \
  X(zswap_rejected_full) X(zswap_writeback_errors) X(zswap_corrupt) X(zswap_copied_in)
#define USWAP_STATS_GAUGES(X)                                                                    \
  X(resident_pages)                                                                              \
  X(free_frames)                                                                                 \
  X(budget_pages)                                                                                \
  X(frame_limit)                                                                                 \
  X(swap_cache_pages)                                                                            \
  X(mlocked_pages) X(metadata_bytes) X(zswap_objects) X(zswap_pool_pages) X(zswap_payload_bytes) \
      X(zswap_limit_pages) X(group_limit_bytes) X(group_usage_bytes) X(group_peak_bytes)         \
          X(group_members)
#define USWAP_STATS_SCALARS(X) USWAP_STATS_COUNTERS(X) USWAP_STATS_GAUGES(X)

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}
}  // namespace

Stats Stats::Since(const Stats& earlier) const {
  Stats d = *this;  // gauges and areas: as they are now
#define USWAP_DELTA(name) d.name = name >= earlier.name ? name - earlier.name : 0;
  USWAP_STATS_COUNTERS(USWAP_DELTA)
#undef USWAP_DELTA
  return d;
}

std::string Stats::ToText() const {
  std::ostringstream o;
#define USWAP_TEXT(name) o << #name << ' ' << name << '\n';
  USWAP_STATS_SCALARS(USWAP_TEXT)
#undef USWAP_TEXT
  for (const AreaStats& a : areas)
    o << "area " << a.path << " prio " << a.priority << " pages " << a.pages << " inuse "
      << a.inuse_pages << " bad " << a.bad_pages << '\n';
  return o.str();
}

std::string Stats::ToJson() const {
  std::ostringstream o;
  o << '{';
#define USWAP_JSON(name) o << '"' << #name << "\":" << name << ',';
  USWAP_STATS_SCALARS(USWAP_JSON)
#undef USWAP_JSON
  o << "\"areas\":[";
  for (size_t i = 0; i < areas.size(); i++) {
    const AreaStats& a = areas[i];
    o << (i ? "," : "") << "{\"path\":" << JsonString(a.path) << ",\"priority\":" << a.priority
      << ",\"pages\":" << a.pages << ",\"inuse_pages\":" << a.inuse_pages
      << ",\"bad_pages\":" << a.bad_pages << '}';
  }
  o << "]}";
  return o.str();
}

std::string Stats::ToPrometheus() const {
  std::ostringstream o;
#define USWAP_PROM_COUNTER(name) \
  o << "# TYPE uswap_" #name "_total counter\nuswap_" #name "_total " << name << '\n';
#define USWAP_PROM_GAUGE(name) \
  o << "# TYPE uswap_" #name " gauge\nuswap_" #name " " << name << '\n';
  USWAP_STATS_COUNTERS(USWAP_PROM_COUNTER)
  USWAP_STATS_GAUGES(USWAP_PROM_GAUGE)
#undef USWAP_PROM_COUNTER
#undef USWAP_PROM_GAUGE
  // Label values escape backslash, quote and newline.
  auto label = [](const std::string& path) {
    std::string out;
    for (char c : path) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out;
  };
  static constexpr struct {
    const char* name;
    uint64_t AreaStats::*value;
  } kAreaGauges[] = {{"pages", &AreaStats::pages},
                     {"inuse_pages", &AreaStats::inuse_pages},
                     {"bad_pages", &AreaStats::bad_pages}};
  for (const auto& g : kAreaGauges) {
    if (areas.empty()) break;
    o << "# TYPE uswap_swap_area_" << g.name << " gauge\n";
    for (const AreaStats& a : areas)
      o << "uswap_swap_area_" << g.name << "{path=\"" << label(a.path) << "\"} " << a.*g.value
        << '\n';
  }
  return o.str();
}

}  // namespace uswap
