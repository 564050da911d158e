#include "workload.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

namespace uswap::bench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// splitmix64's finaliser: a bijection on 64-bit words with good avalanche.
uint64_t Mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Distinct (page, version) pairs give distinct keys for one seed (page < 2^32):
// Mix64 is a bijection and page << 32 | version is injective.
uint64_t PageKey(uint64_t seed, uint64_t page, uint32_t version) {
  return Mix64(Mix64(seed) ^ (page << 32 | version));
}

constexpr size_t kTrailer = kWordsPerPage - 1;
// compressible: words [0, this) and the trailer are random, the rest repeat
// one word. lz4 keeps the random bytes as literals and the repeats cost a few
// bytes: 4096 / (171 * 8 + ~20) = ~2.95.
constexpr size_t kCompressibleRandomWords = kWordsPerPage / 3;

// Word i of a page with `key`; header and trailer are never zero.
uint64_t ExpectedWord(DataKind data, uint64_t key, size_t i) {
  if (data == DataKind::kZero) return 0;
  if (i == 0) return key | 1;
  if (i == kTrailer) return Mix64(key ^ 0x7261696C65720000ull) | 1;
  if (data == DataKind::kCompressible && i >= kCompressibleRandomWords) return key;
  return Mix64(key + i);
}

struct PatternInfo {
  Pattern pattern;
  const char* name;
  bool writes;
  bool sequential;
};
constexpr PatternInfo kPatterns[] = {
    {Pattern::kSeqRead, "seq-read", false, true},
    {Pattern::kSeqWrite, "seq-write", true, true},
    {Pattern::kRandRead, "rand-read", false, false},
    {Pattern::kRandWrite, "rand-write", true, false},
    {Pattern::kZipfRead, "zipf-read", false, false},
    {Pattern::kMixed, "mixed", true, false},
};
const PatternInfo& Info(Pattern p) { return kPatterns[static_cast<int>(p)]; }

constexpr const char* kDataNames[] = {"random", "compressible", "zero"};

// Page lock: the top bit of the page's version word (patterns that write).
constexpr uint32_t kLockBit = 1u << 31;

uint32_t LockPage(std::atomic<uint32_t>& word) {
  uint32_t cur = word.load(std::memory_order_relaxed);
  for (;;) {
    if (!(cur & kLockBit) &&
        word.compare_exchange_weak(cur, cur | kLockBit, std::memory_order_acquire)) {
      return cur;
    }
    if (cur & kLockBit) {
      std::this_thread::yield();
      cur = word.load(std::memory_order_relaxed);
    }
  }
}
void UnlockPage(std::atomic<uint32_t>& word, uint32_t version) {
  word.store(version, std::memory_order_release);
}

enum class Phase : int { kFill, kRun, kVerify, kDone };
constexpr const char* kPhaseNames[] = {"fill", "run", "verify", "done"};

// Per-thread tallies of one phase.
struct ThreadTally {
  uint64_t accesses = 0, reads = 0, writes = 0, mismatches = 0, full_checks = 0;
  std::vector<uint32_t> latency_ns;
  bool interrupted = false;
};

// State shared by the threads of one RunWorkload() call.
class Runner {
 public:
  Runner(uint8_t* base, const WorkloadSpec& spec, const std::atomic<bool>* stop)
      : base_(base),
        spec_(spec),
        pages_(spec.region_bytes / kPageSize),
        versions_(new std::atomic<uint32_t>[pages_]),
        stop_(stop) {
    for (uint64_t p = 0; p < pages_; ++p) versions_[p].store(0, std::memory_order_relaxed);
    if (spec.pattern == Pattern::kZipfRead || spec.pattern == Pattern::kMixed) {
      zipf_.emplace(pages_, spec.zipf_theta);
      scatter_.emplace(pages_);
    }
  }

  WorkloadResult Run(const std::function<Counters()>& counters);

