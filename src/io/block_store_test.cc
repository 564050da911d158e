// One suite every store kind passes (typed over file, uring and mem), then
// what only file-backed stores and the registry promise.
#include "io/block_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "io/io_test_util.h"
#include "io/mem_store.h"
#include "io/page_buffer.h"
#include "io/posix_file_store.h"
#include "uswap/config.h"
#if HAVE_LIBURING
#include "io/uring_store.h"
#endif

namespace uswap {
namespace {

using testing::CheckPattern;
using testing::CountOpenFds;
using testing::FillPattern;
using testing::TempDir;

constexpr size_t kPage = 4096;
constexpr uint64_t kSlots = 256;
constexpr uint32_t kHeaderStamp = 0xbeef;

// Every slot of the run [slot, slot + nr) stamped with `stamp`.
void FillRun(void* buf, uint64_t slot, uint32_t nr, uint32_t stamp) {
  for (uint32_t i = 0; i < nr; ++i) {
    FillPattern(static_cast<std::byte*>(buf) + size_t{i} * kPage, kPage, slot + i, stamp);
  }
}
bool CheckRun(const void* buf, uint64_t slot, uint32_t nr, uint32_t stamp) {
  for (uint32_t i = 0; i < nr; ++i) {
    if (!CheckPattern(static_cast<const std::byte*>(buf) + size_t{i} * kPage, kPage, slot + i,
                      stamp)) {
      return false;
    }
  }
  return true;
}

// Creates `path` with `nr_slots` pages: slot 0 stamped as a header, the
// rest zero (written, not sparse).
void CreateAreaFile(const std::string& path, uint64_t nr_slots) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path;
  std::vector<char> page(kPage, 0);
  FillPattern(page.data(), kPage, 0, kHeaderStamp);
  ASSERT_EQ(::pwrite(fd, page.data(), kPage, 0), static_cast<ssize_t>(kPage));
  std::vector<char> zeros((nr_slots - 1) * kPage, 0);
  if (!zeros.empty()) {
    ASSERT_EQ(::pwrite(fd, zeros.data(), zeros.size(), kPage), static_cast<ssize_t>(zeros.size()));
  }
  ::close(fd);
}

bool FileHeaderIntact(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::vector<char> page(kPage);
  const bool read_ok = ::pread(fd, page.data(), kPage, 0) == static_cast<ssize_t>(kPage);
  ::close(fd);
  return read_ok && CheckPattern(page.data(), kPage, 0, kHeaderStamp);
}

// ---------------------------------------------------------------------------
// The typed suite.

struct FileKind {
  static constexpr const char* kName = "file";
};
struct UringKind {
  static constexpr const char* kName = "uring";
};
struct MemKind {
  static constexpr const char* kName = "mem";
};

template <typename Kind>
class BlockStoreTest : public ::testing::Test {
 protected:
  static constexpr bool kIsMem = std::is_same_v<Kind, MemKind>;

  void SetUp() override {
    if constexpr (kIsMem) {
      // MemStore starts zeroed: its "header" is a zero page.
      auto mem = std::make_unique<MemStore>(kPage, kSlots);
      mem_ = mem.get();
      store_ = std::move(mem);
    } else {
      ASSERT_TRUE(dir_.ok());
      path_ = dir_.File("area");
      CreateAreaFile(path_, kSlots);
      Result<std::unique_ptr<BlockStore>> store =
          OpenBlockStore(path_, kPage, kSlots, BlockStoreOptions{.kind = Kind::kName});
      if (!store.ok() && store.status().IsNotSupported()) {
        GTEST_SKIP() << store.status().ToString();
      }
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      store_ = std::move(*store);
    }
  }

  // Whether slot 0 still holds what it held before the test.
  bool HeaderIntact() {
    if constexpr (kIsMem) {
      PageBuffer page(kPage), zero(kPage);
      mem_->CopySlot(0, page.data());
      return std::memcmp(page.data(), zero.data(), kPage) == 0;
    } else {
      return FileHeaderIntact(path_);
    }
  }

