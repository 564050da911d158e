// CreateReclaimPolicy: the one table of policy names (Config::reclaim_policy,
// `uswap sim --policy`, `uswap bench --policy`).
#include <functional>

#include "mm/policy/arc.h"
#include "mm/policy/queue_policy.h"
#include "mm/policy/rdist.h"
#include "mm/policy/reclaim_policy.h"
#include "mm/policy/s3fifo.h"
#include "mm/policy/two_list.h"

namespace uswap {
namespace {

using Factory = std::function<std::unique_ptr<ReclaimPolicy>(const ReclaimPolicyOptions&)>;

struct Entry {
  const char* name;
  Factory create;
};

const std::vector<Entry>& Table() {
  static const std::vector<Entry> table = {
      {"lru",
       [](const ReclaimPolicyOptions& o) {
         return std::make_unique<QueuePolicy>(QueuePolicy::Kind::kLru, o);
       }},
      {"fifo",
       [](const ReclaimPolicyOptions& o) {
         return std::make_unique<QueuePolicy>(QueuePolicy::Kind::kFifo, o);
       }},
      {"clock",
       [](const ReclaimPolicyOptions& o) {
         return std::make_unique<QueuePolicy>(QueuePolicy::Kind::kClock, o);
       }},
      {"two-list",
       [](const ReclaimPolicyOptions& o) { return std::make_unique<TwoListPolicy>(o); }},
      {"arc", [](const ReclaimPolicyOptions& o) { return std::make_unique<ArcPolicy>(o); }},
      {"s3fifo", [](const ReclaimPolicyOptions& o) { return std::make_unique<S3FifoPolicy>(o); }},
      {"lirs",
       [](const ReclaimPolicyOptions& o) {
         return std::make_unique<RdistPolicy>(RdistPolicy::Variant::kLirs, o);
       }},
      {"rdist",
       [](const ReclaimPolicyOptions& o) {
         return std::make_unique<RdistPolicy>(RdistPolicy::Variant::kRdist, o);
       }},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& ReclaimPolicyNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Entry& e : Table()) v.push_back(e.name);
    return v;
  }();
  return names;
}

std::unique_ptr<ReclaimPolicy> CreateReclaimPolicy(const std::string& name,
                                                   const ReclaimPolicyOptions& options) {
  const std::string& want = name.empty() ? std::string("two-list") : name;
  for (const Entry& e : Table())
    if (want == e.name) return e.create(options);
  return nullptr;
}

}  // namespace uswap
