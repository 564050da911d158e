#include "kernel_zswap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "base/unique_fd.h"

namespace uswap::bench {
namespace {

// Every parameter saved, in the order the destructor restores them: enabled
// first, so a machine that had zswap off stores nothing more after the run.
constexpr const char* kParams[] = {"enabled", "compressor", "max_pool_percent",
                                   "accept_threshold_percent", "shrinker_enabled"};

// The file's first line, or nullopt when it cannot be read.
std::optional<std::string> ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

// True when `crypto` (/proc/crypto) has a "name : `alg`" line.
bool CryptoHas(const std::string& crypto, const std::string& alg) {
  std::ifstream in(crypto);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("name", 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t b = line.find_first_not_of(' ', colon + 1);
    if (b != std::string::npos && line.substr(b) == alg) return true;
  }
  return false;
}

}  // namespace

bool KernelZswap::Available(const ZswapPaths& paths) {
  struct stat st;
  return ::stat(paths.params.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::unique_ptr<KernelZswap>> KernelZswap::On(const std::string& compressor,
                                                     const ZswapPaths& paths) {
  if (!Available(paths)) {
    return Status::NotSupported("the kernel has no zswap (no " + paths.params + ")");
  }
  // From here the destructor restores whatever was changed, on every path.
  std::unique_ptr<KernelZswap> z(new KernelZswap(paths));
  USWAP_RETURN_IF_ERROR(z->Save());
  std::string want = compressor;
  if (want.empty()) {
    want = CryptoHas(paths.crypto, kPreferredZswapCompressor)
               ? kPreferredZswapCompressor
               : ReadLine(paths.params + "/compressor").value_or("");
  }
  if (!want.empty()) USWAP_RETURN_IF_ERROR(z->Set("compressor", want));
  USWAP_RETURN_IF_ERROR(z->Set("enabled", "Y"));
  if (ReadLine(paths.params + "/enabled").value_or("") != "Y") {
    return Status::IOError("zswap did not turn on (" + paths.params + "/enabled is not Y)");
  }
  z->enabled_ = true;
  z->compressor_ = ReadLine(paths.params + "/compressor").value_or("?");
  if (!compressor.empty() && z->compressor_ != compressor) {
    return Status::InvalidArgument("zswap cannot use compressor '" + compressor + "' (it uses " +
                                   z->compressor_ + ")");
  }
  return z;
}

Result<std::unique_ptr<KernelZswap>> KernelZswap::Off(const ZswapPaths& paths) {
  if (!Available(paths)) {
    return Status::NotSupported("the kernel has no zswap (no " + paths.params + ")");
  }
  std::unique_ptr<KernelZswap> z(new KernelZswap(paths));
  USWAP_RETURN_IF_ERROR(z->Save());
  USWAP_RETURN_IF_ERROR(z->Set("enabled", "N"));
  z->compressor_ = ReadLine(paths.params + "/compressor").value_or("?");
  return z;
}

Status KernelZswap::Save() {
  for (const char* name : kParams) {
    // Older kernels lack some (shrinker_enabled: 6.8): nothing to save then.
    if (std::optional<std::string> v = ReadLine(paths_.params + "/" + name)) {
      saved_.push_back({name, *v});
    } else if (std::string(name) == "enabled") {
      return Status::IOError("cannot read " + paths_.params + "/enabled");
    }
  }
  return Status::OK();
}

Status KernelZswap::Set(const std::string& name, const std::string& value) {
  const std::string path = paths_.params + "/" + name;
  if (ReadLine(path) == value) return Status::OK();
  // O_TRUNC: a no-op on sysfs, and lets tests use plain files.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return Status::FromErrno("write '" + value + "' to " + path, errno);
  }
  return Status::OK();
}

KernelZswap::~KernelZswap() {
  for (const Saved& s : saved_) {
    Status st = Set(s.name, s.value);
    if (!st.ok()) Log(LogLevel::kError, "cannot restore zswap: %s", st.ToString().c_str());
  }
}

std::optional<ZswapSample> ReadZswapSample(const std::string& meminfo) {
  std::ifstream in(meminfo);
  std::string line;
  ZswapSample s;
  bool have_pool = false;
  uint64_t swap_total = 0, swap_free = 0;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    const uint64_t bytes = std::strtoull(line.c_str() + colon + 1, nullptr, 10) * 1024;
    if (key == "Zswap") {
      s.pool_bytes = bytes;
      have_pool = true;
    } else if (key == "Zswapped") {
      s.stored_bytes = bytes;
    } else if (key == "SwapTotal") {
      swap_total = bytes;
    } else if (key == "SwapFree") {
      swap_free = bytes;
    }
  }
  if (!have_pool) return std::nullopt;
  s.swap_used_bytes = swap_total > swap_free ? swap_total - swap_free : 0;
  return s;
}

}  // namespace uswap::bench
