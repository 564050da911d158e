#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "swap/swap_format.h"
#include "swap/swap_header.h"
#include "uswap/swap_area.h"

namespace uswap {
namespace {

class MakeSwapAreaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/uswap-mkswap-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const char* f : {"a.swap", "data", "small", "link"}) ::unlink((dir_ + "/" + f).c_str());
    ::rmdir(dir_.c_str());
  }
  std::string Path(const char* name) const { return dir_ + "/" + name; }
  Result<SwapHeader> Header(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno("open", errno);
    return ReadSwapHeader(fd.get());
  }
  static void WriteFile(const std::string& path, const std::string& bytes, size_t size) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
    ASSERT_TRUE(PwriteAll(fd.get(), bytes.data(), bytes.size(), 0).ok());
  }
  std::string dir_;
};

TEST_F(MakeSwapAreaTest, CreatesAFullyAllocatedPrivateAreaThatParses) {
  SwapAreaOptions o;
  o.label = "scratch";
  o.page_size = 4096;
  Result<SwapAreaInfo> made = MakeSwapArea(Path("a.swap"), 4 << 20, o);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->pages, 1024u);
  EXPECT_EQ(made->usable_bytes, 1023u * 4096);
  EXPECT_TRUE(made->warnings.empty());
  EXPECT_NE(made->uuid, (std::array<uint8_t, 16>{})) << "no random UUID";
  EXPECT_EQ(made->uuid[6] >> 4, 4) << "not a version-4 UUID";

  Result<SwapHeader> h = Header(Path("a.swap"));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->page_size, 4096u);
  EXPECT_EQ(h->last_page, 1023u);
  EXPECT_EQ(h->label, "scratch");
  EXPECT_EQ(h->uuid, made->uuid);
  struct stat st;
  ASSERT_EQ(::stat(Path("a.swap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 4u << 20);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, 4u << 20) << "file has holes";
}

TEST_F(MakeSwapAreaTest, GivenUuidAndExistingFileFormattedWhole) {
  WriteFile(Path("data"), "", 1 << 20);
  SwapAreaOptions o;
  o.uuid = std::array<uint8_t, 16>{};  // explicitly none
  o.page_size = 4096;
  Result<SwapAreaInfo> made = MakeSwapArea(Path("data"), 0, o);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Result<SwapHeader> h = Header(Path("data"));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->pages(), 256u);
  EXPECT_EQ(h->uuid, (std::array<uint8_t, 16>{}));
  // ftruncate'd, not allocated: swapon(2) would refuse it; said, not failed.
  ASSERT_EQ(made->warnings.size(), 1u);
  EXPECT_NE(made->warnings[0].find("holes"), std::string::npos) << made->warnings[0];
}

TEST_F(MakeSwapAreaTest, RefusesToOverwriteWithoutForce) {
  WriteFile(Path("data"), "precious", 1 << 20);
  Result<SwapAreaInfo> made = MakeSwapArea(Path("data"), 0);
  ASSERT_TRUE(made.status().IsBusy()) << made.status().ToString();
  EXPECT_NE(made.status().message().find("holds data (non-zero byte at offset 0"),
            std::string::npos)
      << made.status().ToString();
  made = MakeSwapArea(Path("data"), 2 << 20);
  EXPECT_TRUE(made.status().IsBusy()) << made.status().ToString();
  EXPECT_EQ(made.status().message(), "already exists");
  Result<SwapHeader> h = Header(Path("data"));
  EXPECT_FALSE(h.ok()) << "the file was formatted anyway";

  SwapAreaOptions force;
  force.force = true;
  made = MakeSwapArea(Path("data"), 2 << 20, force);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE(Header(Path("data")).ok());
  // A swap area is recognised as such.
  made = MakeSwapArea(Path("data"), 0);
  ASSERT_TRUE(made.status().IsBusy());
  EXPECT_EQ(made.status().message().rfind("holds a swap area (", 0), 0u)
      << made.status().ToString();
}

TEST_F(MakeSwapAreaTest, BadRequestsChangeNothing) {
  EXPECT_TRUE(MakeSwapArea(Path("missing"), 0).status().IsNotFound());
  SwapAreaOptions o;
  o.label = "a-label-of-16-by";
  EXPECT_TRUE(MakeSwapArea(Path("a.swap"), 4 << 20, o).status().IsInvalidArgument());
  o = {};
  o.page_size = 3000;
  EXPECT_TRUE(MakeSwapArea(Path("a.swap"), 4 << 20, o).status().IsInvalidArgument());
  o.page_size = 4096;
  Result<SwapAreaInfo> small = MakeSwapArea(Path("small"), 9 * 4096, o);
  EXPECT_TRUE(small.status().IsInvalidArgument()) << small.status().ToString();
  EXPECT_NE(small.status().message().find("too small"), std::string::npos);
  ASSERT_EQ(::symlink("a.swap", Path("link").c_str()), 0);
  EXPECT_FALSE(MakeSwapArea(Path("link"), 4 << 20, o).ok()) << "followed a symlink";
  for (const char* f : {"a.swap", "small", "missing"})
    EXPECT_NE(::access(Path(f).c_str(), F_OK), 0) << f << " was created";
}

}  // namespace
}  // namespace uswap