  Status WriteRun(uint64_t slot, uint32_t nr, uint32_t stamp) {
    PageBuffer buf(size_t{nr} * kPage);
    FillRun(buf.data(), slot, nr, stamp);
    return store_->Write(slot, nr, buf.data());
  }
  // Reads the run back and checks its stamp.
  ::testing::AssertionResult RunHolds(uint64_t slot, uint32_t nr, uint32_t stamp) {
    PageBuffer buf(size_t{nr} * kPage);
    Status s = store_->Read(slot, nr, buf.data());
    if (!s.ok()) return ::testing::AssertionFailure() << s.ToString();
    if (!CheckRun(buf.data(), slot, nr, stamp)) {
      return ::testing::AssertionFailure()
             << "slots [" << slot << ", " << slot + nr << ") do not hold stamp " << stamp;
    }
    return ::testing::AssertionSuccess();
  }

  TempDir dir_;
  std::string path_;
  MemStore* mem_ = nullptr;
  std::unique_ptr<BlockStore> store_;
};

using StoreKinds = ::testing::Types<FileKind, UringKind, MemKind>;
struct KindName {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
TYPED_TEST_SUITE(BlockStoreTest, StoreKinds, KindName);

TYPED_TEST(BlockStoreTest, NameMatchesKind) { EXPECT_EQ(this->store_->name(), TypeParam::kName); }

TYPED_TEST(BlockStoreTest, SingleSlotRoundTrip) {
  ASSERT_TRUE(this->WriteRun(1, 1, 7).ok());
  ASSERT_TRUE(this->WriteRun(kSlots - 1, 1, 8).ok());
  EXPECT_TRUE(this->RunHolds(1, 1, 7));
  EXPECT_TRUE(this->RunHolds(kSlots - 1, 1, 8));
  EXPECT_TRUE(this->HeaderIntact());
}

TYPED_TEST(BlockStoreTest, MultiSlotRunRoundTrip) {
  ASSERT_TRUE(this->WriteRun(3, 64, 11).ok());
  EXPECT_TRUE(this->RunHolds(3, 64, 11));
  // Each slot of the run landed at its own place.
  for (uint64_t s : {3, 4, 40, 66}) EXPECT_TRUE(this->RunHolds(s, 1, 11)) << s;
  EXPECT_TRUE(this->HeaderIntact());
}

TYPED_TEST(BlockStoreTest, BatchMixesReadsAndWrites) {
  ASSERT_TRUE(this->WriteRun(1, 16, 1).ok());
  PageBuffer reads(16 * kPage), writes(16 * kPage);
  FillRun(writes.data(), 100, 16, 2);
  std::vector<BlockIo> batch;
  for (uint32_t i = 0; i < 16; ++i) {
    batch.push_back({.op = BlockIo::Op::kRead,
                     .slot = 1 + i,
                     .nr = 1,
                     .buf = reads.data() + size_t{i} * kPage});
    batch.push_back({.op = BlockIo::Op::kWrite,
                     .slot = 100 + i,
                     .nr = 1,
                     .buf = writes.data() + size_t{i} * kPage});
  }
  batch.push_back({.op = BlockIo::Op::kWrite, .slot = 200, .nr = 8, .buf = writes.data()});
  ASSERT_TRUE(this->store_->Submit(batch).ok());
  for (const BlockIo& io : batch) EXPECT_EQ(io.error, 0);
  EXPECT_TRUE(CheckRun(reads.data(), 1, 16, 1));
  EXPECT_TRUE(this->RunHolds(100, 16, 2));
  PageBuffer back(8 * kPage);
  ASSERT_TRUE(this->store_->Read(200, 8, back.data()).ok());
  EXPECT_TRUE(CheckRun(back.data(), 100, 8, 2));  // slots 100.. stamps, written at 200
}

// More requests than the default queue depth (64): the uring store must
// refill its ring as completions arrive.
TYPED_TEST(BlockStoreTest, BatchLargerThanQueueDepth) {
  const uint32_t n = kSlots - 1;
  PageBuffer buf(size_t{n} * kPage);
  FillRun(buf.data(), 1, n, 5);
  std::vector<BlockIo> batch;
  for (uint32_t i = 0; i < n; ++i) {
    batch.push_back(
        {.op = BlockIo::Op::kWrite, .slot = 1 + i, .nr = 1, .buf = buf.data() + size_t{i} * kPage});
  }
  ASSERT_TRUE(this->store_->Submit(batch).ok());
  EXPECT_TRUE(this->RunHolds(1, n, 5));
}

TYPED_TEST(BlockStoreTest, ConcurrentSubmitFromFourThreads) {
  constexpr int kThreads = 4;
  constexpr uint32_t kPerThread = (kSlots - 1) / kThreads;  // 63 slots each
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      const uint64_t first = 1 + t * kPerThread;
      PageBuffer buf(size_t{kPerThread} * kPage);
      for (uint32_t round = 1; round <= 6; ++round) {
        // Write the thread's slots as a batch of 1- and 2-slot runs, then
        // read them back as one batch of single slots.
        FillRun(buf.data(), first, kPerThread, round);
        std::vector<BlockIo> batch;
        for (uint32_t i = 0; i < kPerThread;) {
          const uint32_t nr = (i + 2 <= kPerThread && (i + round) % 3 == 0) ? 2 : 1;
          batch.push_back({.op = BlockIo::Op::kWrite,
                           .slot = first + i,
                           .nr = nr,
                           .buf = buf.data() + size_t{i} * kPage});
          i += nr;
        }
        if (!this->store_->Submit(batch).ok()) ++failures[t];
        std::memset(buf.data(), 0, buf.size());
        batch.clear();
        for (uint32_t i = 0; i < kPerThread; ++i) {
          batch.push_back({.op = BlockIo::Op::kRead,
                           .slot = first + i,
                           .nr = 1,
                           .buf = buf.data() + size_t{i} * kPage});
        }
        if (!this->store_->Submit(batch).ok()) ++failures[t];
        if (!CheckRun(buf.data(), first, kPerThread, round)) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_TRUE(this->HeaderIntact());
}

TYPED_TEST(BlockStoreTest, RefusesMalformedRequestsWithoutIo) {
  ASSERT_TRUE(this->WriteRun(kSlots - 1, 1, 3).ok());
  const BlockStoreStats before = this->store_->stats();
  PageBuffer buf(2 * kPage);
  FillRun(buf.data(), 0, 2, 99);
  BlockStore& store = *this->store_;

  EXPECT_TRUE(store.Write(0, 1, buf.data()).IsInvalidArgument());  // the header
  EXPECT_TRUE(store.Read(0, 1, buf.data()).IsInvalidArgument());
  EXPECT_TRUE(store.Write(0, 2, buf.data()).IsInvalidArgument());           // a run from the header
  EXPECT_TRUE(store.Write(kSlots - 1, 2, buf.data()).IsInvalidArgument());  // past the end
  EXPECT_TRUE(store.Write(kSlots, 1, buf.data()).IsInvalidArgument());
  EXPECT_TRUE(store.Write(UINT64_MAX, 2, buf.data()).IsInvalidArgument());  // wraps
  EXPECT_TRUE(store.Write(5, 0, buf.data()).IsInvalidArgument());
  EXPECT_TRUE(store.Write(5, 1, nullptr).IsInvalidArgument());
  EXPECT_TRUE(store.Write(5, 1, buf.data() + 8).IsInvalidArgument());  // unaligned

  // One bad request refuses the whole batch: the good write is not issued.
  std::vector<BlockIo> batch = {
      {.op = BlockIo::Op::kWrite, .slot = kSlots - 1, .nr = 1, .buf = buf.data()},
      {.op = BlockIo::Op::kWrite, .slot = 0, .nr = 1, .buf = buf.data()},
  };
  Status s = store.Submit(batch);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("slot 0"), std::string::npos) << s.ToString();
  EXPECT_EQ(batch[0].error, ECANCELED);
  EXPECT_EQ(batch[1].error, EINVAL);

  EXPECT_TRUE(this->RunHolds(kSlots - 1, 1, 3));
  EXPECT_TRUE(this->HeaderIntact());
  const BlockStoreStats after = store.stats();
  EXPECT_EQ(after.writes, before.writes);
  EXPECT_EQ(after.errors, before.errors + 10);
}

TYPED_TEST(BlockStoreTest, StatsCountCompletedRequests) {
  const BlockStoreStats zero = this->store_->stats();
  EXPECT_EQ(zero.reads + zero.writes + zero.errors, 0u);
  ASSERT_TRUE(this->WriteRun(10, 4, 1).ok());
  ASSERT_TRUE(this->WriteRun(20, 1, 1).ok());
  ASSERT_TRUE(this->RunHolds(10, 4, 1));
  const BlockStoreStats s = this->store_->stats();
  EXPECT_EQ(s.writes, 2u);
  EXPECT_EQ(s.slots_written, 5u);
  EXPECT_EQ(s.reads, 1u);
  EXPECT_EQ(s.slots_read, 4u);
  EXPECT_EQ(s.errors, 0u);
}

TYPED_TEST(BlockStoreTest, SyncSucceeds) {
  ASSERT_TRUE(this->WriteRun(2, 1, 1).ok());
  EXPECT_TRUE(this->store_->Sync().ok());
}

TYPED_TEST(BlockStoreTest, EmptyBatchIsOk) { EXPECT_TRUE(this->store_->Submit({}).ok()); }

// ---------------------------------------------------------------------------
// File-backed stores ("file" and "uring").

class FileStoresTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  Result<std::unique_ptr<BlockStore>> Open(const std::string& path, uint64_t nr_slots,
                                           bool direct_io = true) {
    return OpenBlockStore(path, kPage, nr_slots,
                          BlockStoreOptions{.kind = GetParam(), .direct_io = direct_io});
  }
  bool Available() {
    for (const std::string& k : AvailableBlockStores()) {
      if (k == GetParam()) return true;
    }
    return false;
  }

