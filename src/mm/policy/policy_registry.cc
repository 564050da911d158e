// CreateReclaimPolicy: the one table of policy names (Config::reclaim_policy,
// `uswap sim --policy`, `uswap bench --policy`).
#include "mm/policy/arc.h"
#include "mm/policy/queue_policy.h"
#include "mm/policy/rdist.h"
#include "mm/policy/reclaim_policy.h"
#include "mm/policy/s3fifo.h"
#include "mm/policy/two_list.h"

namespace uswap {
namespace {

enum class Id { kLru, kFifo, kClock, kTwoList, kArc, kS3Fifo, kLirs, kRdist };

struct Entry {
  const char* name;
  Id id;
};

constexpr Entry kTable[] = {
    {"lru", Id::kLru}, {"fifo", Id::kFifo},     {"clock", Id::kClock}, {"two-list", Id::kTwoList},
    {"arc", Id::kArc}, {"s3fifo", Id::kS3Fifo}, {"lirs", Id::kLirs},   {"rdist", Id::kRdist},
};

std::unique_ptr<ReclaimPolicy> Make(Id id, const ReclaimPolicyOptions& o) {
  switch (id) {
    case Id::kLru:
      return std::make_unique<QueuePolicy>(QueuePolicy::Kind::kLru, o);
    case Id::kFifo:
      return std::make_unique<QueuePolicy>(QueuePolicy::Kind::kFifo, o);
    case Id::kClock:
      return std::make_unique<QueuePolicy>(QueuePolicy::Kind::kClock, o);
    case Id::kTwoList:
      return std::make_unique<TwoListPolicy>(o);
    case Id::kArc:
      return std::make_unique<ArcPolicy>(o);
    case Id::kS3Fifo:
      return std::make_unique<S3FifoPolicy>(o);
    case Id::kLirs:
      return std::make_unique<RdistPolicy>(RdistPolicy::Variant::kLirs, o);
    case Id::kRdist:
      return std::make_unique<RdistPolicy>(RdistPolicy::Variant::kRdist, o);
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& ReclaimPolicyNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Entry& e : kTable) v.push_back(e.name);
    return v;
  }();
  return names;
}

std::unique_ptr<ReclaimPolicy> CreateReclaimPolicy(const std::string& name,
                                                   const ReclaimPolicyOptions& options) {
  const std::string& want = name.empty() ? std::string("two-list") : name;
  for (const Entry& e : kTable)
    if (want == e.name) return Make(e.id, options);
  return nullptr;
}

}  // namespace uswap
