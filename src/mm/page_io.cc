#include "mm/page_io.h"

#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "base/zeroed_array.h"
#include "io/page_buffer.h"
#include "uswap/config.h"

#if HAVE_XXHASH
#define XXH_INLINE_ALL
#include <xxhash.h>
#endif
#if HAVE_OPENSSL
#include <openssl/evp.h>
#include <openssl/rand.h>
#endif

namespace uswap {

uint32_t PageChecksum(const uint8_t* p, size_t n) {
#if HAVE_XXHASH
  return static_cast<uint32_t>(XXH3_64bits(p, n));
#else
  // FNV-1a over 64-bit words: weaker, used only when libxxhash is absent.
  uint64_t h = 0xcbf29ce484222325ull;
  const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
  for (size_t i = 0; i < n / 8; i++) h = (h ^ w[i]) * 0x100000001b3ull;
  return static_cast<uint32_t>(h ^ (h >> 32));
#endif
}

// Per-slot integrity metadata of one area, indexed by slot.
struct PageIo::AreaMeta {
  uint64_t slots = 0;
  // Encrypt mode, per slot (zero pages until the slot is written):
  ZeroedArray<uint8_t> tags;     // its 16-byte GCM tag
  ZeroedArray<uint64_t> nonces;  // the IV counter used for it
};

struct PageIo::Cipher {
#if HAVE_OPENSSL
  uint8_t key[32];
  std::atomic<uint64_t> counter{1};
  ~Cipher() { OPENSSL_cleanse(key, sizeof key); }
#endif
};

PageIo::PageIo(SwapDevices* devices, const PageIoOptions& options)
    : devices_(devices), options_(options) {
#if HAVE_OPENSSL
  if (options_.encrypt) {
    cipher_ = std::make_unique<Cipher>();
    USWAP_CHECK_MSG(RAND_bytes(cipher_->key, sizeof cipher_->key) == 1,
                    "cannot draw a random swap encryption key");
  }
#endif
}

PageIo::~PageIo() = default;

Status PageIo::AttachArea(unsigned type, uint64_t pages) {
#if !HAVE_OPENSSL
  if (options_.encrypt) return Status::NotSupported("encrypted swap needs OpenSSL (libssl-dev)");
#endif
  if (type >= kMaxSwapFiles) return Status::InvalidArgument("swap type out of range");
  auto m = std::make_unique<AreaMeta>();
  m->slots = pages;
  if (options_.encrypt) {
    m->tags = ZeroedArray<uint8_t>(m->slots * 16);
    m->nonces = ZeroedArray<uint64_t>(m->slots);
  }
  areas_[type] = std::move(m);
  return Status::OK();
}

void PageIo::DetachArea(unsigned type) { areas_[type].reset(); }

void PageIo::Submit(std::span<SwapPage> pages, BlockIo::Op op, std::span<uint8_t* const> bufs) {
  const size_t ps = devices_->page_size();
  // Merge runs: same area, consecutive slots, consecutive buffers. The
  // request lists are per thread and keep their capacity: a warm thread
  // allocates nothing here (the fault path's rule, doc/engine.md).
  thread_local std::vector<BlockIo> ios;
  thread_local std::vector<size_t> first;  // index of each request's first page
  ios.clear();
  first.clear();
  size_t prev = SIZE_MAX;  // the last page submitted
  for (size_t i = 0; i < pages.size(); i++) {
    if (pages[i].status != kPassDown) continue;  // an upper tier has it
    // The last request always ends at page `prev`: extend it when page i
    // continues it on disk and in memory.
    if (!ios.empty()) {
      BlockIo& last = ios.back();
      if (pages[prev].entry.type() == pages[i].entry.type() &&
          pages[i].entry.offset() == last.slot + last.nr &&
          bufs[i] == static_cast<uint8_t*>(last.buf) + last.nr * ps) {
        last.nr++;
        prev = i;
        continue;
      }
    }
    BlockIo io;
    io.op = op;
    io.slot = pages[i].entry.offset();
    io.nr = 1;
    io.buf = bufs[i];
    ios.push_back(io);
    first.push_back(i);
    prev = i;
  }
  // One batch per area.
  size_t start = 0;
  while (start < ios.size()) {
    unsigned type = pages[first[start]].entry.type();
    size_t end = start;
    while (end < ios.size() && pages[first[end]].entry.type() == type) end++;
    BlockStore* store = devices_->store(type);
    std::span<BlockIo> batch(ios.data() + start, end - start);
    if (!store) {
      for (BlockIo& io : batch) io.error = ENODEV;
    } else {
      (void)store->Submit(batch);  // per-request errors below
    }
    // A request's pages are the next ios[k].nr pages still kPassDown from
    // its first one.
    for (size_t k = start; k < end; k++) {
      size_t i = first[k];
      for (uint32_t j = 0; j < ios[k].nr; i++) {
        if (pages[i].status != kPassDown) continue;
        pages[i].status = ios[k].error;
        j++;
      }
    }
    start = end;
  }
}

void PageIo::Store(std::span<SwapPage> pages) {
  const size_t ps = devices_->page_size();
  thread_local std::vector<uint8_t*> bufs;  // per thread: see Submit
  bufs.resize(pages.size());
  uint8_t* bounce =
      options_.encrypt ? reinterpret_cast<uint8_t*>(ThreadScratch(1, pages.size() * ps)) : nullptr;
  for (size_t i = 0; i < pages.size(); i++) {
    if (pages[i].status != kPassDown) continue;
    AreaMeta* m = meta(pages[i].entry.type());
    USWAP_CHECK(m && pages[i].entry.offset() < m->slots);
    bufs[i] = pages[i].buf;
    if (options_.encrypt) {
#if HAVE_OPENSSL
      uint64_t slot = pages[i].entry.offset();
      uint64_t n = cipher_->counter.fetch_add(1, std::memory_order_relaxed);
      uint8_t iv[12] = {};
      std::memcpy(iv, &n, sizeof n);
      uint64_t aad = pages[i].entry.value();
      uint8_t* out = bounce + i * ps;
      EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
      int len = 0;
      bool ok =
          ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, cipher_->key, iv) &&
          EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<uint8_t*>(&aad), sizeof aad) &&
          EVP_EncryptUpdate(ctx, out, &len, pages[i].buf, static_cast<int>(ps)) &&
          EVP_EncryptFinal_ex(ctx, out + len, &len) &&
          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, m->tags.data() + slot * 16);
      EVP_CIPHER_CTX_free(ctx);
      USWAP_CHECK_MSG(ok, "AES-256-GCM encryption failed");
      m->nonces[slot] = n;
      bufs[i] = out;
#endif
    } else if (options_.checksums) {
      pages[i].sum = PageChecksum(pages[i].buf, ps);
    }
  }
  Submit(pages, BlockIo::Op::kWrite, bufs);
}

