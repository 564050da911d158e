// uswap's swap-area tools against util-linux, on image files in a private
// temporary directory:
//   - `uswap mkswap` writes the same bytes as `mkswap` (same page size, size,
//     label and UUID), and prints the same two lines;
//   - `blkid -p -o export` and `swaplabel` read what uswap wrote;
//   - `uswap inspect --json` and `uswap label` read what mkswap wrote;
//   - `uswap label` changes the same bytes as `swaplabel`, and no others;
//   - `uswap mkswap` refuses to overwrite data without -f and leaves it be.
// util-linux must be installed (scripts/install-deps.sh); a missing tool
// fails the test rather than skipping it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#ifndef USWAP_CLI
#error "USWAP_CLI must name the uswap binary"
#endif

namespace {

constexpr char kUuid[] = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
constexpr char kUuid2[] = "12345678-9abc-4def-8123-456789abcdef";
constexpr size_t kUuidOffset = 1036;
constexpr size_t kLabelOffset = 1052;

struct Output {
  int status = -1;  // exit code, or -1 if it did not exit normally
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Finds a util-linux tool the way a root shell would, even when the test
// runs with a user's PATH (no /usr/sbin).
std::string FindTool(const std::string& name) {
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string p = dir + "/" + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

class SwapCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/uswap-compat-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << strerror(errno);
    dir_ = tmpl;
    for (const char* tool : {"mkswap", "blkid", "swaplabel"}) {
      std::string p = FindTool(tool);
      ASSERT_FALSE(p.empty()) << tool << " not found: install util-linux (scripts/install-deps.sh)";
      tools_[tool] = p;
    }
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs argv[0] (a full path) with stdout and stderr captured; with
  // `max_file_bytes`, under that RLIMIT_FSIZE.
  Output Run(const std::vector<std::string>& argv, rlim_t max_file_bytes = RLIM_INFINITY) {
    const std::string out = Path(".stdout"), err = Path(".stderr");
    pid_t pid = fork();
    if (pid == 0) {
      const rlimit limit = {max_file_bytes, max_file_bytes};
      if (max_file_bytes != RLIM_INFINITY && setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(127);
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(127);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    Output r;
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
      r.status = WEXITSTATUS(status);
    }
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
  }
  Output Uswap(std::vector<std::string> args, rlim_t max_file_bytes = RLIM_INFINITY) {
    args.insert(args.begin(), USWAP_CLI);
    return Run(args, max_file_bytes);
  }
  Output Tool(const std::string& tool, std::vector<std::string> args) {
    args.insert(args.begin(), tools_.at(tool));
    return Run(args);
  }

  // A zero-filled (sparse) file of `size` bytes.
  std::string MakeFile(const std::string& name, uint64_t size) {
    std::string p = Path(name);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    close(fd);
    return p;
  }

  // `blkid -p -o export` as KEY=VALUE lines.
  std::map<std::string, std::string> Blkid(const std::string& file) {
    Output r = Tool("blkid", {"-p", "-o", "export", file});
    EXPECT_EQ(r.status, 0) << r.err;
    std::map<std::string, std::string> kv;
    std::stringstream ss(r.out);
    std::string line;
    while (std::getline(ss, line)) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return kv;
  }

  std::string dir_;
  std::map<std::string, std::string> tools_;
};

// Offset of the first byte where a and b differ, or -1.
long long FirstDifference(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<long long>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<long long>(n);
}

// ---------------------------------------------------------------------------
// mkswap against mkswap, for each page size, with and without -L and -U.

struct Variant {
  size_t page_size;
  bool label;
  bool uuid;  // pass -U kUuid to both; otherwise both pick a random one
};

class MkswapMatchesUtilLinux : public SwapCompatTest,
                               public ::testing::WithParamInterface<Variant> {};

TEST_P(MkswapMatchesUtilLinux, SameBytesAndBothToolsReadThem) {
  const Variant v = GetParam();
  // 40 pages and a partial one: both must round down the same way.
  const uint64_t size = 40 * v.page_size + 1000;
  const std::string ours = MakeFile("ours", size), theirs = MakeFile("theirs", size);
  std::vector<std::string> args = {"-p", std::to_string(v.page_size)};
  if (v.label) args.insert(args.end(), {"-L", "compat-label"});
  if (v.uuid) args.insert(args.end(), {"-U", kUuid});

  std::vector<std::string> a = args;
  a.insert(a.begin(), "mkswap");
  a.push_back(ours);
  Output u = Uswap(a);
  ASSERT_EQ(u.status, 0) << u.err;
  a = args;
  a.push_back(theirs);
  Output t = Tool("mkswap", a);
  ASSERT_EQ(t.status, 0) << t.err;

  std::string ob = ReadFile(ours), tb = ReadFile(theirs);
  ASSERT_EQ(ob.size(), size);
  ASSERT_EQ(tb.size(), size);
  if (!v.uuid) {
    // Random UUIDs: both version 4 (RFC 4122 variant); then mask them.
    EXPECT_EQ(static_cast<uint8_t>(ob[kUuidOffset + 6]) >> 4, 4);
    EXPECT_EQ(static_cast<uint8_t>(ob[kUuidOffset + 8]) >> 6, 2);
    EXPECT_NE(ob.substr(kUuidOffset, 16), tb.substr(kUuidOffset, 16));
    std::memset(ob.data() + kUuidOffset, 0, 16);
    std::memset(tb.data() + kUuidOffset, 0, 16);
  } else {
    EXPECT_EQ(u.out, t.out) << "mkswap's two lines of output differ";
  }
  EXPECT_EQ(FirstDifference(ob, tb), -1) << "first differing byte";
  EXPECT_EQ(std::memcmp(ob.data() + v.page_size - 10, "SWAPSPACE2", 10), 0);

  // blkid and swaplabel read ours.
  auto kv = Blkid(ours);
  EXPECT_EQ(kv["TYPE"], "swap");
  EXPECT_EQ(kv["VERSION"], "1");
  EXPECT_EQ(kv.count("LABEL"), v.label ? 1u : 0u);
  if (v.label) {
    EXPECT_EQ(kv["LABEL"], "compat-label");
  }
  if (v.uuid) {
    EXPECT_EQ(kv["UUID"], kUuid);
  }
  Output sl = Tool("swaplabel", {ours});
  ASSERT_EQ(sl.status, 0) << sl.err;
  EXPECT_EQ(sl.out, Uswap({"label", ours}).out);
  if (v.label) {
    EXPECT_NE(sl.out.find("LABEL: compat-label\n"), std::string::npos) << sl.out;
  }
  if (v.uuid) {
    EXPECT_NE(sl.out.find(std::string("UUID:  ") + kUuid), std::string::npos) << sl.out;
  }

  // uswap reads theirs.
  Output in = Uswap({"inspect", "--json", theirs});
  ASSERT_EQ(in.status, 0) << in.out << in.err;
  auto has = [&](const std::string& s) {
    EXPECT_NE(in.out.find(s), std::string::npos) << s << " not in " << in.out;
  };
  has("\"version\":1,");
  has("\"page_size\":" + std::to_string(v.page_size) + ",");
  has("\"pages\":40,");
  has("\"last_page\":39,");
  has("\"usable_bytes\":" + std::to_string(39 * v.page_size) + ",");
  has(v.label ? "\"label\":\"compat-label\"," : "\"label\":null,");
  auto theirs_kv = Blkid(theirs);
  has("\"uuid\":\"" + theirs_kv["UUID"] + "\",");
  has("\"nr_badpages\":0,\"bad_pages\":[]");
  has("\"byte_order\":\"little\"");
  has("\"valid\":true");
}

std::string VariantName(const ::testing::TestParamInfo<Variant>& info) {
  return std::to_string(info.param.page_size) + (info.param.label ? "_label" : "_nolabel") +
         (info.param.uuid ? "_uuid" : "_randomuuid");
}

INSTANTIATE_TEST_SUITE_P(PageSizes, MkswapMatchesUtilLinux,
                         ::testing::Values(Variant{4096, false, false}, Variant{4096, true, false},
                                           Variant{4096, false, true}, Variant{4096, true, true},
                                           Variant{8192, false, false}, Variant{8192, true, true},
                                           Variant{65536, false, true}, Variant{65536, true, false},
                                           Variant{65536, true, true}),
                         VariantName);

// ---------------------------------------------------------------------------

TEST_F(SwapCompatTest, UuidClearMatchesUtilLinux) {
  const std::string ours = MakeFile("ours", 1 << 20), theirs = MakeFile("theirs", 1 << 20);
  ASSERT_EQ(Uswap({"mkswap", "-U", "clear", ours}).status, 0);
  ASSERT_EQ(Tool("mkswap", {"-U", "clear", theirs}).status, 0);
  EXPECT_EQ(FirstDifference(ReadFile(ours), ReadFile(theirs)), -1);
  EXPECT_EQ(Blkid(ours).count("UUID"), 0u);
  Output in = Uswap({"inspect", "--json", ours});
  EXPECT_NE(in.out.find("\"uuid\":null"), std::string::npos) << in.out;
}

TEST_F(SwapCompatTest, ReformatOverLargerPageAreaWipesItsMagicLikeUtilLinux) {
  // An old 64 KiB-page area reformatted with 4 KiB pages: util-linux wipes
  // the old magic at 65526 (libblkid), and so must uswap.
  const std::string ours = MakeFile("ours", 1 << 20), theirs = MakeFile("theirs", 1 << 20);
  for (const std::string& f : {ours, theirs}) {
    ASSERT_EQ(Tool("mkswap", {"-p", "65536", "-U", kUuid2, "-L", "old", f}).status, 0);
  }
  Output u = Uswap({"mkswap", "-f", "-p", "4096", "-U", kUuid, ours});
  ASSERT_EQ(u.status, 0) << u.err;
  ASSERT_EQ(Tool("mkswap", {"-p", "4096", "-U", kUuid, theirs}).status, 0);
  const std::string ob = ReadFile(ours);
  EXPECT_EQ(FirstDifference(ob, ReadFile(theirs)), -1);
  EXPECT_EQ(ob.substr(65526, 10), std::string(10, '\0'));
  EXPECT_EQ(Blkid(ours)["UUID"], kUuid);
}

TEST_F(SwapCompatTest, RefusesExistingDataWithoutForceAndLeavesItAlone) {
  struct Case {
    const char* name;
    size_t offset;
    std::string bytes;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"data", 100, "hello", "holds data (non-zero byte at offset 100 of page 0)"},
      {"ext4", 1080, std::string("\x53\xef", 2), "holds an ext2/3/4 file system"},
  };
  for (const Case& c : cases) {
    const std::string f = MakeFile(c.name, 1 << 20);
    std::string before = ReadFile(f);
    before.replace(c.offset, c.bytes.size(), c.bytes);
    WriteFile(f, before);
    Output r = Uswap({"mkswap", f});
    EXPECT_EQ(r.status, 1) << c.name;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("use -f"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_EQ(r.err.rfind("uswap mkswap: " + f + ": ", 0), 0u) << r.err;
    EXPECT_EQ(ReadFile(f), before) << c.name << " was changed";
    // -f formats it.
    r = Uswap({"mkswap", "-f", "-L", "forced", f});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(Blkid(f)["LABEL"], "forced");
  }
  // An existing swap area (made by util-linux).
  const std::string f = MakeFile("swap", 1 << 20);
  ASSERT_EQ(Tool("mkswap", {"-L", "keep", f}).status, 0);
  const std::string before = ReadFile(f);
  Output r = Uswap({"mkswap", "-L", "other", f});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("holds a swap area (4096-byte pages, LABEL=keep"), std::string::npos)
      << r.err;
  EXPECT_EQ(ReadFile(f), before);
  // Nor with -s over an existing file, nor with a bad label.
  EXPECT_EQ(Uswap({"mkswap", "-s", "1M", f}).status, 1);
  EXPECT_EQ(Uswap({"mkswap", "-f", "-L", "label-of-16-byte", f}).status, 2);
  EXPECT_EQ(ReadFile(f), before);
}

TEST_F(SwapCompatTest, LabelRewritesTheSameBytesAsSwaplabel) {
  const std::string ours = MakeFile("ours", 1 << 20), theirs = MakeFile("theirs", 1 << 20);
  ASSERT_EQ(Tool("mkswap", {"-L", "before", "-U", kUuid, ours}).status, 0);
  ASSERT_EQ(Run({"/bin/cp", ours, theirs}).status, 0);
  // Garbage past page 0 must survive too.
  std::string seeded = ReadFile(ours);
  seeded.replace(8192, 4, "junk");
  WriteFile(ours, seeded);
  WriteFile(theirs, seeded);

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-L", "after"}, {"-U", kUuid2}, {"-L", "both", "-U", kUuid}, {"-L", ""}}) {
    std::vector<std::string> a = {"label"};
    a.insert(a.end(), args.begin(), args.end());
    a.push_back(ours);
    Output u = Uswap(a);
    ASSERT_EQ(u.status, 0) << u.err;
    std::vector<std::string> b = args;
    b.push_back(theirs);
    ASSERT_EQ(Tool("swaplabel", b).status, 0);
    EXPECT_EQ(FirstDifference(ReadFile(ours), ReadFile(theirs)), -1) << args[0] << " " << args[1];
  }
  EXPECT_EQ(ReadFile(ours).substr(8192, 4), "junk");
  EXPECT_EQ(ReadFile(ours).substr(kLabelOffset, 16), std::string(16, '\0'));  // -L ""
  EXPECT_EQ(Blkid(ours).count("LABEL"), 0u);
  EXPECT_EQ(Blkid(ours)["UUID"], kUuid);

