#include "cli_util.h"

#include <gtest/gtest.h>

#include "fuzz/fuzz_replay.h"

namespace uswap::cli {
namespace {

TEST(ParseSizeTest, AcceptsBytesAndBinarySuffixes) {
  EXPECT_EQ(*ParseSize("0"), 0u);
  EXPECT_EQ(*ParseSize("40960"), 40960u);
  EXPECT_EQ(*ParseSize("64K"), 64u << 10);
  EXPECT_EQ(*ParseSize("64k"), 64u << 10);
  EXPECT_EQ(*ParseSize("64KiB"), 64u << 10);
  EXPECT_EQ(*ParseSize("512M"), 512u << 20);
  EXPECT_EQ(*ParseSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseSize("3T"), 3ull << 40);
  EXPECT_EQ(*ParseSize("18446744073709551615"), UINT64_MAX);
}

TEST(ParseSizeTest, RejectsMalformedAndOverflowingSizes) {
  for (const char* bad : {"", "K", "-1", "+1", " 1", "1 ", "1.5G", "1X", "1KB2", "1Kib", "0x10",
                          "18446744073709551616", "16777216T", "99999999999999999999K"}) {
    Result<uint64_t> r = ParseSize(bad);
    EXPECT_FALSE(r.ok()) << '"' << bad << '"';
    EXPECT_TRUE(r.status().IsInvalidArgument()) << '"' << bad << '"';
  }
  EXPECT_NE(ParseSize("1X").status().message().find("unknown suffix"), std::string::npos);
  EXPECT_NE(ParseSize("99999999999999999999").status().message().find("too large"),
            std::string::npos);
}

TEST(ParsePageSizeTest, AcceptsPowersOfTwoFrom4KTo64K) {
  EXPECT_EQ(*ParsePageSize("4096"), 4096u);
  EXPECT_EQ(*ParsePageSize("16K"), 16384u);
  EXPECT_EQ(*ParsePageSize("65536"), 65536u);
  for (const char* bad : {"2048", "6144", "131072", "0", "4097"}) {
    EXPECT_FALSE(ParsePageSize(bad).ok()) << bad;
  }
}

TEST(UuidTest, ParsesAndFormatsCanonicalForm) {
  Result<Uuid> u = ParseUuid("0123ABCD-89ab-cdef-0123-456789abcdef");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)[0], 0x01);
  EXPECT_EQ((*u)[3], 0xcd);
  EXPECT_EQ((*u)[15], 0xef);
  EXPECT_EQ(FormatUuid(*u), "0123abcd-89ab-cdef-0123-456789abcdef");
  for (const char* bad :
       {"", "0123abcd89abcdef0123456789abcdef", "0123abcd-89ab-cdef-0123-456789abcde",
        "0123abcd-89ab-cdef-0123-456789abcdeff", "0123abcd-89ab-cdef-0123_456789abcdef",
        "0123abcg-89ab-cdef-0123-456789abcdef", "{0123abcd-89ab-cdef-0123-456789abcd}"}) {
    EXPECT_FALSE(ParseUuid(bad).ok()) << bad;
  }
}

TEST(UuidTest, MakeUuidKeywords) {
  EXPECT_TRUE(IsNullUuid(*MakeUuid("clear")));
  Result<Uuid> a = MakeUuid("random"), b = MakeUuid("random");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ((*a)[6] >> 4, 4);  // version 4
  EXPECT_EQ((*a)[8] >> 6, 2);  // RFC 4122 variant
  Result<Uuid> t = MakeUuid("time");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)[6] >> 4, 1);  // version 1
  EXPECT_EQ((*t)[8] >> 6, 2);
  EXPECT_EQ((*t)[10] & 1, 1);  // multicast node: never a real MAC
  EXPECT_FALSE(MakeUuid("Random").ok());
}

TEST(CheckLabelTest, AllowsAtMostFifteenBytes) {
  EXPECT_TRUE(CheckLabel("").ok());
  EXPECT_TRUE(CheckLabel("fifteen-bytes-x").ok());
  Status s = CheckLabel("sixteen-bytes-xx");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("is 16 bytes, at most 15 fit"), std::string::npos) << s.message();
  EXPECT_FALSE(CheckLabel(std::string_view("a\0b", 3)).ok());
}

TEST(JsonQuoteTest, EscapesEverythingButPrintableAscii) {
  EXPECT_EQ(JsonQuote("swap"), "\"swap\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote(std::string_view("\n\0\xff", 3)), "\"\\u000a\\u0000\\u00ff\"");
}

TEST(HumanSizeTest, MatchesUtilLinuxSizeStrings) {
  // Figures printed by util-linux 2.38 mkswap for these usable sizes.
  EXPECT_EQ(HumanSize(36864), "36 KiB");
  EXPECT_EQ(HumanSize(1044480), "1020 KiB");
  EXPECT_EQ(HumanSize(2555904), "2.4 MiB");
  EXPECT_EQ(HumanSize(73728), "72 KiB");
  EXPECT_EQ(HumanSize(512), "512 B");
  EXPECT_EQ(HumanSize(1024), "1 KiB");
  EXPECT_EQ(HumanSize((1ull << 30) - 4096), "1024 MiB");  // 1023.996 rounds up
  EXPECT_EQ(HumanSize(UINT64_MAX), "16 EiB");
}

// Every seed and every input that once broke the fuzzer passes its checks
// (a failure aborts).
TEST(CliParseFuzzReplay, CorpusAndRegressionsPass) {
  EXPECT_GE(fuzz::ReplayFuzzInputs(USWAP_FUZZ_DIR, "cli_parse_fuzz"), 5)
      << "seeds missing from " << USWAP_FUZZ_DIR;
}

}  // namespace
}  // namespace uswap::cli
