#include "swap/swap_header.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "base/unique_fd.h"
#include "fuzz/fuzz_replay.h"

namespace uswap {
namespace {

namespace sf = swap_format;

constexpr std::array<uint8_t, 16> kUuid = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                           0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};

class SwapHeaderTest : public ::testing::Test {
 protected:
  // A valid header of `pages` pages of `page_size` bytes.
  static SwapHeader Make(size_t page_size = 4096, uint32_t pages = 100) {
    SwapHeader h;
    h.page_size = page_size;
    h.last_page = pages - 1;
    h.uuid = kUuid;
    h.label = "swap0";
    return h;
  }
  static uint64_t FileSize(const SwapHeader& h) { return h.pages() * h.page_size; }

  static void PokeU32(std::vector<uint8_t>& page, size_t offset, uint32_t v) {
    std::memcpy(page.data() + offset, &v, sizeof(v));
  }
  static uint32_t PeekU32(const std::vector<uint8_t>& page, size_t offset) {
    uint32_t v;
    std::memcpy(&v, page.data() + offset, sizeof(v));
    return v;
  }

  // Parses `page` and returns the error message ("" if it parsed).
  static std::string ParseError(const std::vector<uint8_t>& page, uint64_t file_size) {
    Result<SwapHeader> r = SwapHeader::Parse(page, file_size);
    return r.ok() ? "" : r.status().message();
  }
};

TEST_F(SwapHeaderTest, RoundTripsEveryPageSize) {
  for (size_t ps = sf::kMinPageSize; ps <= sf::kMaxPageSize; ps *= 2) {
    SwapHeader h = Make(ps, 64);
    h.bad_pages = {1, 7, 63};
    ASSERT_TRUE(h.Validate(FileSize(h)).ok()) << h.Validate(FileSize(h)).ToString();
    std::vector<uint8_t> page = h.Serialize();
    ASSERT_EQ(page.size(), ps);
    Result<SwapHeader> r = SwapHeader::Parse(page, FileSize(h));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->page_size, ps);
    EXPECT_EQ(r->version, 1u);
    EXPECT_EQ(r->last_page, 63u);
    EXPECT_EQ(r->uuid, kUuid);
    EXPECT_EQ(r->label, "swap0");
    EXPECT_EQ(r->bad_pages, h.bad_pages);
    EXPECT_FALSE(r->foreign_byte_order);
    EXPECT_EQ(r->Serialize(), page);
  }
}

TEST_F(SwapHeaderTest, SerializeLaysOutFieldsAsMkswap) {
  SwapHeader h = Make(8192, 100);
  h.label = "fifteen-bytes-x";  // the longest label that fits
  h.bad_pages = {5};
  std::vector<uint8_t> page = h.Serialize();
  for (size_t i = 0; i < sf::kBootbitsSize; ++i) ASSERT_EQ(page[i], 0) << i;
  EXPECT_EQ(PeekU32(page, 1024), 1u);
  EXPECT_EQ(PeekU32(page, 1028), 99u);
  EXPECT_EQ(PeekU32(page, 1032), 1u);
  EXPECT_EQ(std::memcmp(page.data() + 1036, kUuid.data(), 16), 0);
  EXPECT_EQ(std::memcmp(page.data() + 1052, "fifteen-bytes-x", 16), 0);  // with its NUL
  for (size_t i = 1068; i < 1536; ++i) ASSERT_EQ(page[i], 0) << i;
  EXPECT_EQ(PeekU32(page, 1536), 5u);
  for (size_t i = 1540; i < 8192 - 10; ++i) ASSERT_EQ(page[i], 0) << i;
  EXPECT_EQ(std::memcmp(page.data() + 8182, "SWAPSPACE2", 10), 0);
}

TEST_F(SwapHeaderTest, ReadsForeignByteOrder) {
  SwapHeader h = Make(4096, 50);
  h.bad_pages = {2, 3};
  h.foreign_byte_order = true;
  std::vector<uint8_t> page = h.Serialize();
  EXPECT_EQ(PeekU32(page, 1024), __builtin_bswap32(1));
  EXPECT_EQ(PeekU32(page, 1028), __builtin_bswap32(49));
  Result<SwapHeader> r = SwapHeader::Parse(page, FileSize(h));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->foreign_byte_order);
  EXPECT_EQ(r->last_page, 49u);
  EXPECT_EQ(r->bad_pages, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(r->Serialize(), page);
}