  // Invalid requests change nothing.
  const std::string before = ReadFile(ours);
  EXPECT_EQ(Uswap({"label", "-L", "much-too-long-label", ours}).status, 2);
  EXPECT_EQ(Uswap({"label", "-U", "not-a-uuid", ours}).status, 2);
  EXPECT_EQ(ReadFile(ours), before);
  const std::string junk = MakeFile("junk", 1 << 20);
  Output r = Uswap({"label", "-L", "x", junk});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not a valid swap area: swap header: bad magic"), std::string::npos)
      << r.err;
  EXPECT_EQ(ReadFile(junk), std::string(1 << 20, '\0'));
}

TEST_F(SwapCompatTest, CreateWithSizeIsPrivateAllocatedAndRecognised) {
  const std::string f = Path("new.swap");
  Output r = Uswap({"mkswap", "-s", "2M", "-L", "created", f});
  ASSERT_EQ(r.status, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 2 << 20);
  // Allocated, not sparse (SEEK_HOLE would count unwritten extents as holes).
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, 2u << 20) << "file has holes";
  EXPECT_EQ(Blkid(f)["LABEL"], "created");
  EXPECT_NE(Uswap({"inspect", f}).out.find("pages:       512 (last_page 511)"), std::string::npos);

  // Too small, or unparsable: no file left behind.
  const std::string g = Path("small.swap");
  r = Uswap({"mkswap", "-s", "36K", g});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("too small"), std::string::npos) << r.err;
  EXPECT_EQ(Uswap({"mkswap", "-s", "12Q", g}).status, 2);
  EXPECT_FALSE(std::filesystem::exists(g));
  // Allocation fails (RLIMIT_FSIZE stands in for a full disk): one line,
  // and the file it had created is gone.
  r = Uswap({"mkswap", "-s", "1M", g}, 64 << 10);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("posix_fallocate"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(g));
  // A symlink is not followed.
  const std::string link = Path("link.swap");
  ASSERT_EQ(symlink(Path("target").c_str(), link.c_str()), 0);
  EXPECT_EQ(Uswap({"mkswap", "-s", "1M", "-f", link}).status, 1);
  EXPECT_FALSE(std::filesystem::exists(Path("target")));
}

TEST_F(SwapCompatTest, InspectReadsForeignByteOrderAndReportsDamage) {
  const std::string f = MakeFile("be", 1 << 20);
  ASSERT_EQ(Tool("mkswap", {"-L", "swapped", "-U", kUuid, f}).status, 0);
  std::string b = ReadFile(f);
  for (size_t off : {1024, 1028, 1032}) std::reverse(b.begin() + off, b.begin() + off + 4);
  WriteFile(f, b);
  Output r = Uswap({"inspect", "--json", f});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\"byte_order\":\"big\",\"foreign_byte_order\":true"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"pages\":256,"), std::string::npos) << r.out;
  EXPECT_EQ(Blkid(f)["LABEL"], "swapped");

  // Version 2: invalid, exit 1, but the label is still shown.
  b = ReadFile(f);
  b[1024] = 0, b[1025] = 0, b[1026] = 0, b[1027] = 2;
  WriteFile(f, b);
  r = Uswap({"inspect", f});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("valid:       no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("version is 33554432, expected 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("label:       \"swapped\""), std::string::npos) << r.out;
  Output s = Uswap({"label", f});
  EXPECT_EQ(s.status, 1);
}

}  // namespace
