// libFuzzer target for SwapHeader::Parse, the code that reads page 0 of a
// swap area from disk (cf. the kernel's read_swap_header()).
//
// Input: 8 bytes of file size (little-endian), then the bytes of the file's
// start (page 0 and whatever follows, up to 64 KiB). Besides "no crash, no
// UB, no leak", it checks what Parse promises: a parsed header is valid,
// survives Serialize -> Parse unchanged, and Probe agrees with Parse.
//
// Also linked into swap_header_test, which replays tests/fuzz/corpus and
// tests/fuzz/regress through it in every normal build.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "swap/swap_format.h"
#include "swap/swap_header.h"

namespace {

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "swap_header_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace sf = uswap::swap_format;
  if (size < sizeof(uint64_t)) return 0;
  uint64_t file_size;
  std::memcpy(&file_size, data, sizeof(file_size));
  const std::span<const uint8_t> page(data + sizeof(file_size), size - sizeof(file_size));

  uswap::Result<uswap::SwapHeader> parsed = uswap::SwapHeader::Parse(page, file_size);
  uswap::Result<uswap::SwapHeaderProbe> probe = uswap::ProbeSwapHeader(page, file_size);
  Require(parsed.ok() == (probe.ok() && probe->validity.ok()), "Probe agrees with Parse");
  if (!parsed.ok()) {
    Require(!parsed.status().message().empty(), "an error names its cause");
    return 0;
  }
  const uswap::SwapHeader& h = *parsed;
  Require(h.page_size >= sf::kMinPageSize && h.page_size <= sf::kMaxPageSize &&
              (h.page_size & (h.page_size - 1)) == 0 && h.page_size <= page.size(),
          "page size is a power of two within the input");
  Require(h.version == sf::kVersion, "version 1");
  Require(h.pages() >= sf::kMinPages && h.pages() * h.page_size <= file_size, "area fits the file");
  Require(h.bad_pages.size() <= sf::MaxBadpages(h.page_size), "bad pages fit the page");
  for (uint32_t b : h.bad_pages) Require(b >= 1 && b <= h.last_page, "bad page in range");

  // A 16-byte label (no NUL) is readable but not writable: mkswap keeps a NUL.
  uswap::SwapHeader writable = h;
  if (writable.label.size() >= sf::kLabelSize) writable.label.resize(sf::kLabelSize - 1);
  Require(writable.Validate(file_size).ok(), "a parsed header validates");
  const std::vector<uint8_t> bytes = writable.Serialize();
  Require(bytes.size() == h.page_size, "Serialize writes one page");
  uswap::Result<uswap::SwapHeader> again = uswap::SwapHeader::Parse(bytes, file_size);
  Require(again.ok(), "Serialize output parses");
  Require(again->page_size == h.page_size && again->last_page == h.last_page &&
              again->uuid == h.uuid && again->label == writable.label &&
              again->bad_pages == h.bad_pages && again->foreign_byte_order == h.foreign_byte_order,
          "Serialize -> Parse round trip");
  return 0;
}