  TempDir dir_;
};

TEST_P(FileStoresTest, ReadPastEndOfShortFileIsEio) {
  if (!Available()) GTEST_SKIP() << GetParam() << " not built";
  const std::string path = dir_.File("short");
  CreateAreaFile(path, 8);                                  // the store believes in 16 slots
  ASSERT_EQ(::truncate(path.c_str(), 8 * kPage + 100), 0);  // slot 8 is a 100-byte stub
  auto store = Open(path, 16);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  PageBuffer buf(3 * kPage);
  BlockIo ios[] = {
      {.op = BlockIo::Op::kRead, .slot = 7, .nr = 1, .buf = buf.data()},              // inside
      {.op = BlockIo::Op::kRead, .slot = 10, .nr = 1, .buf = buf.data() + kPage},     // past EOF
      {.op = BlockIo::Op::kRead, .slot = 8, .nr = 1, .buf = buf.data() + 2 * kPage},  // stub
  };
  Status s = (*store)->Submit(ios);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(ios[0].error, 0);
  EXPECT_EQ(ios[1].error, EIO);
  EXPECT_EQ(ios[2].error, EIO);
  // A run straddling the end: the first slot reads, the rest is short.
  Status straddle = (*store)->Read(7, 2, buf.data());
  EXPECT_TRUE(straddle.IsIOError()) << straddle.ToString();
  EXPECT_EQ((*store)->stats().errors, 3u);
}

TEST_P(FileStoresTest, DirectIoOnTmpfsWorksWithOrWithoutODirect) {
  if (!Available()) GTEST_SKIP() << GetParam() << " not built";
  char templ[] = "/dev/shm/uswap-io-XXXXXX";
  if (::mkdtemp(templ) == nullptr) GTEST_SKIP() << "no /dev/shm";
  const std::string path = std::string(templ) + "/area";
  CreateAreaFile(path, 16);
  {
    auto store = Open(path, 16);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    PageBuffer buf(3 * kPage);
    FillRun(buf.data(), 4, 3, 6);
    ASSERT_TRUE((*store)->Write(4, 3, buf.data()).ok());
    std::memset(buf.data(), 0, buf.size());
    ASSERT_TRUE((*store)->Read(4, 3, buf.data()).ok());
    EXPECT_TRUE(CheckRun(buf.data(), 4, 3, 6));
    EXPECT_TRUE((*store)->Sync().ok());
  }
  EXPECT_TRUE(FileHeaderIntact(path));
  ::unlink(path.c_str());
  ::rmdir(templ);
}

TEST_P(FileStoresTest, RefusesSymlink) {
  if (!Available()) GTEST_SKIP() << GetParam() << " not built";
  const std::string path = dir_.File("area"), link = dir_.File("link");
  CreateAreaFile(path, 4);
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  auto store = Open(link, 4);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(link), std::string::npos) << store.status().ToString();
}

