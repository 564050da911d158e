#include "uswap/stats.h"

#include <cstdio>
#include <sstream>

#include "mm/vmstat.h"

namespace uswap {

namespace {
// Counters only grow while a Space lives: the engine's event counters
// (mm/vmstat.h), copied one for one. Gauges are the state now.
#define USWAP_STATS_COUNTERS(X) USWAP_VMSTAT_ITEMS(X)
#define USWAP_STATS_GAUGES(X) \
  X(resident_pages) X(free_frames) X(budget_pages) X(swap_cache_pages) X(metadata_bytes)
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

}  // namespace uswap