void PageIo::Load(std::span<SwapPage> pages) {
  const size_t ps = devices_->page_size();
  thread_local std::vector<uint8_t*> bufs;  // per thread: see Submit
  thread_local std::vector<bool> mine;      // pages this call reads
  bufs.resize(pages.size());
  mine.resize(pages.size());
  for (size_t i = 0; i < pages.size(); i++) {
    bufs[i] = pages[i].buf;
    mine[i] = pages[i].status == kPassDown;
  }
  Submit(pages, BlockIo::Op::kRead, bufs);
  for (size_t i = 0; i < pages.size(); i++) {
    if (!mine[i] || pages[i].status) continue;
    AreaMeta* m = meta(pages[i].entry.type());
    USWAP_CHECK(m && pages[i].entry.offset() < m->slots);
    [[maybe_unused]] uint64_t slot = pages[i].entry.offset();
    if (options_.encrypt) {
#if HAVE_OPENSSL
      uint8_t iv[12] = {};
      uint64_t n = m->nonces[slot];
      std::memcpy(iv, &n, sizeof n);
      uint64_t aad = pages[i].entry.value();
      uint8_t tag[16];
      std::memcpy(tag, m->tags.data() + slot * 16, 16);
      EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
      int len = 0;
      bool ok =
          ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, cipher_->key, iv) &&
          EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<uint8_t*>(&aad), sizeof aad) &&
          EVP_DecryptUpdate(ctx, pages[i].buf, &len, pages[i].buf, static_cast<int>(ps)) &&
          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
          EVP_DecryptFinal_ex(ctx, pages[i].buf + len, &len) > 0;
      EVP_CIPHER_CTX_free(ctx);
      if (!ok) pages[i].status = EBADMSG;
#endif
    } else if (options_.checksums) {
      if (PageChecksum(pages[i].buf, ps) != pages[i].sum) pages[i].status = EBADMSG;
    }
  }
}

}  // namespace uswap