TEST_P(FileStoresTest, MissingFileIsNotFound) {
  if (!Available()) GTEST_SKIP() << GetParam() << " not built";
  auto store = Open(dir_.File("absent"), 4);
  EXPECT_TRUE(store.status().IsNotFound()) << store.status().ToString();
}

TEST_P(FileStoresTest, BufferedModeRoundTrip) {
  if (!Available()) GTEST_SKIP() << GetParam() << " not built";
  const std::string path = dir_.File("area");
  CreateAreaFile(path, 8);
  auto store = Open(path, 8, /*direct_io=*/false);
  ASSERT_TRUE(store.ok());
  PageBuffer buf(kPage);
  FillRun(buf.data(), 3, 1, 4);
  ASSERT_TRUE((*store)->Write(3, 1, buf.data()).ok());
  std::memset(buf.data(), 0, kPage);
  ASSERT_TRUE((*store)->Read(3, 1, buf.data()).ok());
  EXPECT_TRUE(CheckRun(buf.data(), 3, 1, 4));
}

// Stores opened from several threads at once, used from several threads,
// then destroyed: every fd (file and rings) must be gone.
TEST_P(FileStoresTest, DestroyingStoresReleasesEveryFd) {
  if (!Available()) GTEST_SKIP() << GetParam() << " not built";
  const std::string path = dir_.File("area");
  CreateAreaFile(path, 64);
  const int baseline = CountOpenFds();
  for (int round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<BlockStore>> stores;
    for (int i = 0; i < 2; ++i) {
      auto store = Open(path, 64);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      stores.push_back(std::move(*store));
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&stores, t] {
        PageBuffer buf(8 * kPage);
        for (int i = 0; i < 20; ++i) {
          BlockStore& s = *stores[(t + i) % stores.size()];
          (void)s.Write(1 + t * 8, 8, buf.data());
          (void)s.Read(1 + t * 8, 8, buf.data());
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_GT(CountOpenFds(), baseline);
  }
  EXPECT_EQ(CountOpenFds(), baseline);
}

INSTANTIATE_TEST_SUITE_P(Kinds, FileStoresTest, ::testing::Values("file", "uring"),
                         [](const auto& info) { return std::string(info.param); });

TEST(PosixFileStoreTest, UsesODirectOnRealFileSystem) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  CreateAreaFile(dir.File("area"), 4);
  auto store = PosixFileStore::Open(dir.File("area"), kPage, 4, /*direct_io=*/true);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->direct_io());
}

