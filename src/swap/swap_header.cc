// SwapHeader: decode, validate and encode page 0 of a SWAPSPACE2 area.
//
// Decoding follows the kernel's read_swap_header() (mm/swapfile.c): the
// magic first, then the byte-order test (version == swab32(1) means the area
// was written by a machine of the other endianness and every u32 is swapped),
// then version, last_page, the area against the file size, nr_badpages, and
// the bad-page indices (cf. setup_swap_map_and_extents()). Encoding is what
// util-linux mkswap writes: a zeroed page with the v1 fields at 1024, the
// bad-page list at 1536 and the magic in the last 10 bytes.
#include "swap/swap_header.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "base/check.h"

namespace uswap {

namespace sf = swap_format;

namespace {

// The version-0 signature (Linux < 2.5.22). Recognised only to say so.
constexpr char kOldMagic[] = "SWAP-SPACE";

uint32_t LoadU32(std::span<const uint8_t> page, size_t offset, bool foreign) {
  uint32_t v;
  std::memcpy(&v, page.data() + offset, sizeof(v));
  return foreign ? __builtin_bswap32(v) : v;
}

void StoreU32(std::vector<uint8_t>& page, size_t offset, uint32_t v, bool foreign) {
  if (foreign) v = __builtin_bswap32(v);
  std::memcpy(page.data() + offset, &v, sizeof(v));
}

bool HasMagicAt(std::span<const uint8_t> bytes, size_t page_size, const char* magic) {
  return bytes.size() >= page_size &&
         std::memcmp(bytes.data() + page_size - sf::kMagicSize, magic, sf::kMagicSize) == 0;
}

std::string Fmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return std::string("swap header: ") + buf;
}

bool IsValidPageSize(size_t page_size) {
  return page_size >= sf::kMinPageSize && page_size <= sf::kMaxPageSize &&
         (page_size & (page_size - 1)) == 0;
}

// The checks read_swap_header() makes once the magic and page size are
// known. `nr_badpages` is the count as stored (it may exceed what
// `h.bad_pages` holds when the header is damaged).
Status CheckFields(const SwapHeader& h, uint64_t nr_badpages, uint64_t file_size) {
  if (h.version != sf::kVersion) {
    return Status::Corruption(
        Fmt("version is %" PRIu32 ", expected %" PRIu32, h.version, sf::kVersion));
  }
  if (h.last_page == 0) {
    return Status::Corruption("swap header: last_page is 0: the area has no usable page");
  }
  if (h.pages() < sf::kMinPages) {
    return Status::Corruption(Fmt("last_page is %" PRIu32 ": %" PRIu64
                                  " pages, fewer than the minimum of %" PRIu64,
                                  h.last_page, h.pages(), sf::kMinPages));
  }
  // cf. "Swap area shorter than signature indicates".
  if (h.pages() > file_size / h.page_size) {
    return Status::Corruption(Fmt("last_page is %" PRIu32 ": the area needs %" PRIu64
                                  " bytes but the file has only %" PRIu64,
                                  h.last_page, h.pages() * h.page_size, file_size));
  }
  const size_t max_bad = sf::MaxBadpages(h.page_size);
  if (nr_badpages > max_bad) {
    return Status::Corruption(Fmt("nr_badpages is %" PRIu64 ", more than the %zu that fit in a"
                                  " %zu-byte page",
                                  nr_badpages, max_bad, h.page_size));
  }
  for (size_t i = 0; i < h.bad_pages.size(); ++i) {
    const uint32_t bad = h.bad_pages[i];
    if (bad == 0) {
      return Status::Corruption(
          Fmt("bad page entry %zu is 0: slot 0 holds the header and cannot be bad", i));
    }
    if (bad > h.last_page) {
      return Status::Corruption(
          Fmt("bad page entry %zu is %" PRIu32 ", past last_page %" PRIu32, i, bad, h.last_page));
    }
  }
  return Status::OK();
}

// Finds the page size from the magic's position and reports why there is
// no header when it cannot.
Result<size_t> FindPageSize(std::span<const uint8_t> bytes, uint64_t file_size) {
  const uint64_t have = std::min<uint64_t>(bytes.size(), file_size);
  if (have < sf::kMinPageSize) {
    return Status::Corruption(Fmt("truncated: %" PRIu64 " bytes, shorter than the smallest"
                                  " page (%zu bytes)",
                                  have, sf::kMinPageSize));
  }
  for (size_t ps = sf::kMinPageSize; ps <= sf::kMaxPageSize; ps *= 2) {
    if (ps > have) break;
    if (HasMagicAt(bytes, ps, sf::kMagic)) return ps;
    if (HasMagicAt(bytes, ps, kOldMagic)) {
      return Status::NotSupported(
          Fmt("old version-0 signature SWAP-SPACE at offset %zu is not supported",
              ps - sf::kMagicSize));
    }
  }
  // A v1 header in a file that ends before the largest page would: the
  // magic was cut off, not missing.
  const uint32_t version = LoadU32(bytes, sf::kVersionOffset, false);
  if (have == file_size && have < sf::kMaxPageSize &&
      (version == 1 || version == __builtin_bswap32(1))) {
    return Status::Corruption(Fmt("truncated: version-1 header but the file ends at %" PRIu64
                                  " bytes, before its page's SWAPSPACE2 signature",
                                  have));
  }
  return Status::Corruption(
      Fmt("bad magic: no SWAPSPACE2 signature at the end of any page of %zu..%zu bytes",
          sf::kMinPageSize, sf::kMaxPageSize));
}

}  // namespace

