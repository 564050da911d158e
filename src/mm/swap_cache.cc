#include "mm/swap_cache.h"

#include "base/check.h"

namespace uswap {

SwapCache::SwapCache() : shards_(std::make_unique<Shard[]>(kShards)) {}
SwapCache::~SwapCache() = default;

void SwapCache::Add(SwapEntry e, IoKind kind) {
  Shard& s = ShardOf(e);
  MutexLock l(&s.mu);
  auto [it, inserted] = s.map.try_emplace(e.value());
  USWAP_CHECK_MSG(inserted || it->second.done, "swap cache: I/O already in flight on slot");
  it->second.kind = kind;
  it->second.done = false;
  it->second.ok = false;
  it->second.refs += 1;
}

bool SwapCache::Ref(SwapEntry e) {
  Shard& s = ShardOf(e);
  MutexLock l(&s.mu);
  auto it = s.map.find(e.value());
  if (it == s.map.end() || it->second.done) return false;
  it->second.refs++;
  return true;
}

bool SwapCache::Wait(SwapEntry e) {
  Shard& s = ShardOf(e);
  MutexLock l(&s.mu);
  // Looked up again after every wake-up: an insertion into the shard while
  // we slept may have rehashed the map, invalidating iterators (audit F16).
  // Our reference keeps the node in the map.
  for (;;) {
    auto it = s.map.find(e.value());
    USWAP_CHECK(it != s.map.end());
    if (it->second.done) {
      bool ok = it->second.ok;
      if (--it->second.refs == 0) s.map.erase(it);
      return ok;
    }
    s.cv.Wait();
  }
}

bool SwapCache::Contains(SwapEntry e) const {
  Shard& s = ShardOf(e);
  MutexLock l(&s.mu);
  auto it = s.map.find(e.value());
  return it != s.map.end() && !it->second.done;
}

void SwapCache::Complete(SwapEntry e, bool ok) {
  Shard& s = ShardOf(e);
  {
    MutexLock l(&s.mu);
    auto it = s.map.find(e.value());
    USWAP_CHECK(it != s.map.end() && !it->second.done);
    it->second.done = true;
    it->second.ok = ok;
    if (--it->second.refs == 0) {
      s.map.erase(it);
      return;
    }
  }
  s.cv.SignalAll();
}

uint64_t SwapCache::size() const {
  uint64_t n = 0;
  for (int i = 0; i < kShards; i++) {
    MutexLock l(&shards_[i].mu);
    n += shards_[i].map.size();
  }
  return n;
}

}  // namespace uswap