// A file system refusing O_DIRECT (EINVAL at open): the store opens without
// it and works through the page cache.
int OpenRefusingDirect(const char* path, int flags) {
  if (flags & O_DIRECT) {
    errno = EINVAL;
    return -1;
  }
  return ::open(path, flags);
}

TEST(PosixFileStoreTest, FallsBackWhenODirectRefused) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  CreateAreaFile(dir.File("area"), 4);
  Result<PageFile> file = OpenPageFile(dir.File("area"), true, &OpenRefusingDirect);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_FALSE(file->direct_io);
  EXPECT_EQ(::fcntl(file->fd.get(), F_GETFL) & O_DIRECT, 0);
  PosixFileStore store(std::move(*file), kPage, 4);
  PageBuffer buf(kPage);
  FillRun(buf.data(), 2, 1, 1);
  ASSERT_TRUE(store.Write(2, 1, buf.data()).ok());
  std::memset(buf.data(), 0, kPage);
  ASSERT_TRUE(store.Read(2, 1, buf.data()).ok());
  EXPECT_TRUE(CheckRun(buf.data(), 2, 1, 1));
}

int OpenFailingWithEacces(const char*, int) {
  errno = EACCES;
  return -1;
}

TEST(PosixFileStoreTest, OtherOpenErrorsAreNotRetried) {
  Result<PageFile> file = OpenPageFile("/nowhere", true, &OpenFailingWithEacces);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("/nowhere"), std::string::npos);
}