TEST_F(SwapHeaderTest, FindsSmallestPageWithMagic) {
  // A 64 KiB page whose bytes also show the magic at 4086 is read as a
  // 4 KiB page, as blkid and the kernel (on 4 KiB systems) would.
  SwapHeader h = Make(65536, 20);
  std::vector<uint8_t> page = h.Serialize();
  std::memcpy(page.data() + 4086, "SWAPSPACE2", 10);
  Result<SwapHeader> r = SwapHeader::Parse(page, FileSize(h));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->page_size, 4096u);
}

TEST_F(SwapHeaderTest, RejectsEachCorruptionWithItsOwnMessage) {
  const SwapHeader h = Make(4096, 100);
  const std::vector<uint8_t> good = h.Serialize();
  const uint64_t size = FileSize(h);
  ASSERT_EQ(ParseError(good, size), "");

  struct Case {
    const char* name;
    std::vector<uint8_t> page;
    uint64_t size;
    const char* want;  // substring of the message
  };
  std::vector<Case> cases;
  auto with = [&](size_t off, uint32_t v) {
    std::vector<uint8_t> p = good;
    PokeU32(p, off, v);
    return p;
  };
  {
    std::vector<uint8_t> p = good;
    p[4090] = 'X';
    cases.push_back({"bad magic", p, size, "bad magic: no SWAPSPACE2 signature"});
  }
  {
    std::vector<uint8_t> p = good;
    std::memcpy(p.data() + 4086, "SWAP-SPACE", 10);
    cases.push_back({"version 0 magic", p, size, "old version-0 signature SWAP-SPACE"});
  }
  cases.push_back({"version 2", with(1024, 2), size, "version is 2, expected 1"});
  cases.push_back({"last_page 0", with(1028, 0), size, "last_page is 0"});
  cases.push_back({"too few pages", with(1028, 5), size,
                   "last_page is 5: 6 pages, fewer than the minimum of 10"});
  cases.push_back({"past file end", with(1028, 100), size,
                   "last_page is 100: the area needs 413696 bytes but the file has only 409600"});
  {
    std::vector<uint8_t> p = with(1032, 1);
    PokeU32(p, 1536, 0);
    cases.push_back({"bad page 0", p, size, "bad page entry 0 is 0: slot 0 holds the header"});
  }
  {
    std::vector<uint8_t> p = with(1032, 2);
    PokeU32(p, 1536, 4);
    PokeU32(p, 1540, 100);
    cases.push_back({"bad page past end", p, size, "bad page entry 1 is 100, past last_page 99"});
  }
  cases.push_back({"too many bad pages", with(1032, 638), size,
                   "nr_badpages is 638, more than the 637 that fit in a 4096-byte page"});
  cases.push_back({"shorter than a page", std::vector<uint8_t>(good.begin(), good.begin() + 4000),
                   4000, "truncated: 4000 bytes, shorter than the smallest page (4096 bytes)"});
  {
    // An 8 KiB-page header cut at 6000 bytes: the magic is past the end.
    std::vector<uint8_t> p = Make(8192, 100).Serialize();
    p.resize(6000);
    cases.push_back(
        {"magic cut off", p, 6000, "truncated: version-1 header but the file ends at 6000 bytes"});
  }

  std::set<std::string> messages;
  for (const Case& c : cases) {
    Result<SwapHeader> r = SwapHeader::Parse(c.page, c.size);
    ASSERT_FALSE(r.ok()) << c.name;
    const std::string msg = r.status().message();  // status() is a temporary
    EXPECT_NE(msg.find(c.want), std::string::npos) << c.name << ": " << msg;
    EXPECT_EQ(msg.rfind("swap header: ", 0), 0u) << c.name << ": " << msg;
    messages.insert(msg);
  }
  EXPECT_EQ(messages.size(), cases.size()) << "two corruptions share one message";
}

TEST_F(SwapHeaderTest, ForeignVersionTwoIsNotForeign) {
  // Only swab32(1) marks the other byte order; swab32(2) is a bad version.
  std::vector<uint8_t> p = Make().Serialize();
  PokeU32(p, 1024, __builtin_bswap32(2));
  EXPECT_NE(ParseError(p, 409600).find("version is 33554432, expected 1"), std::string::npos)
      << ParseError(p, 409600);
}

TEST_F(SwapHeaderTest, ForeignOrderChecksSwappedBadPages) {
  SwapHeader h = Make(4096, 100);
  h.foreign_byte_order = true;
  h.bad_pages = {100};  // past last_page once swapped back
  std::vector<uint8_t> page = h.Serialize();
  EXPECT_NE(ParseError(page, FileSize(h)).find("bad page entry 0 is 100, past last_page 99"),
            std::string::npos);
}

