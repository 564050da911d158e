// Workload: what `uswap bench` does to a region, identically for every engine
// (uswap, the kernel's swap, plain RAM). Engines only provide the memory and
// the fault/swap counters; this file provides the access stream, the page
// contents and their verification.
//
// Named workloads (the --pattern values), each at 4 KiB page granularity
// (one access = one page):
//   seq-read    each thread reads its contiguous slice of the region in order
//   seq-write   same, rewriting each page (next version)
//   rand-read   uniformly random pages, read
//   rand-write  uniformly random pages, rewritten
//   zipf-read   Zipf-distributed page popularity (theta 0.99 by default, as
//               YCSB); the hot ranks are scattered over the region
//   mixed       zipf pages, 70% reads and 30% writes
//
// Every run first fills the whole region (version 0 of every page, the
// threads splitting it as seq patterns do), then runs the pattern until the
// stopping rule (WorkloadSpec::ops / seconds; by default one pass for seq
// patterns and region-pages accesses for random ones), then - for patterns
// that write - an untimed verification pass reads back every page.
//
// Page contents (--data) are a function of (seed, page index, version):
//   random        every 64-bit word is a hash of (key, word index)
//   compressible  the first third as random, the rest repeats one word: about
//                 3:1 with lz4 (workload_test checks it), as real heaps compress
//   zero          all-zero pages (a wrong page cannot be told apart, a non-zero one can)
// where key = hash(seed, page, version). Word 0 (header) and word 511
// (trailer) are key-derived and never zero, so checking both detects a page
// that belongs to another index (wrong), an older version (stale), an
// all-zero page (lost), or a half-written one. Every kFullCheckEvery-th
// access of a thread also compares the whole page word by word (torn or
// corrupted interiors). A per-page version array (4 bytes a page) records the
// latest write so a read knows what it must see.
//
// Threads share the region. In patterns that write, a page is locked (a bit
// in its version word) while it is read or written, so concurrent accesses to
// one page never observe a half-written page.
//
// Thread-safety: RunWorkload() runs its own threads; the free functions are
// pure.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace uswap::bench {

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kWordsPerPage = kPageSize / sizeof(uint64_t);
// About one access in this many per thread is timed (latency percentiles;
// random gaps, see Runner::Access) - timing every access would add two clock
// reads to a ~0.1 us RAM access. Stop and progress checks also run this often.
inline constexpr uint64_t kSampleEvery = 64;
// One access in this many per thread verifies the whole page, not only its
// header and trailer words (a full check costs ~1 us).
inline constexpr uint64_t kFullCheckEvery = 16;

enum class Pattern { kSeqRead, kSeqWrite, kRandRead, kRandWrite, kZipfRead, kMixed };
enum class DataKind { kRandom, kCompressible, kZero };

std::optional<Pattern> ParsePattern(std::string_view name);
const char* PatternName(Pattern p);
bool PatternWrites(Pattern p);
bool PatternIsSequential(Pattern p);
std::optional<DataKind> ParseDataKind(std::string_view name);
const char* DataKindName(DataKind d);

// splitmix64: a fast, well-mixed 64-bit PRNG (one state word per thread).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((unsigned __int128)Next() * n >> 64); }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  uint64_t state_;
};

// Zipf-distributed ranks in [0, n): rank 0 is the most popular. Gray et al.,
// "Quickly generating billion-record synthetic databases" (SIGMOD 1994), as
// YCSB's ZipfianGenerator. Construction is O(n) (zeta(n)); Next() is O(1).
// REQUIRES: n >= 2, 0 < theta < 1.
class ZipfGenerator {
 public:
  ZipfGenerator(uint64_t n, double theta);
  uint64_t Next(Rng& rng) const;
  uint64_t n() const { return n_; }

 private:
  uint64_t n_;
  double theta_, alpha_, zetan_, eta_, half_pow_theta_;
};