#if HAVE_LIBURING
// A tiny ring must still run a large batch of multi-slot runs, and the ring
// pool never grows past its bound however many threads submit.
TEST(UringStoreTest, SmallQueueDepthAndBoundedRingPool) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  CreateAreaFile(dir.File("area"), kSlots);
  auto opened = UringStore::Open(dir.File("area"), kPage, kSlots,
                                 BlockStoreOptions{.kind = "uring", .queue_depth = 2});
  if (opened.status().IsNotSupported()) GTEST_SKIP() << opened.status().ToString();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  UringStore& store = **opened;
  constexpr int kThreads = 12;
  std::vector<std::thread> threads;
  std::vector<int> bad(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, &bad, t] {
      const uint64_t first = 1 + t * 20;
      PageBuffer buf(20 * kPage);
      FillRun(buf.data(), first, 20, t);
      std::vector<BlockIo> batch;
      for (uint32_t i = 0; i < 20; i += 4) {
        batch.push_back({.op = BlockIo::Op::kWrite,
                         .slot = first + i,
                         .nr = 4,
                         .buf = buf.data() + size_t{i} * kPage});
      }
      if (!store.Submit(batch).ok()) ++bad[t];
      std::memset(buf.data(), 0, buf.size());
      if (!store.Read(first, 20, buf.data()).ok()) ++bad[t];
      if (!CheckRun(buf.data(), first, 20, t)) ++bad[t];
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
  EXPECT_GE(store.nr_rings(), 1u);
  EXPECT_LE(store.nr_rings(), UringStore::kMaxRings);
}

TEST(UringStoreTest, RejectsZeroQueueDepth) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  CreateAreaFile(dir.File("area"), 4);
  auto store = UringStore::Open(dir.File("area"), kPage, 4,
                                BlockStoreOptions{.kind = "uring", .queue_depth = 0});
  EXPECT_TRUE(store.status().IsInvalidArgument());
}
#endif

// ---------------------------------------------------------------------------
// Registry

TEST(BlockStoreRegistryTest, DefaultIsAvailableAndListedFirst) {
  const std::vector<std::string> kinds = AvailableBlockStores();
  ASSERT_FALSE(kinds.empty());
  EXPECT_EQ(kinds.front(), DefaultBlockStore());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "file"), kinds.end());
  EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "mem"), kinds.end());
  EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "uring") != kinds.end(), HAVE_LIBURING == 1);
}

TEST(BlockStoreRegistryTest, EmptyKindOpensDefault) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  CreateAreaFile(dir.File("area"), 4);
  auto store = OpenBlockStore(dir.File("area"), kPage, 4, BlockStoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->name(), DefaultBlockStore());
  EXPECT_EQ((*store)->page_size(), kPage);
  EXPECT_EQ((*store)->nr_slots(), 4u);
}

TEST(BlockStoreRegistryTest, UnknownKindIsNotSupportedAndNamed) {
  for (const char* kind : {"bogus", "mem"}) {
    auto store = OpenBlockStore("/nonexistent", kPage, 4, BlockStoreOptions{.kind = kind});
    EXPECT_TRUE(store.status().IsNotSupported()) << store.status().ToString();
    EXPECT_NE(store.status().message().find(kind), std::string::npos);
  }
}

TEST(BlockStoreRegistryTest, RejectsBadGeometry) {
  EXPECT_TRUE(OpenBlockStore("/x", 1000, 4, {}).status().IsInvalidArgument());
  EXPECT_TRUE(OpenBlockStore("/x", 0, 4, {}).status().IsInvalidArgument());
  EXPECT_TRUE(OpenBlockStore("/x", kPage, 0, {}).status().IsInvalidArgument());
  EXPECT_TRUE(OpenBlockStore("/x", kPage, UINT64_MAX / 2, {}).status().IsInvalidArgument());
}

// ---------------------------------------------------------------------------
// MemStore's test hooks

TEST(MemStoreTest, CorruptFlipsOneByteBehindTheStore) {
  MemStore store(kPage, 4);
  PageBuffer buf(kPage), back(kPage);
  FillRun(buf.data(), 2, 1, 1);
  ASSERT_TRUE(store.Write(2, 1, buf.data()).ok());
  store.Corrupt(2, 100);
  ASSERT_TRUE(store.Read(2, 1, back.data()).ok());
  EXPECT_EQ(back.data()[100], ~buf.data()[100]);
  back.data()[100] = buf.data()[100];
  EXPECT_EQ(std::memcmp(back.data(), buf.data(), kPage), 0);
  EXPECT_EQ(store.stats().reads, 1u);  // the hook itself is no I/O
}

TEST(MemStoreTest, CountsSyncs) {
  MemStore store(kPage, 4);
  EXPECT_EQ(store.sync_count(), 0u);
  EXPECT_TRUE(store.Sync().ok());
  EXPECT_EQ(store.sync_count(), 1u);
}

}  // namespace
}  // namespace uswap