TEST_F(SwapHeaderTest, ProbeKeepsFieldsOfAnInvalidHeader) {
  SwapHeader h = Make(4096, 100);
  std::vector<uint8_t> page = h.Serialize();
  PokeU32(page, 1032, 5000);  // nr_badpages far past the page
  Result<SwapHeaderProbe> p = ProbeSwapHeader(page, FileSize(h));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->nr_badpages, 5000u);
  EXPECT_EQ(p->header.bad_pages.size(), sf::MaxBadpages(4096));
  EXPECT_EQ(p->header.label, "swap0");
  EXPECT_TRUE(p->validity.IsCorruption());
  EXPECT_NE(p->validity.message().find("nr_badpages is 5000"), std::string::npos);
}

TEST_F(SwapHeaderTest, ReadsSixteenByteLabelWithoutNul) {
  std::vector<uint8_t> page = Make().Serialize();
  std::memcpy(page.data() + 1052, "0123456789abcdef", 16);
  Result<SwapHeader> r = SwapHeader::Parse(page, 409600);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->label, "0123456789abcdef");
  // ...but will not write one: mkswap keeps a NUL.
  EXPECT_TRUE(r->Validate(409600).IsInvalidArgument());
}

TEST_F(SwapHeaderTest, ValidateRejectsWhatMkswapWouldNotWrite) {
  SwapHeader h = Make();
  h.page_size = 3000;
  EXPECT_NE(h.Validate(1 << 20).message().find("page_size is 3000"), std::string::npos);
  h.page_size = 131072;
  EXPECT_NE(h.Validate(1 << 30).message().find("page_size is 131072"), std::string::npos);
  h = Make();
  h.label = std::string(16, 'a');
  EXPECT_NE(h.Validate(FileSize(h)).message().find("label is 16 bytes, at most 15"),
            std::string::npos);
  h.label = std::string("a\0b", 3);
  EXPECT_TRUE(h.Validate(FileSize(h)).IsInvalidArgument());
  h = Make();
  h.bad_pages = {0};
  EXPECT_NE(h.Validate(FileSize(h)).message().find("bad page entry 0 is 0"), std::string::npos);
  h = Make();
  EXPECT_NE(h.Validate(FileSize(h) - 1).message().find("the file has only"), std::string::npos);
}

TEST_F(SwapHeaderTest, ReadSwapHeaderFromFile) {
  UniqueFd fd(::memfd_create("swap_header_test", 0));
  ASSERT_TRUE(fd.valid());
  SwapHeader h = Make(8192, 12);
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(FileSize(h))), 0);
  std::vector<uint8_t> page = h.Serialize();
  ASSERT_EQ(::pwrite(fd.get(), page.data(), page.size(), 0), static_cast<ssize_t>(page.size()));
  Result<SwapHeader> r = ReadSwapHeader(fd.get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->page_size, 8192u);
  EXPECT_EQ(r->last_page, 11u);

  // One page short of what the header claims.
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(FileSize(h) - 8192)), 0);
  r = ReadSwapHeader(fd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the file has only 90112"), std::string::npos)
      << r.status().message();
}

TEST_F(SwapHeaderTest, ReadSwapHeaderRejectsPipes) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  Result<SwapHeader> h = ReadSwapHeader(r.get());
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(h.status().IsInvalidArgument());
  EXPECT_NE(h.status().message().find("not a regular file or block device"), std::string::npos);
}

// Every seed and every input that once broke the fuzzer passes its checks
// (a failure aborts). The valid_* seeds must parse, so the replay is not
// just of rejections.
TEST(SwapHeaderFuzzReplay, CorpusAndRegressionsPass) {
  const int replayed =
      fuzz::ReplayFuzzInputs(USWAP_FUZZ_DIR, "swap_header_fuzz",
                             [](const std::string& name, const std::vector<uint8_t>& input) {
                               if (name.rfind("valid_", 0) != 0) return;
                               uint64_t size;
                               ASSERT_GE(input.size(), sizeof(size));
                               std::memcpy(&size, input.data(), sizeof(size));
                               Result<SwapHeader> r = SwapHeader::Parse(
                                   std::span<const uint8_t>(input).subspan(sizeof(size)), size);
                               EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
                             });
  EXPECT_GE(replayed, 5) << "seeds missing from " << USWAP_FUZZ_DIR;
}

}  // namespace
}  // namespace uswap
