// A program outside the tree that uses uswap as an installed library: it
// sees the public headers only (the engine's src/ must not be on its
// include path), maps a region 8x its RAM budget, writes every page and
// reads it back through the swap file given on the command line (made
// with uswap::MakeSwapArea when it does not exist).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "uswap/uswap.h"

#if __has_include("base/status.h") || __has_include("mm/memory_node.h")
#error "uswap's private include path (src/) leaked to a user of the library"
#endif

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SWAPFILE\n", argv[0]);
    return 2;
  }
  // A swap area the program makes itself when none is there (the
  // library's mkswap).
  if (access(argv[1], F_OK) != 0) {
    auto made = uswap::MakeSwapArea(argv[1], 16 << 20);
    if (!made.ok()) {
      std::fprintf(stderr, "consumer: %s: %s\n", argv[1], made.status().ToString().c_str());
      return 1;
    }
    std::printf("consumer: made %s, %llu usable bytes\n", argv[1],
                static_cast<unsigned long long>(made->usable_bytes));
  }
  uswap::Config config;
  config.ram_budget_bytes = 1 << 20;
  config.swap_areas.push_back({argv[1]});
  auto space = uswap::Space::Open(config);
  if (!space.ok()) {
    std::fprintf(stderr, "consumer: %s\n", space.status().ToString().c_str());
    return 1;
  }
  const size_t bytes = 8 << 20;
  auto region = (*space)->Map(bytes);
  if (!region.ok()) {
    std::fprintf(stderr, "consumer: %s\n", region.status().ToString().c_str());
    return 1;
  }
  auto* words = static_cast<uint64_t*>((*region)->data());
  const size_t n = bytes / sizeof(uint64_t);
  for (size_t i = 0; i < n; i++) words[i] = i * 0x9E3779B97F4A7C15ull;
  size_t wrong = 0;
  for (size_t i = 0; i < n; i++) wrong += words[i] != i * 0x9E3779B97F4A7C15ull;
  const uswap::Stats s = (*space)->stats();
  std::printf("consumer: %zu wrong words, %llu pages swapped out, %llu swapped in\n", wrong,
              static_cast<unsigned long long>(s.pswpout),
              static_cast<unsigned long long>(s.pswpin));
  return wrong == 0 && s.pswpout > 0 && s.pswpin > 0 ? 0 : 1;
}
