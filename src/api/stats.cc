#include "uswap/stats.h"

#include <cstdio>
#include <sstream>

namespace uswap {

namespace {
#define USWAP_STATS_SCALARS(X)                                                                  \
  X(pgfault)                                                                                    \
  X(pgmajfault)                                                                                 \
  X(pgminorfault) X(zero_page_faults) X(wp_faults) X(pswpin) X(pswpout) X(pgscan) X(pgsteal)    \
      X(pgactivate) X(pgdeactivate) X(pgrotated) X(clean_drops) X(zero_drops) X(kswapd_wakeups) \
          X(direct_reclaims) X(swap_cache_hits) X(readahead_pages) X(readahead_hits)            \
              X(write_errors) X(read_errors) X(checksum_errors) X(hard_limit_faults)            \
                  X(memfd_errors) X(budget_overshoot_pages) X(resident_pages) X(free_frames)    \
                      X(budget_pages) X(swap_cache_pages) X(metadata_bytes)

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
