// uswap inspect: shows the header of a swap area, valid or not, as text or
// JSON. It decodes what it can (ProbeSwapHeader) and judges it as the
// kernel's swapon(2) would (read_swap_header()); exit status 1 means "not a
// valid swap area", with the reason printed alongside whatever was readable.
// cf. util-linux `swaplabel` and `blkid -p`, which show a subset.
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <bit>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>

#include "base/unique_fd.h"
#include "cli_util.h"
#include "commands.h"
#include "swap/swap_header.h"

namespace uswap::cli {

namespace {

constexpr char kCmd[] = "inspect";

constexpr char kHelp[] =
    "usage: uswap inspect [--json] FILE\n"
    "\n"
    "Shows the swap header of FILE (a regular file or block device): version,\n"
    "page size, pages, usable size, label, UUID, bad pages, byte order, and\n"
    "whether the kernel would accept it (and why not). Exit status 1 when it\n"
    "is not a valid swap area.\n"
    "\n"
    "  --json   one JSON object instead of text\n";

// What inspect knows about FILE: its size always, the header when the
// signature was found, and the verdict.
struct Report {
  std::string path;
  uint64_t file_size = 0;
  std::optional<SwapHeaderProbe> probe;
  Status validity;
};

// The byte order the header's fields were stored in.
bool StoredLittleEndian(bool foreign) {
  return (std::endian::native == std::endian::little) != foreign;
}

// Bytes in slots a swap area can use: all but the header and the bad pages.
uint64_t UsableBytes(const SwapHeaderProbe& p) {
  const SwapHeader& h = p.header;
  const uint64_t unusable = 1 + uint64_t{p.nr_badpages};
  return h.pages() > unusable ? (h.pages() - unusable) * h.page_size : 0;
}

void PrintText(const Report& r) {
  std::printf("file:        %s\n", r.path.c_str());
  std::printf("file size:   %" PRIu64 " bytes\n", r.file_size);
  if (r.probe) {
    const SwapHeaderProbe& p = *r.probe;
    const SwapHeader& h = p.header;
    std::printf("version:     %" PRIu32 "\n", h.version);
    std::printf("page size:   %zu\n", h.page_size);
    std::printf("pages:       %" PRIu64 " (last_page %" PRIu32 ")\n", h.pages(), h.last_page);
    std::printf("usable size: %" PRIu64 " bytes (%s)\n", UsableBytes(p),
                HumanSize(UsableBytes(p)).c_str());
    std::printf("label:       %s\n", h.label.empty() ? "(none)" : JsonQuote(h.label).c_str());
    std::printf("uuid:        %s\n", IsNullUuid(h.uuid) ? "(none)" : FormatUuid(h.uuid).c_str());
    std::printf("bad pages:   %" PRIu32, p.nr_badpages);
    for (size_t i = 0; i < h.bad_pages.size(); ++i) {
      std::printf("%s%" PRIu32, i ? ", " : " (", h.bad_pages[i]);
    }
    if (!h.bad_pages.empty()) std::printf(")");
    std::printf("\n");
    std::printf("byte order:  %s%s\n",
                StoredLittleEndian(h.foreign_byte_order) ? "little-endian" : "big-endian",
                h.foreign_byte_order ? " (foreign)" : "");
  }
  std::printf("valid:       %s\n", r.validity.ok() ? "yes" : "no");
  if (!r.validity.ok()) std::printf("reason:      %s\n", r.validity.message().c_str());
}

void PrintJson(const Report& r) {
  std::string out = "{\"file\":" + JsonQuote(r.path);
  out += ",\"file_size\":" + std::to_string(r.file_size);
  if (r.probe) {
    const SwapHeaderProbe& p = *r.probe;
    const SwapHeader& h = p.header;
    out += ",\"version\":" + std::to_string(h.version);
    out += ",\"page_size\":" + std::to_string(h.page_size);
    out += ",\"pages\":" + std::to_string(h.pages());
    out += ",\"last_page\":" + std::to_string(h.last_page);
    out += ",\"usable_bytes\":" + std::to_string(UsableBytes(p));
    out += ",\"label\":" + (h.label.empty() ? std::string("null") : JsonQuote(h.label));
    out +=
        ",\"uuid\":" + (IsNullUuid(h.uuid) ? std::string("null") : JsonQuote(FormatUuid(h.uuid)));
    out += ",\"nr_badpages\":" + std::to_string(p.nr_badpages);
    out += ",\"bad_pages\":[";
    for (size_t i = 0; i < h.bad_pages.size(); ++i) {
      if (i) out += ",";
      out += std::to_string(h.bad_pages[i]);
    }
    out += "]";
    out += std::string(",\"byte_order\":") +
           (StoredLittleEndian(h.foreign_byte_order) ? "\"little\"" : "\"big\"");
    out += std::string(",\"foreign_byte_order\":") + (h.foreign_byte_order ? "true" : "false");
  }
  out += std::string(",\"valid\":") + (r.validity.ok() ? "true" : "false");
  if (!r.validity.ok()) out += ",\"reason\":" + JsonQuote(r.validity.message());
  out += "}\n";
  std::fputs(out.c_str(), stdout);
}

}  // namespace

int InspectMain(int argc, char** argv) {
  static const option kLong[] = {{"json", no_argument, nullptr, 'j'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  bool json = false;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", kLong, nullptr)) != -1) {
    switch (c) {
      case 'j':
        json = true;
        break;
      default:
        return HelpOrUsageError(kCmd, c, argv, kHelp);
    }
  }
  std::optional<std::string> path = OneFileOperand(kCmd, argc, argv);
  if (!path) return 2;
  Report r;
  r.path = *path;
  UniqueFd fd(::open(r.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Fail(kCmd, r.path, Status::FromErrno("open", errno).message());
  Result<uint64_t> size = SwapTargetSize(fd.get());
  if (!size.ok()) return Fail(kCmd, r.path, size.status().message());
  r.file_size = *size;
  Result<SwapHeaderProbe> probe = ProbeSwapHeader(fd.get());
  if (probe.ok()) {
    r.validity = probe->validity;
    r.probe = std::move(*probe);
  } else if (probe.status().IsIOError()) {
    return Fail(kCmd, r.path, probe.status().message());
  } else {
    r.validity = probe.status();
  }
  if (json) {
    PrintJson(r);
  } else {
    PrintText(r);
  }
  return r.validity.ok() ? 0 : 1;
}

}  // namespace uswap::cli