 private:
  uint8_t* Page(uint64_t p) const { return base_ + p * kPageSize; }
  bool Stopped() const { return stop_ && stop_->load(std::memory_order_relaxed); }
  uint64_t OpsFor(unsigned t) const;
  template <typename Fn>
  void SweepSlice(unsigned t, ThreadTally& tally, Fn fn);
  void Fill(unsigned t, ThreadTally& tally);
  void Access(unsigned t, ThreadTally& tally);
  void Verify(unsigned t, ThreadTally& tally);
  void Read(uint64_t page, bool full, ThreadTally& tally);
  void CheckRead(uint64_t page, uint32_t version, bool full, ThreadTally& tally);
  void Write(uint64_t page, ThreadTally& tally);
  std::vector<ThreadTally> RunPhase(Phase phase);
  void ProgressLoop();

  uint8_t* const base_;
  const WorkloadSpec& spec_;
  const uint64_t pages_;
  std::unique_ptr<std::atomic<uint32_t>[]> versions_;  // latest version | kLockBit
  std::optional<ZipfGenerator> zipf_;
  std::optional<RankScatter> scatter_;
  const std::atomic<bool>* const stop_;
  Clock::time_point deadline_ = Clock::time_point::max();

  std::atomic<int> phase_{static_cast<int>(Phase::kFill)};
  std::atomic<uint64_t> progress_{0};  // accesses of the current phase, every kSampleEvery
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;           // GUARDED_BY(mu_)
  std::string first_mismatch_;  // GUARDED_BY(mu_)
};

uint64_t Runner::OpsFor(unsigned t) const {
  uint64_t total = spec_.ops;
  if (total == 0) total = spec_.seconds > 0 ? UINT64_MAX : pages_;
  if (total == UINT64_MAX) return UINT64_MAX;
  return total / spec_.threads + (t < total % spec_.threads ? 1 : 0);
}

void Runner::Write(uint64_t page, ThreadTally& tally) {
  std::atomic<uint32_t>& word = versions_[page];
  uint32_t version = (LockPage(word) + 1) & ~kLockBit;
  FillPage(Page(page), spec_.data, spec_.seed, page, version);
  UnlockPage(word, version);
  ++tally.writes;
}

void Runner::CheckRead(uint64_t page, uint32_t version, bool full, ThreadTally& tally) {
  Verdict v = VerifyPage(Page(page), spec_.data, spec_.seed, page, version, full);
  tally.full_checks += full;
  if (v == Verdict::kOk) return;
  ++tally.mismatches;
  std::lock_guard<std::mutex> lock(mu_);
  if (first_mismatch_.empty()) {
    char buf[sizeof(WorkloadResult::first_mismatch)];
    const uint64_t* w = reinterpret_cast<const uint64_t*>(Page(page));
    std::snprintf(buf, sizeof buf,
                  "page %" PRIu64 " version %u: %s (header %016" PRIx64 " trailer %016" PRIx64 ")",
                  page, version, VerdictName(v), w[0], w[kTrailer]);
    first_mismatch_ = buf;
  }
}

void Runner::Read(uint64_t page, bool full, ThreadTally& tally) {
  ++tally.reads;
  if (!PatternWrites(spec_.pattern)) {  // versions are stable after the fill
    CheckRead(page, versions_[page].load(std::memory_order_relaxed), full, tally);
    return;
  }
  std::atomic<uint32_t>& word = versions_[page];
  uint32_t version = LockPage(word);
  CheckRead(page, version, full, tally);
  UnlockPage(word, version);
}

// Calls fn(page) for every page of thread t's slice in order, polling the
// stop flag and publishing progress every kSampleEvery pages.
template <typename Fn>
void Runner::SweepSlice(unsigned t, ThreadTally& tally, Fn fn) {
  PageRange r = SeqSlice(pages_, spec_.threads, t);
  for (uint64_t p = r.begin; p < r.end; ++p) {
    if ((p - r.begin) % kSampleEvery == 0) {
      if (Stopped()) {
        tally.interrupted = true;
        return;
      }
      progress_.fetch_add(kSampleEvery, std::memory_order_relaxed);
    }
    fn(p);
  }
}

