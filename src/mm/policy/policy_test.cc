// Tests of the reclaim policies and the simulator (doc/policies.md):
//   - one behavioural suite that every policy passes (CacheLib's
//     MMTypeTest: the same verbs, the same expectations);
//   - OPT against an exhaustive search on small random traces;
//   - every policy against a second, plain implementation (std::list, page
//     numbers instead of frames and shadows), reference by reference;
//   - hand-worked traces, scan resistance, the simulator's faults mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "mm/policy/list_policy.h"
#include "mm/policy/rdist.h"
#include "mm/policy/reclaim_policy.h"
#include "mm/policy/simulator.h"
#include "mm/policy/trace.h"

namespace uswap {
namespace {

Trace MakeTrace(const std::vector<uint64_t>& pages) {
  std::string text;
  for (uint64_t p : pages) text += std::to_string(p) + "\n";
  Result<Trace> t = ParseTrace(text, TraceFormat::kText);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

// Random traces with locality: a mix of a hot set, a drifting window and
// one-time pages, so every policy's branches run.
std::vector<uint64_t> RandomPages(uint32_t seed, size_t n, uint64_t universe) {
  std::mt19937 rng(seed);
  std::vector<uint64_t> out;
  uint64_t window = 0, fresh = universe;
  for (size_t i = 0; i < n; i++) {
    unsigned kind = rng() % 10;
    if (kind < 4)
      out.push_back(rng() % std::max<uint64_t>(1, universe / 8));  // hot
    else if (kind < 8)
      out.push_back((window + rng() % 16) % universe);  // drifting window
    else if (kind < 9)
      out.push_back(fresh++);  // one-time
    else
      out.push_back(rng() % universe);
    if (rng() % 50 == 0) window += 7;
  }
  return out;
}

// --------------------------------------------------------------------------
// The behavioural suite, run for every policy name.

class PolicyTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    policy_ = CreateReclaimPolicy(GetParam(), {});
    ASSERT_NE(policy_, nullptr);
    frames_.resize(64);
    for (size_t i = 0; i < frames_.size(); i++) frames_[i].index = i;
  }
  void AddAll(size_t n) {
    for (size_t i = 0; i < n; i++) policy_->Add(&frames_[i], true, 0);
  }
  // Unmaps up to n frames as the engine does.
  size_t Age(size_t n) {
    std::vector<PageFrame*> out;
    policy_->Deactivate(n, out);
    for (PageFrame* f : out) policy_->Putback(f, false);
    return out.size();
  }
  // Evicts one frame as the engine's reclaim loop does; nullptr if none.
  PageFrame* EvictOne() {
    for (int round = 0; round < 1000; round++) {
      std::vector<PageFrame*> v;
      if (policy_->IsolateVictims(1, v) == 1) {
        EXPECT_EQ(v[0]->list, 0);
        EXPECT_NE(policy_->Evicted(v[0]), 0u);
        return v[0];
      }
      if (Age(1) == 0) return nullptr;
    }
    return nullptr;
  }
  uint64_t Listed() {
    ReclaimPolicyStats s = policy_->Stats();
    return s.active + s.inactive;
  }
  std::unique_ptr<ReclaimPolicy> policy_;
  std::vector<PageFrame> frames_;
};

TEST_P(PolicyTest, NameRoundTrips) { EXPECT_EQ(GetParam(), policy_->name()); }

TEST_P(PolicyTest, AddCountsFrames) {
  AddAll(10);
  EXPECT_EQ(Listed(), 10u);
  for (size_t i = 0; i < 10; i++) EXPECT_NE(frames_[i].list, 0);
}

TEST_P(PolicyTest, DeactivateIsolatesAndPutbackReturns) {
  AddAll(10);
  std::vector<PageFrame*> out;
  size_t n = policy_->Deactivate(3, out);
  EXPECT_EQ(n, out.size());
  EXPECT_GE(n, 1u);
  for (PageFrame* f : out) EXPECT_EQ(f->list, 0);
  EXPECT_EQ(Listed(), 10 - n);
  for (PageFrame* f : out) policy_->Putback(f, false);
  EXPECT_EQ(Listed(), 10u);
  EXPECT_GE(policy_->Stats().inactive, 1u);
}

TEST_P(PolicyTest, EveryFrameCanBeEvictedOnce) {
  AddAll(20);
  std::set<PageFrame*> seen;
  for (int i = 0; i < 20; i++) {
    PageFrame* f = EvictOne();
    ASSERT_NE(f, nullptr) << "after " << i << " evictions";
    EXPECT_TRUE(seen.insert(f).second) << "evicted twice";
  }
  EXPECT_EQ(EvictOne(), nullptr);
  EXPECT_EQ(Listed(), 0u);
  EXPECT_EQ(policy_->Stats().reclaimed, 20u);
}

TEST_P(PolicyTest, RemoveIsReasonRemovedAndNoopWhenIsolated) {
  AddAll(4);
  policy_->Remove(&frames_[0]);
  EXPECT_EQ(frames_[0].list, 0);
  EXPECT_EQ(policy_->Stats().removed, 1u);
  ASSERT_TRUE(policy_->Isolate(&frames_[1]));
  EXPECT_FALSE(policy_->Isolate(&frames_[1]));  // another reclaimer has it
  policy_->Remove(&frames_[1]);                 // isolated: no-op
  EXPECT_EQ(policy_->Stats().removed, 1u);
  policy_->Putback(&frames_[1], false);
  EXPECT_NE(frames_[1].list, 0);
  EXPECT_EQ(Listed(), 3u);
}

TEST_P(PolicyTest, TouchedWhileIsolatedGoesBackActive) {
  AddAll(8);
  ASSERT_TRUE(policy_->Isolate(&frames_[3]));
  uint64_t active = policy_->Stats().active;
  EXPECT_FALSE(policy_->MarkAccessed(&frames_[3]));  // isolated: only remembered
  policy_->Putback(&frames_[3], false);
  EXPECT_EQ(policy_->Stats().active, active + 1);
}

TEST_P(PolicyTest, ShadowsCountRefaults) {
  AddAll(6);
  PageFrame* g = EvictOne();  // EvictOne checks the shadow is not 0
  ASSERT_NE(g, nullptr);
  *g = PageFrame{};
  policy_->Add(g, true, ListPolicy::PackShadow(1, 0));
  EXPECT_EQ(policy_->Stats().refaults, 1u);
  EXPECT_EQ(Listed(), 6u);
}

TEST_P(PolicyTest, DeactivateTargetIsReachable) {
  AddAll(40);
  // Aging as the engine does reaches the target, then asks for nothing.
  for (int i = 0; i < 100 && policy_->DeactivateTarget(); i++) Age(policy_->DeactivateTarget());
  EXPECT_EQ(policy_->DeactivateTarget(), 0u);
}

TEST_P(PolicyTest, ConcurrentCallersKeepTheListsWhole) {
  // Four threads own disjoint frames and run the engine's verbs on them
  // (the lock is what ThreadSanitizer checks); the count must add up.
  std::vector<PageFrame> frames(4 * 64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int k = 0; k < 64; k++) policy_->Add(&frames[t * 64 + k], true, 0);
      for (int i = 0; i < 2000; i++) {
        PageFrame* f = &frames[t * 64 + rng() % 64];
        switch (rng() % 4) {
          case 0:
            policy_->MarkAccessed(f);
            break;
          case 1:
            if (policy_->Isolate(f)) policy_->Putback(f, rng() % 2);
            break;
          case 2:
            (void)policy_->DeactivateTarget();
            break;
          case 3:
            (void)policy_->Stats();
            break;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(Listed(), frames.size());
}

TEST_P(PolicyTest, NeverBeatsOpt) {
  for (uint32_t seed = 1; seed <= 5; seed++) {
    Trace t = MakeTrace(RandomPages(seed, 3000, 80));
    for (size_t cache : {1, 7, 30}) {
      for (Observe o : {Observe::kAll, Observe::kFaults}) {
        std::unique_ptr<ReclaimPolicy> p = CreateReclaimPolicy(GetParam(), {});
        SimResult r = Simulate(t, cache, *p, o);
        EXPECT_GE(r.misses, SimulateOpt(t, cache).misses) << "seed " << seed << " cache " << cache;
        EXPECT_LE(r.misses, r.references);
        EXPECT_GE(r.misses, r.distinct);
        if (o == Observe::kAll) {
          EXPECT_EQ(r.minor_faults, 0u);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, PolicyTest, ::testing::ValuesIn(ReclaimPolicyNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(PolicyRegistry, UnknownNameIsNull) {
  EXPECT_EQ(CreateReclaimPolicy("opt", {}), nullptr);  // simulator only
  EXPECT_EQ(CreateReclaimPolicy("nope", {}), nullptr);
  ASSERT_NE(CreateReclaimPolicy("", {}), nullptr);
  EXPECT_STREQ(CreateReclaimPolicy("", {})->name(), "two-list");
}

TEST(PageFrame, StaysFortyBytes) { EXPECT_EQ(sizeof(PageFrame), 40u); }

// --------------------------------------------------------------------------
// OPT against exhaustive search.

// The fewest misses any replacement choice gives, by trying them all.
size_t ExhaustiveMin(const std::vector<uint32_t>& refs, size_t i, std::vector<uint32_t> cache,
                     size_t cap) {
  size_t misses = 0;
  for (; i < refs.size(); i++) {
    if (std::find(cache.begin(), cache.end(), refs[i]) != cache.end()) continue;
    misses++;
    if (cache.size() < cap) {
      cache.push_back(refs[i]);
      continue;
    }
    size_t best = SIZE_MAX;
    for (size_t k = 0; k < cache.size(); k++) {
      std::vector<uint32_t> c = cache;
      c[k] = refs[i];
      best = std::min(best, ExhaustiveMin(refs, i + 1, c, cap));
    }
    return misses + best;
  }
  return misses;
}

TEST(Opt, MatchesExhaustiveSearch) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; trial++) {
    std::vector<uint64_t> pages(4 + rng() % 9);
    for (uint64_t& p : pages) p = rng() % 6;
    Trace t = MakeTrace(pages);
    for (size_t cap = 1; cap <= 3; cap++)
      EXPECT_EQ(SimulateOpt(t, cap).misses, ExhaustiveMin(t.refs, 0, {}, cap))
          << "trial " << trial << " cache " << cap;
  }
}

TEST(Opt, HandWorked) {
  // Belady's example, cache 3: 4 evicts 3 (used latest), 5 evicts 4, 3
  // evicts 1 (1 and 2 never used again: the lower page), 4 evicts 2.
  Trace t = MakeTrace({1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5});
  std::vector<uint8_t> miss;
  SimResult r = SimulateOpt(t, 3, &miss);
  EXPECT_EQ(r.misses, 7u);
  EXPECT_EQ(miss, (std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0}));
  // Ties among pages never used again: the lowest page goes first.
  Trace u = MakeTrace({9, 8, 7, 1, 9});
  SimulateOpt(u, 3, &miss);
  EXPECT_EQ(miss, (std::vector<uint8_t>{1, 1, 1, 1, 0}));  // evicts 7, keeps 9
}

// --------------------------------------------------------------------------
// Plain reference implementations, in the simulator's all-references mode
// (simulator.h): pages, std::list and maps; front = newest.

class PlainModel {
 public:
  virtual ~PlainModel() = default;
  virtual bool Resident(uint64_t p) const = 0;
  virtual void Hit(uint64_t p) = 0;
  virtual void Miss(uint64_t p, size_t cap, size_t resident) = 0;  // evict if full, then add
};

std::vector<uint8_t> RunPlain(PlainModel& m, const std::vector<uint64_t>& pages, size_t cap) {
  std::vector<uint8_t> miss;
  size_t resident = 0;
  for (uint64_t p : pages) {
    if (m.Resident(p)) {
      m.Hit(p);
      miss.push_back(0);
      continue;
    }
    miss.push_back(1);
    m.Miss(p, cap, resident);
    resident = std::min(cap, resident + 1);
  }
  return miss;
}

void Erase(std::list<uint64_t>& l, uint64_t p) { l.erase(std::find(l.begin(), l.end(), p)); }
bool Has(const std::list<uint64_t>& l, uint64_t p) {
  return std::find(l.begin(), l.end(), p) != l.end();
}

struct PlainLru : PlainModel {
  std::list<uint64_t> q;
  bool fifo = false;
  bool Resident(uint64_t p) const override { return Has(q, p); }
  void Hit(uint64_t p) override {
    if (fifo) return;
    Erase(q, p);
    q.push_front(p);
  }
  void Miss(uint64_t p, size_t cap, size_t resident) override {
    if (resident == cap) q.pop_back();
    q.push_front(p);
  }
};

struct PlainClock : PlainModel {
  std::deque<std::pair<uint64_t, bool>> q;  // front = oldest (the hand)
  bool Resident(uint64_t p) const override {
    for (auto& e : q)
      if (e.first == p) return true;
    return false;
  }
  void Hit(uint64_t p) override {
    for (auto& e : q)
      if (e.first == p) e.second = true;
  }
  void Miss(uint64_t p, size_t cap, size_t resident) override {
    if (resident == cap) {
      while (q.front().second) {
        auto e = q.front();
        q.pop_front();
        q.push_back({e.first, false});
      }
      q.pop_front();
    }
    q.push_back({p, false});
  }
};

struct PlainTwoList : PlainModel {
  std::list<uint64_t> active, inactive;
  bool Resident(uint64_t p) const override { return Has(active, p) || Has(inactive, p); }
  void Hit(uint64_t p) override {
    if (!Has(inactive, p)) return;
    Erase(inactive, p);
    active.push_front(p);
  }
  size_t Refill(size_t n) {
    size_t k = 0;
    for (; k < n && !active.empty(); k++) {
      inactive.push_front(active.back());
      active.pop_back();
    }
    return k;
  }
  void Miss(uint64_t p, size_t cap, size_t resident) override {
    if (resident == cap) {
      size_t total = active.size() + inactive.size(),
             want = total * ReclaimPolicyOptions{}.inactive_percent / 100;
      if (inactive.size() < want) Refill(std::min<size_t>(want - inactive.size(), 4));
      if (inactive.empty()) Refill(1);
      inactive.pop_back();
    }
    active.push_front(p);
  }
};

struct PlainArc : PlainModel {
  std::list<uint64_t> t1, t2, b1, b2;
  size_t p = 0, c = 0;
  bool Resident(uint64_t x) const override { return Has(t1, x) || Has(t2, x); }
  void Hit(uint64_t x) override {
    if (Has(t1, x))
      Erase(t1, x);
    else
      Erase(t2, x);
    t2.push_front(x);
  }
  void Trim() {
    while (!b1.empty() && t1.size() + b1.size() > c) b1.pop_back();
    while (!b2.empty() && t1.size() + t2.size() + b1.size() + b2.size() > 2 * c) b2.pop_back();
  }
  void Miss(uint64_t x, size_t cap, size_t resident) override {
    c = std::max(c, std::min(cap, resident + 1));
    if (resident == cap) {
      if (!t1.empty() && (t1.size() > p || t2.empty())) {
        b1.push_front(t1.back());
        t1.pop_back();
      } else {
        b2.push_front(t2.back());
        t2.pop_back();
      }
      Trim();
    }
    size_t s1 = b1.size(), s2 = b2.size();
    if (Has(b1, x)) {
      p = std::min(c, p + std::max<size_t>(1, s2 / s1));
      Erase(b1, x);
      t2.push_front(x);
    } else if (Has(b2, x)) {
      size_t d = std::max<size_t>(1, s1 / s2);
      p = p > d ? p - d : 0;
      Erase(b2, x);
      t2.push_front(x);
    } else {
      t1.push_front(x);
    }
    Trim();
  }
};

struct PlainS3Fifo : PlainModel {
  std::list<uint64_t> s, m, g;  // front = newest
  std::map<uint64_t, unsigned> freq;
  size_t c = 0;
  bool Resident(uint64_t x) const override { return Has(s, x) || Has(m, x); }
  void Hit(uint64_t x) override { freq[x] = std::min(freq[x] + 1, 3u); }
  void Miss(uint64_t x, size_t cap, size_t resident) override {
    c = std::max(c, std::min(cap, resident + 1));
    if (resident == cap) {
      for (;;) {
        if (!s.empty() && (s.size() * 10 >= c || m.empty())) {
          uint64_t t = s.back();
          s.pop_back();
          if (freq[t] > 0) {
            freq[t] = 0;
            m.push_front(t);
            continue;
          }
          g.push_front(t);
          while (g.size() > std::max<size_t>(1, c - c / 10)) g.pop_back();
          break;
        }
        uint64_t t = m.back();
        m.pop_back();
        if (freq[t] > 0) {
          freq[t]--;
          m.push_front(t);
          continue;
        }
        break;
      }
    }
    freq[x] = 0;
    if (Has(g, x)) {
      Erase(g, x);
      m.push_front(x);
    } else {
      s.push_front(x);
    }
  }
};

struct PlainRdist : PlainModel {
  static constexpr uint32_t kMask = ListPolicy::kStampMask;
  std::list<uint64_t> s, m;            // front = most recent
  std::map<uint64_t, uint32_t> stamp;  // last visible use (resident and evicted)
  std::map<uint64_t, bool> demoted, has_shadow;
  std::map<uint64_t, unsigned> bits;  // shadow bits of the last eviction
  uint32_t clock = 0;                 // ticks at every miss and hit
  size_t c = 0;
  size_t s_extra = 0;
  bool adaptive = true;
  unsigned small_percent = RdistPolicy::SmallPercent(RdistPolicy::Variant::kRdist);
  size_t MTarget() const {
    size_t floor = std::max<size_t>(1, c * small_percent / 100);
    floor = std::max(floor, std::min(RdistPolicy::kMinSmall, c / 8));
    return c - std::min(floor + s_extra, std::max<size_t>(1, c / 2));
  }
  uint32_t MTailAge() const {
    return m.empty() ? UINT32_MAX : (clock - stamp.at(m.back())) & kMask;
  }
  bool Resident(uint64_t x) const override { return Has(s, x) || Has(m, x); }
  void Place(uint64_t x, uint32_t r) {
    if (m.size() >= MTarget() && r > MTailAge()) {
      s.push_front(x);
      return;
    }
    demoted[x] = false;
    m.push_front(x);
    while (m.size() > MTarget()) {
      uint64_t t = m.back();
      m.pop_back();
      demoted[t] = true;
      s.push_front(t);
    }
  }
  void Hit(uint64_t x) override {
    uint32_t r = (clock - stamp[x]) & kMask;
    stamp[x] = ++clock & kMask;
    if (Has(m, x)) {
      Erase(m, x);
      m.push_front(x);
      return;
    }
    Erase(s, x);
    Place(x, r);
  }
  void Miss(uint64_t x, size_t cap, size_t resident) override {
    c = std::max(c, std::min(cap, resident + 1));
    if (resident == cap) {
      std::list<uint64_t>& from = s.empty() ? m : s;
      uint64_t v = from.back();
      from.pop_back();
      has_shadow[v] = true;  // the shadow keeps stamp[v]
      bits[v] = (&from == &m ? 1 : 0) | (demoted[v] ? 2 : 0);
    }
    uint32_t r = has_shadow[x] ? (clock - stamp[x]) & kMask : UINT32_MAX;
    if (adaptive && has_shadow[x] && (m.size() < MTarget() || r <= MTailAge())) {
      size_t step = std::max<size_t>(1, (c - MTarget()) / RdistPolicy::kStepDivisor);
      if (bits[x])
        s_extra -= std::min(s_extra, step);
      else
        s_extra = std::min(s_extra + step, c / 2);
    }
    demoted[x] = false;
    stamp[x] = ++clock & kMask;
    Place(x, r);
  }
};

std::unique_ptr<PlainModel> PlainFor(const std::string& name) {
  if (name == "lru") return std::make_unique<PlainLru>();
  if (name == "fifo") {
    auto m = std::make_unique<PlainLru>();
    m->fifo = true;
    return m;
  }
  if (name == "clock") return std::make_unique<PlainClock>();
  if (name == "two-list") return std::make_unique<PlainTwoList>();
  if (name == "arc") return std::make_unique<PlainArc>();
  if (name == "s3fifo") return std::make_unique<PlainS3Fifo>();
  if (name == "rdist") return std::make_unique<PlainRdist>();
  if (name == "lirs") {
    auto m = std::make_unique<PlainRdist>();
    m->adaptive = false;
    m->small_percent = RdistPolicy::SmallPercent(RdistPolicy::Variant::kLirs);
    return m;
  }
  return nullptr;
}

TEST_P(PolicyTest, MatchesPlainImplementationReferenceByReference) {
  for (uint32_t seed = 1; seed <= 6; seed++) {
    std::vector<uint64_t> pages = RandomPages(seed, 2500, 60);
    Trace t = MakeTrace(pages);
    for (size_t cache : {1, 2, 5, 13, 40}) {
      std::unique_ptr<PlainModel> plain = PlainFor(GetParam());
      ASSERT_NE(plain, nullptr) << "no plain implementation for " << GetParam();
      std::vector<uint8_t> want = RunPlain(*plain, pages, cache);
      std::unique_ptr<ReclaimPolicy> p = CreateReclaimPolicy(GetParam(), {});
      std::vector<uint8_t> got;
      Simulate(t, cache, *p, Observe::kAll, &got);
      auto diff = std::mismatch(want.begin(), want.end(), got.begin());
      ASSERT_TRUE(diff.first == want.end())
          << "seed " << seed << " cache " << cache << ": first difference at reference "
          << (diff.first - want.begin()) << " (page " << pages[diff.first - want.begin()] << ")";
    }
  }
}

// --------------------------------------------------------------------------
// Hand-worked traces (cache 3, every reference seen).

std::vector<uint8_t> Misses(const std::string& policy, const std::vector<uint64_t>& pages,
                            size_t cache) {
  ReclaimPolicyOptions options;
  options.capacity = cache;
  std::unique_ptr<ReclaimPolicy> p = CreateReclaimPolicy(policy, options);
  std::vector<uint8_t> miss;
  Simulate(MakeTrace(pages), cache, *p, Observe::kAll, &miss);
  return miss;
}

const std::vector<uint64_t> kHand = {1, 2, 3, 1, 4, 1, 2, 5, 1, 3};

TEST(HandWorked, Lru) {
  // 4 evicts 2 (LRU); 2 evicts 3; 5 evicts 4; 3 evicts 2.
  EXPECT_EQ(Misses("lru", kHand, 3), (std::vector<uint8_t>{1, 1, 1, 0, 1, 0, 1, 1, 0, 1}));
}

TEST(HandWorked, Fifo) {
  // 4 evicts 1; 1 evicts 2; 2 evicts 3; 5 evicts 4; (1 hits); 3 evicts 1.
  EXPECT_EQ(Misses("fifo", kHand, 3), (std::vector<uint8_t>{1, 1, 1, 0, 1, 1, 1, 1, 0, 1}));
}

TEST(HandWorked, Clock) {
  // 4: 1 is referenced (second chance), evicts 2; 2 evicts 3; 5: 1 is
  // referenced again, evicts 4; 3 evicts 2. Here the same misses as LRU.
  std::vector<uint8_t> got = Misses("clock", kHand, 3);
  EXPECT_EQ(got, (std::vector<uint8_t>{1, 1, 1, 0, 1, 0, 1, 1, 0, 1}));
}

TEST(HandWorked, TwoListPromotesOnlyFromInactive) {
  // Cache 4: target inactive = 10% = 0 frames, so reclaim deactivates one
  // when it needs a victim. 1 2 3 4 fill active; 5 deactivates 1 (the tail)
  // and evicts it; 1 misses again.
  EXPECT_EQ(Misses("two-list", {1, 2, 3, 4, 5, 1}, 4), (std::vector<uint8_t>{1, 1, 1, 1, 1, 1}));
}

TEST(HandWorked, ArcKeepsTwiceSeenPages) {
  // 1 and 2 seen twice (T2); 3 4 5 6 once (T1): T1 pays.
  std::vector<uint64_t> t = {1, 2, 1, 2, 3, 4, 5, 6, 1, 2};
  std::vector<uint8_t> got = Misses("arc", t, 3);
  EXPECT_EQ(got[8], 0);
  EXPECT_EQ(got[9], 0);
}

TEST(HandWorked, S3FifoOneHitWondersLeaveFromSmall) {
  // Cache 10: pages 1..8, referenced thrice, move from S to M at the first
  // eviction; the one-time pages 100..105 leave from S, so 1..8 still hit.
  std::vector<uint64_t> t;
  for (int r = 0; r < 3; r++)
    for (uint64_t p = 1; p <= 8; p++) t.push_back(p);
  for (uint64_t p = 100; p < 106; p++) t.push_back(p);
  for (uint64_t p = 1; p <= 8; p++) t.push_back(p);
  std::vector<uint8_t> got = Misses("s3fifo", t, 10);
  size_t tail_misses = std::count(got.end() - 8, got.end(), 1);
  EXPECT_LE(tail_misses, 1u);
}

TEST(HandWorked, LirsAndRdistKeepALoopResident) {
  // A loop of 12 pages through a cache of 10: LRU misses every reference;
  // lirs keeps most of the loop in M and cycles the rest through S: at most
  // 3 misses a pass after the 12 cold ones, where OPT takes 2.
  std::vector<uint64_t> t;
  for (int r = 0; r < 20; r++)
    for (uint64_t p = 0; p < 12; p++) t.push_back(p);
  auto count = [](const std::vector<uint8_t>& v) { return std::count(v.begin(), v.end(), 1); };
  EXPECT_EQ(count(Misses("lru", t, 10)), 240);
  std::vector<uint8_t> lirs = Misses("lirs", t, 10);
  EXPECT_LE(count(lirs), 12 + 19 * 3);
  EXPECT_GE(count(lirs), static_cast<long>(SimulateOpt(MakeTrace(t), 10).misses));
  EXPECT_LT(count(Misses("rdist", t, 10)), 240 / 2);
  EXPECT_GE(count(Misses("rdist", t, 10)), static_cast<long>(SimulateOpt(MakeTrace(t), 10).misses));
}

TEST(HandWorked, LirsAndRdistGiveNewPagesAProbationOfAtLeast32FramesOrAnEighth) {
  // Cache 200: 1% is 2 frames, the floor 25 (c/8). A hot set of 150 pages
  // fills M; then each new page is used again after 10 other new ones. With
  // a probation of 25 frames the second use finds it resident; with 2 it
  // was evicted already and misses again (about 2 misses per new page).
  std::vector<uint64_t> t;
  for (int r = 0; r < 3; r++)
    for (uint64_t p = 0; p < 150; p++) t.push_back(p);
  for (uint64_t i = 0; i < 1000; i++) {
    t.push_back(1000 + i);
    if (i >= 10) t.push_back(1000 + i - 10);
  }
  auto count = [](const std::vector<uint8_t>& v) { return std::count(v.begin(), v.end(), 1); };
  for (const char* name : {"lirs", "rdist"}) {
    const long misses = count(Misses(name, t, 200));
    EXPECT_GE(misses, 150 + 1000) << name;  // every first touch
    EXPECT_LE(misses, 150 + 1000 + 50) << name;
  }
}

// --------------------------------------------------------------------------
// Scan resistance: a hot set that fits survives a one-time scan larger than
// the cache (the policies that claim it: arc, s3fifo, lirs, rdist).

TEST(ScanResistance, HotSetSurvivesAOneTimeScan) {
  std::vector<uint64_t> t;
  std::mt19937 rng(5);
  for (int i = 0; i < 2000; i++) t.push_back(rng() % 20);  // hot: 20 pages
  for (uint64_t p = 1000; p < 1300; p++) t.push_back(p);   // scan: 300 pages
  const size_t before = t.size();
  for (int i = 0; i < 200; i++) t.push_back(rng() % 20);  // hot again
  for (const char* name : {"arc", "s3fifo", "lirs", "rdist"}) {
    std::vector<uint8_t> miss = Misses(name, t, 40);
    EXPECT_EQ(std::count(miss.begin() + before, miss.end(), 1), 0) << name;
  }
  std::vector<uint8_t> lru = Misses("lru", t, 40);
  EXPECT_GT(std::count(lru.begin() + before, lru.end(), 1), 0);  // the test bites
}

// --------------------------------------------------------------------------
// The simulator's faults mode and the trace formats.

TEST(Simulator, FaultsModeSeesOnlyUnmappedPages) {
  // Cache 8, pages 0..7 referenced over and over: nothing is evicted, and
  // with no reclaim nothing is ever unmapped, so there are no minor faults.
  std::vector<uint64_t> t;
  for (int r = 0; r < 10; r++)
    for (uint64_t p = 0; p < 8; p++) t.push_back(p);
  for (const std::string& name : ReclaimPolicyNames()) {
    std::unique_ptr<ReclaimPolicy> p = CreateReclaimPolicy(name, {});
    SimResult r = Simulate(MakeTrace(t), 8, *p, Observe::kFaults);
    EXPECT_EQ(r.misses, 8u) << name;
    EXPECT_EQ(r.minor_faults, 0u) << name;
  }
  // Under pressure, reclaim unmaps pages and touching them costs minor faults.
  std::unique_ptr<ReclaimPolicy> p = CreateReclaimPolicy("two-list", {});
  SimResult r = Simulate(MakeTrace(RandomPages(3, 5000, 100)), 20, *p, Observe::kFaults);
  EXPECT_GT(r.minor_faults, 0u);
}

TEST(Trace, FormatsAgree) {
  std::string text = "# uswap faults\n5 r\n7 w\n\n0x5\n  9\n";
  Result<Trace> a = ParseTrace(text, TraceFormat::kText);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->refs, (std::vector<uint32_t>{0, 1, 0, 2}));
  EXPECT_EQ(a->pages, (std::vector<uint64_t>{5, 7, 9}));
  std::string u32, u64;
  for (uint64_t p : {5ull, 7ull | (1ull << 31), 5ull, 9ull})
    for (int k = 0; k < 4; k++) u32.push_back(static_cast<char>(p >> (8 * k)));
  for (uint64_t p : {5ull, 7ull, 5ull, 9ull})
    for (int k = 0; k < 8; k++) u64.push_back(static_cast<char>(p >> (8 * k)));
  Result<Trace> b = ParseTrace(u32, TraceFormat::kU32);
  Result<Trace> c = ParseTrace(u64, TraceFormat::kU64);
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_EQ(b->refs, a->refs);
  EXPECT_EQ(b->pages, a->pages);
  EXPECT_EQ(c->pages, a->pages);
}

TEST(Trace, Errors) {
  EXPECT_FALSE(ParseTrace("", TraceFormat::kText).ok());
  EXPECT_FALSE(ParseTrace("# only a header\n", TraceFormat::kText).ok());
  Result<Trace> bad = ParseTrace("1\n2x\n", TraceFormat::kText);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("line 2"), std::string::npos);
  EXPECT_FALSE(ParseTrace("99999999999999999999999\n", TraceFormat::kText).ok());
  EXPECT_FALSE(ParseTrace(std::string(7, '\1'), TraceFormat::kU32).ok());
  EXPECT_FALSE(ParseTrace(std::string(12, '\1'), TraceFormat::kU64).ok());
  EXPECT_FALSE(ParseTraceFormat("u16"));
}

}  // namespace
}  // namespace uswap