// Scatters zipf ranks over [0, n) (a bijection: rank * prime + offset mod n),
// so hot pages are not neighbours - as YCSB's ScrambledZipfianGenerator; with
// hot pages adjacent, swap readahead would fetch the hot set for free.
class RankScatter {
 public:
  explicit RankScatter(uint64_t n);
  uint64_t Page(uint64_t rank) const;

 private:
  uint64_t n_, mul_, offset_;
};

// Page [begin, end) of thread `t` of `threads` for seq patterns and the fill.
struct PageRange {
  uint64_t begin = 0, end = 0;
};
PageRange SeqSlice(uint64_t pages, unsigned threads, unsigned t);

// Writes version `version` of page `page` into `dst` (kPageSize bytes).
void FillPage(void* dst, DataKind data, uint64_t seed, uint64_t page, uint32_t version);

enum class Verdict { kOk, kWrongOrStale, kZero, kCorrupt };
const char* VerdictName(Verdict v);
// Checks `src` against version `version` of `page`: header and trailer words
// always, every word when `full`. kZero: an all-zero header and trailer where
// content was expected; kWrongOrStale: a header of another (page, version);
// kCorrupt: the header matches but the trailer or an interior word does not.
Verdict VerifyPage(const void* src, DataKind data, uint64_t seed, uint64_t page, uint32_t version,
                   bool full);

// Fault and swap counters an engine reports (cumulative; RunWorkload takes deltas).
struct Counters {
  uint64_t major_faults = 0;
  uint64_t pswpin = 0;   // pages read from swap
  uint64_t pswpout = 0;  // pages written to swap
  // Faults resolved without I/O (kernel: ru_minflt; uswap: pgminorfault,
  // the touches of unmapped resident pages its aging pays for).
  uint64_t minor_faults = 0;
  // Pages the kernel's zswap loaded / stored (vmstat zswpin, zswpout): swap
  // that never reached the disk, so pswpin/pswpout do not count it.
  uint64_t zswpin = 0;
  uint64_t zswpout = 0;
};
Counters operator-(const Counters& a, const Counters& b);

struct WorkloadSpec {
  Pattern pattern = Pattern::kRandRead;
  size_t region_bytes = 0;  // a multiple of kPageSize
  unsigned threads = 1;
  uint64_t ops = 0;    // accesses in total; 0 = the default (see top)
  double seconds = 0;  // > 0: stop after this long (or ops, whichever first)
  double zipf_theta = 0.99;
  DataKind data = DataKind::kRandom;
  uint64_t seed = 1;
  std::string progress_label;  // non-empty: a progress line on stderr
};

// What one run measured. Trivially copyable: the kernel engine sends it
// through a pipe from its child process.
struct WorkloadResult {
  uint64_t accesses = 0, reads = 0, writes = 0;
  uint64_t mismatches = 0;      // reads (run + verify pass) that saw the wrong content
  uint64_t full_checks = 0;     // reads verified word by word
  uint64_t verified_pages = 0;  // pages read back by the verification pass
  double fill_seconds = 0, run_seconds = 0, verify_seconds = 0;
  double p50_us = 0, p99_us = 0;  // sampled access latency in the run phase
  Counters fill, run;             // counter deltas of the fill and run phases
  bool interrupted = false;       // stopped early by the stop flag
  char first_mismatch[160] = {};  // description of the first mismatch, if any
};

// Fills `base` (spec.region_bytes) and runs the workload on it. `counters`
// snapshots the engine's counters between phases (may be empty). `stop` is
// polled every kSampleEvery accesses; when set the run ends early with
// `interrupted`.
// REQUIRES: spec validated by ValidateSpec().
WorkloadResult RunWorkload(uint8_t* base, const WorkloadSpec& spec,
                           const std::function<Counters()>& counters,
                           const std::atomic<bool>* stop);

// "" when the spec can run, else the problem ("--region must be ...").
std::string ValidateSpec(const WorkloadSpec& spec);

}  // namespace uswap::bench
