// uswap label: shows or changes the label and UUID of a swap area in place,
// like util-linux swaplabel(8). The header must be valid first (as
// swapon(2) would judge it); then only the 32 bytes of sws_uuid and
// sws_volume (offsets 1036..1067) are rewritten, in one pwrite, and synced.
// Every other byte of the area stays as it was.
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "base/unique_fd.h"
#include "cli_util.h"
#include "commands.h"
#include "swap/swap_format.h"
#include "swap/swap_header.h"

namespace uswap::cli {

namespace {

namespace sf = swap_format;

constexpr char kCmd[] = "label";

constexpr char kHelp[] =
    "usage: uswap label [-L LABEL] [-U UUID] FILE\n"
    "\n"
    "Without options, prints the label and UUID of the swap area on FILE (as\n"
    "swaplabel(8) does). With options, rewrites them in place and nothing else.\n"
    "\n"
    "  -L LABEL  new label, at most 15 bytes (\"\" clears it)\n"
    "  -U UUID   new UUID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, clear, random or time\n";

// The uuid and label fields are adjacent: one write covers both.
static_assert(sf::kLabelOffset == sf::kUuidOffset + sf::kUuidSize);
constexpr size_t kFieldsSize = sf::kUuidSize + sf::kLabelSize;

}  // namespace

int LabelMain(int argc, char** argv) {
  static const option kLong[] = {{"label", required_argument, nullptr, 'L'},
                                 {"uuid", required_argument, nullptr, 'U'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  std::optional<std::string> label;
  std::optional<Uuid> uuid;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":L:U:h", kLong, nullptr)) != -1) {
    switch (c) {
      case 'L': {
        Status s = CheckLabel(optarg);
        if (!s.ok()) return UsageError(kCmd, s.message());
        label = optarg;
        break;
      }
      case 'U': {
        Result<Uuid> u = MakeUuid(optarg);
        if (!u.ok()) return UsageError(kCmd, u.status().message());
        uuid = *u;
        break;
      }
      default:
        return HelpOrUsageError(kCmd, c, argv, kHelp);
    }
  }
  const std::optional<std::string> file = OneFileOperand(kCmd, argc, argv);
  if (!file) return 2;
  const std::string& path = *file;
  const bool write = label || uuid;

  UniqueFd fd(::open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!fd.valid()) return Fail(kCmd, path, Status::FromErrno("open", errno).message());
  Result<SwapHeader> h = ReadSwapHeader(fd.get());
  if (!h.ok()) return Fail(kCmd, path, "not a valid swap area: " + h.status().message());

  if (!write) {
    // swaplabel's output: a line per field that is set.
    if (!h->label.empty()) std::printf("LABEL: %s\n", h->label.c_str());
    if (!IsNullUuid(h->uuid)) std::printf("UUID:  %s\n", FormatUuid(h->uuid).c_str());
    return 0;
  }

  // Start from the bytes on disk, so a field not being changed keeps its
  // exact bytes (even a 16-byte label without NUL).
  uint8_t fields[kFieldsSize];
  ssize_t n = ::pread(fd.get(), fields, sizeof(fields), sf::kUuidOffset);
  if (n != static_cast<ssize_t>(sizeof(fields))) {
    return Fail(kCmd, path,
                n < 0 ? Status::FromErrno("pread", errno).message() : "short read of the header");
  }
  if (uuid) std::memcpy(fields, uuid->data(), sf::kUuidSize);
  if (label) {
    std::memset(fields + sf::kUuidSize, 0, sf::kLabelSize);
    std::memcpy(fields + sf::kUuidSize, label->data(), label->size());
  }
  Status s = PwriteAll(fd.get(), fields, sizeof(fields), sf::kUuidOffset);
  if (s.ok() && ::fsync(fd.get()) != 0) s = Status::FromErrno("fsync", errno);
  if (!s.ok()) return Fail(kCmd, path, s.message());
  return 0;
}

}  // namespace uswap::cli