void Runner::Fill(unsigned t, ThreadTally& tally) {
  SweepSlice(t, tally, [&](uint64_t p) {
    FillPage(Page(p), spec_.data, spec_.seed, p, 0);
    ++tally.writes;
  });
}

void Runner::Access(unsigned t, ThreadTally& tally) {
  const uint64_t ops = OpsFor(t);
  const PageRange slice = SeqSlice(pages_, spec_.threads, t);
  if (Info(spec_.pattern).sequential && slice.begin == slice.end) return;
  uint64_t cursor = slice.begin;
  Rng rng(spec_.seed + t);
  // Which accesses are timed: gaps drawn uniformly from [1, 2 kSampleEvery)
  // by a second generator (the access stream stays that of seed + t). A fixed
  // stride would, in seq patterns, always time the same offset within a
  // readahead window (say, always its faulting first page).
  Rng sampler(~(spec_.seed + t));
  uint64_t next_sample = sampler.Below(kSampleEvery);
  if (ops != UINT64_MAX) tally.latency_ns.reserve(ops / kSampleEvery + 16);
  const bool has_deadline = deadline_ != Clock::time_point::max();
  for (uint64_t i = 0; i < ops; ++i) {
    if (i % kSampleEvery == 0) {
      if (Stopped() || (has_deadline && Clock::now() >= deadline_)) {
        tally.interrupted = Stopped();
        break;
      }
      progress_.fetch_add(kSampleEvery, std::memory_order_relaxed);
    }
    const bool timed = i == next_sample;
    Clock::time_point t0;
    if (timed) {
      t0 = Clock::now();
      next_sample = i + 1 + sampler.Below(2 * kSampleEvery - 1);
    }
    uint64_t page = 0;
    bool write = false;
    switch (spec_.pattern) {
      case Pattern::kSeqRead:
      case Pattern::kSeqWrite:
        page = cursor;
        if (++cursor == slice.end) cursor = slice.begin;
        write = spec_.pattern == Pattern::kSeqWrite;
        break;
      case Pattern::kRandRead:
      case Pattern::kRandWrite:
        page = rng.Below(pages_);
        write = spec_.pattern == Pattern::kRandWrite;
        break;
      case Pattern::kZipfRead:
      case Pattern::kMixed:
        page = scatter_->Page(zipf_->Next(rng));
        write = spec_.pattern == Pattern::kMixed && rng.Below(100) >= 70;
        break;
    }
    if (write) {
      Write(page, tally);
    } else {
      Read(page, i % kFullCheckEvery == kFullCheckEvery / 2, tally);
    }
    ++tally.accesses;
    if (timed) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
      tally.latency_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(ns, UINT32_MAX)));
    }
  }
}

void Runner::Verify(unsigned t, ThreadTally& tally) {
  SweepSlice(t, tally, [&](uint64_t p) {
    CheckRead(p, versions_[p].load(std::memory_order_relaxed), p % kFullCheckEvery == 0, tally);
    ++tally.accesses;
  });
}

