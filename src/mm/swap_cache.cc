#include "mm/swap_cache.h"

#include "base/check.h"

namespace uswap {

SwapCache::SwapCache() : shards_(std::make_unique<Shard[]>(kShards)) {}
SwapCache::~SwapCache() = default;

void SwapCache::Add(SwapEntry e, IoKind kind) {
  Shard& s = ShardOf(e);
  std::lock_guard<std::mutex> l(s.mu);
  auto [it, inserted] = s.map.try_emplace(e.value());
  USWAP_CHECK_MSG(inserted || it->second.done, "swap cache: I/O already in flight on slot");
  it->second.kind = kind;
  it->second.done = false;
  it->second.ok = false;
  it->second.refs += 1;
}

bool SwapCache::Ref(SwapEntry e) {
  Shard& s = ShardOf(e);
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.map.find(e.value());
  if (it == s.map.end() || it->second.done) return false;
  it->second.refs++;
  return true;
}

bool SwapCache::Wait(SwapEntry e) {
  Shard& s = ShardOf(e);
  std::unique_lock<std::mutex> l(s.mu);
  auto it = s.map.find(e.value());
  USWAP_CHECK(it != s.map.end());
  s.cv.wait(l, [&] { return it->second.done; });
  bool ok = it->second.ok;
  if (--it->second.refs == 0) s.map.erase(it);
  return ok;
}

void SwapCache::Complete(SwapEntry e, bool ok) {
  Shard& s = ShardOf(e);
  {
    std::lock_guard<std::mutex> l(s.mu);
    auto it = s.map.find(e.value());
    USWAP_CHECK(it != s.map.end() && !it->second.done);
    it->second.done = true;
    it->second.ok = ok;
    if (--it->second.refs == 0) {
      s.map.erase(it);
      return;
    }
  }
  s.cv.notify_all();
}

uint64_t SwapCache::size() const {
  uint64_t n = 0;
  for (int i = 0; i < kShards; i++) {
    std::lock_guard<std::mutex> l(shards_[i].mu);
    n += shards_[i].map.size();
  }
  return n;
}

}  // namespace uswap