Result<SwapHeaderProbe> ProbeSwapHeader(std::span<const uint8_t> page, uint64_t file_size) {
  USWAP_ASSIGN_OR_RETURN(size_t page_size, FindPageSize(page, file_size));
  SwapHeaderProbe p;
  SwapHeader& h = p.header;
  h.page_size = page_size;
  const uint32_t raw_version = LoadU32(page, sf::kVersionOffset, false);
  h.foreign_byte_order =
      raw_version != sf::kVersion && __builtin_bswap32(raw_version) == sf::kVersion;
  const bool swap = h.foreign_byte_order;
  h.version = LoadU32(page, sf::kVersionOffset, swap);
  h.last_page = LoadU32(page, sf::kLastPageOffset, swap);
  p.nr_badpages = LoadU32(page, sf::kNrBadpagesOffset, swap);
  std::memcpy(h.uuid.data(), page.data() + sf::kUuidOffset, sf::kUuidSize);
  // Up to the first NUL; all 16 bytes when there is none (as blkid reads it).
  const char* label = reinterpret_cast<const char*>(page.data() + sf::kLabelOffset);
  h.label.assign(label, strnlen(label, sf::kLabelSize));
  const size_t kept = std::min<size_t>(p.nr_badpages, sf::MaxBadpages(page_size));
  h.bad_pages.resize(kept);
  for (size_t i = 0; i < kept; ++i) {
    h.bad_pages[i] = LoadU32(page, sf::kBadpagesOffset + i * sizeof(uint32_t), swap);
  }
  p.validity = CheckFields(h, p.nr_badpages, file_size);
  return p;
}

Result<SwapHeader> SwapHeader::Parse(std::span<const uint8_t> page, uint64_t file_size) {
  USWAP_ASSIGN_OR_RETURN(SwapHeaderProbe p, ProbeSwapHeader(page, file_size));
  if (!p.validity.ok()) return p.validity;
  return std::move(p.header);
}