std::vector<ThreadTally> Runner::RunPhase(Phase phase) {
  progress_.store(0, std::memory_order_relaxed);
  phase_.store(static_cast<int>(phase), std::memory_order_relaxed);
  std::vector<ThreadTally> tallies(spec_.threads);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < spec_.threads; ++t) {
    threads.emplace_back([this, phase, t, &tallies] {
      switch (phase) {
        case Phase::kFill:
          Fill(t, tallies[t]);
          break;
        case Phase::kRun:
          Access(t, tallies[t]);
          break;
        case Phase::kVerify:
          Verify(t, tallies[t]);
          break;
        case Phase::kDone:
          break;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  return tallies;
}

// One line on stderr, rewritten twice a second: phase, accesses, rate.
void Runner::ProgressLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t last = 0;
  int last_phase = -1;
  Clock::time_point last_t = Clock::now();
  while (!done_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) {
    int phase = phase_.load(std::memory_order_relaxed);
    uint64_t n = progress_.load(std::memory_order_relaxed);
    double dt = SecondsSince(last_t);
    double rate = phase == last_phase && dt > 0 ? (n - last) / dt : 0;
    std::fprintf(stderr, "\r\033[K%s: %s %" PRIu64 " pages (%.1f%% of the region), %.0f/s",
                 spec_.progress_label.c_str(), kPhaseNames[phase], n, 100.0 * n / pages_, rate);
    last = n;
    last_phase = phase;
    last_t = Clock::now();
  }
  std::fprintf(stderr, "\r\033[K");
}

double Percentile(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(q * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k] / 1000.0;
}

WorkloadResult Runner::Run(const std::function<Counters()>& counters) {
  WorkloadResult r;
  auto snapshot = [&] { return counters ? counters() : Counters{}; };
  std::thread progress;
  if (!spec_.progress_label.empty()) progress = std::thread([this] { ProgressLoop(); });

  Counters c0 = snapshot();
  Clock::time_point t0 = Clock::now();
  for (const ThreadTally& t : RunPhase(Phase::kFill)) r.interrupted |= t.interrupted;
  r.fill_seconds = SecondsSince(t0);
  Counters c1 = snapshot();
  r.fill = c1 - c0;

  std::vector<uint32_t> latency;
  if (!r.interrupted) {
    t0 = Clock::now();
    if (spec_.seconds > 0) {
      deadline_ = t0 + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(spec_.seconds));
    }
    for (ThreadTally& t : RunPhase(Phase::kRun)) {
      r.accesses += t.accesses;
      r.reads += t.reads;
      r.writes += t.writes;
      r.mismatches += t.mismatches;
      r.full_checks += t.full_checks;
      r.interrupted |= t.interrupted;
      latency.insert(latency.end(), t.latency_ns.begin(), t.latency_ns.end());
    }
    r.run_seconds = SecondsSince(t0);
    r.run = snapshot() - c1;
  }
  if (!r.interrupted && PatternWrites(spec_.pattern)) {
    t0 = Clock::now();
    for (const ThreadTally& t : RunPhase(Phase::kVerify)) {
      r.verified_pages += t.accesses;
      r.mismatches += t.mismatches;
      r.full_checks += t.full_checks;
      r.interrupted |= t.interrupted;
    }
    r.verify_seconds = SecondsSince(t0);
  }
  r.p50_us = Percentile(latency, 0.50);
  r.p99_us = Percentile(latency, 0.99);

  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    std::snprintf(r.first_mismatch, sizeof r.first_mismatch, "%s", first_mismatch_.c_str());
  }
  done_cv_.notify_all();
  if (progress.joinable()) progress.join();
  return r;
}

}  // namespace

std::optional<Pattern> ParsePattern(std::string_view name) {
  for (const PatternInfo& p : kPatterns) {
    if (name == p.name) return p.pattern;
  }
  return std::nullopt;
}
const char* PatternName(Pattern p) { return Info(p).name; }
bool PatternWrites(Pattern p) { return Info(p).writes; }
bool PatternIsSequential(Pattern p) { return Info(p).sequential; }

std::optional<DataKind> ParseDataKind(std::string_view name) {
  for (int i = 0; i < 3; ++i) {
    if (name == kDataNames[i]) return static_cast<DataKind>(i);
  }
  return std::nullopt;
}
const char* DataKindName(DataKind d) { return kDataNames[static_cast<int>(d)]; }

uint64_t Rng::Next() { return Mix64(state_ += 0x9E3779B97F4A7C15ull); }

ZipfGenerator::ZipfGenerator(uint64_t n, double theta) : n_(n), theta_(theta) {
  double zetan = 0;
  for (uint64_t i = 1; i <= n; ++i) zetan += 1.0 / std::pow(static_cast<double>(i), theta);
  const double zeta2 = 1.0 + std::pow(0.5, theta);
  zetan_ = zetan;
  alpha_ = 1.0 / (1.0 - theta);
  eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) / (1.0 - zeta2 / zetan);
  half_pow_theta_ = std::pow(0.5, theta);
}