Status SwapHeader::Validate(uint64_t file_size) const {
  if (!IsValidPageSize(page_size)) {
    return Status::InvalidArgument(Fmt("page_size is %zu, expected a power of two in [%zu, %zu]",
                                       page_size, sf::kMinPageSize, sf::kMaxPageSize));
  }
  if (label.size() >= sf::kLabelSize || label.find('\0') != std::string::npos) {
    return Status::InvalidArgument(Fmt("label is %zu bytes, at most %zu without NUL bytes fit",
                                       label.size(), sf::kLabelSize - 1));
  }
  if (file_size < page_size) {
    return Status::Corruption(
        Fmt("truncated: %" PRIu64 " bytes, shorter than one %zu-byte page", file_size, page_size));
  }
  return CheckFields(*this, bad_pages.size(), file_size);
}

std::vector<uint8_t> SwapHeader::Serialize() const {
  USWAP_CHECK(IsValidPageSize(page_size));
  USWAP_CHECK(bad_pages.size() <= sf::MaxBadpages(page_size));
  std::vector<uint8_t> page(page_size, 0);
  const bool swap = foreign_byte_order;
  StoreU32(page, sf::kVersionOffset, version, swap);
  StoreU32(page, sf::kLastPageOffset, last_page, swap);
  StoreU32(page, sf::kNrBadpagesOffset, static_cast<uint32_t>(bad_pages.size()), swap);
  std::memcpy(page.data() + sf::kUuidOffset, uuid.data(), sf::kUuidSize);
  // mkswap copies at most 15 bytes and keeps a NUL (xstrncpy).
  std::memcpy(page.data() + sf::kLabelOffset, label.data(),
              std::min(label.size(), sf::kLabelSize - 1));
  for (size_t i = 0; i < bad_pages.size(); ++i) {
    StoreU32(page, sf::kBadpagesOffset + i * sizeof(uint32_t), bad_pages[i], swap);
  }
  std::memcpy(page.data() + page_size - sf::kMagicSize, sf::kMagic, sf::kMagicSize);
  return page;
}

Result<uint64_t> SwapTargetSize(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("fstat", errno);
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    uint64_t size = 0;
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) return Status::FromErrno("BLKGETSIZE64", errno);
    return size;
  }
  return Status::InvalidArgument("not a regular file or block device");
}

Result<std::vector<uint8_t>> ReadHeaderBytes(int fd, size_t n) {
  std::vector<uint8_t> buf(n);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf.data() + done, n - done, static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("pread", errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  buf.resize(done);
  return buf;
}

Result<SwapHeaderProbe> ProbeSwapHeader(int fd) {
  USWAP_ASSIGN_OR_RETURN(uint64_t size, SwapTargetSize(fd));
  USWAP_ASSIGN_OR_RETURN(std::vector<uint8_t> head,
                         ReadHeaderBytes(fd, std::min<uint64_t>(size, sf::kMaxPageSize)));
  return ProbeSwapHeader(head, size);
}

Result<SwapHeader> ReadSwapHeader(int fd) {
  USWAP_ASSIGN_OR_RETURN(SwapHeaderProbe p, ProbeSwapHeader(fd));
  if (!p.validity.ok()) return p.validity;
  return std::move(p.header);
}

Status PwriteAll(int fd, const void* data, size_t n, uint64_t offset) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pwrite(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("pwrite", errno);
    }
    done += static_cast<size_t>(r);
  }
  return Status::OK();
}

Status FillRandom(uint8_t* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::getrandom(buf + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("getrandom", errno);
    }
    done += static_cast<size_t>(r);
  }
  return Status::OK();
}

std::string FormatUuid(const std::array<uint8_t, 16>& uuid) {
  char buf[37];
  std::snprintf(buf, sizeof(buf),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", uuid[0],
                uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8], uuid[9],
                uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
  return buf;
}

Result<std::array<uint8_t, 16>> RandomUuid() {
  std::array<uint8_t, 16> u;
  USWAP_RETURN_IF_ERROR(FillRandom(u.data(), u.size()));
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);
  return u;
}

}  // namespace uswap