uint64_t ZipfGenerator::Next(Rng& rng) const {
  const double u = rng.Unit();
  const double uz = u * zetan_;
  if (uz < 1.0) return 0;
  if (uz < 1.0 + half_pow_theta_) return 1;
  auto rank =
      static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1, alpha_));
  return std::min(rank, n_ - 1);
}

RankScatter::RankScatter(uint64_t n) : n_(n) {
  // A multiplier near n / golden ratio, coprime to n: consecutive ranks land
  // ~0.62 n apart and the map is a bijection.
  mul_ = std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(n) * 0.6180339887498949));
  while (std::gcd(mul_, n) != 1) ++mul_;
  offset_ = n / 3;
}

uint64_t RankScatter::Page(uint64_t rank) const {
  return static_cast<uint64_t>(((unsigned __int128)rank * mul_ + offset_) % n_);
}

PageRange SeqSlice(uint64_t pages, unsigned threads, unsigned t) {
  return {pages * t / threads, pages * (t + 1) / threads};
}

void FillPage(void* dst, DataKind data, uint64_t seed, uint64_t page, uint32_t version) {
  if (data == DataKind::kZero) {
    std::memset(dst, 0, kPageSize);
    return;
  }
  auto* w = static_cast<uint64_t*>(dst);
  const uint64_t key = PageKey(seed, page, version);
  for (size_t i = 0; i < kWordsPerPage; ++i) w[i] = ExpectedWord(data, key, i);
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kWrongOrStale:
      return "wrong or stale page";
    case Verdict::kZero:
      return "zero page";
    case Verdict::kCorrupt:
      return "corrupt page";
  }
  return "?";
}

Verdict VerifyPage(const void* src, DataKind data, uint64_t seed, uint64_t page, uint32_t version,
                   bool full) {
  const auto* w = static_cast<const uint64_t*>(src);
  const uint64_t key = PageKey(seed, page, version);
  const uint64_t header = w[0], trailer = w[kTrailer];
  if (data != DataKind::kZero) {
    if (header == 0 && trailer == 0) return Verdict::kZero;
    if (header != ExpectedWord(data, key, 0)) return Verdict::kWrongOrStale;
  }
  if (header != ExpectedWord(data, key, 0) || trailer != ExpectedWord(data, key, kTrailer)) {
    return Verdict::kCorrupt;
  }
  if (full) {
    for (size_t i = 1; i < kTrailer; ++i) {
      if (w[i] != ExpectedWord(data, key, i)) return Verdict::kCorrupt;
    }
  }
  return Verdict::kOk;
}

Counters operator-(const Counters& a, const Counters& b) {
  return {a.major_faults - b.major_faults, a.pswpin - b.pswpin, a.pswpout - b.pswpout,
          a.minor_faults - b.minor_faults, a.zswpin - b.zswpin, a.zswpout - b.zswpout};
}

std::string ValidateSpec(const WorkloadSpec& spec) {
  if (spec.region_bytes < kPageSize || spec.region_bytes % kPageSize != 0) {
    return "--region must be a positive multiple of 4 KiB";
  }
  if (spec.region_bytes / kPageSize >= (uint64_t{1} << 32)) return "--region must be below 16 TiB";
  if (spec.threads < 1 || spec.threads > 1024) return "--threads must be in [1, 1024]";
  if (!(spec.zipf_theta > 0 && spec.zipf_theta < 1)) return "--zipf must be in (0, 1)";
  if ((spec.pattern == Pattern::kZipfRead || spec.pattern == Pattern::kMixed) &&
      spec.region_bytes < 2 * kPageSize) {
    return "zipf patterns need a region of at least 2 pages";
  }
  if (spec.seconds < 0) return "--seconds must not be negative";
  return "";
}

WorkloadResult RunWorkload(uint8_t* base, const WorkloadSpec& spec,
                           const std::function<Counters()>& counters,
                           const std::atomic<bool>* stop) {
  Runner runner(base, spec, stop);
  return runner.Run(counters);
}

}  // namespace uswap::bench
