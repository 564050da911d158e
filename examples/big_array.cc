// A complete uswap program: an array four times larger than its RAM budget,
// backed by a swap file, used like ordinary memory.
//
//   build/examples/big_array /var/tmp/example.swap
//
// The swap file must be a Linux swap area (`uswap mkswap -s 300M FILE`).
#include <cstdint>
#include <cstdio>

#include "uswap/uswap.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SWAPFILE\n", argv[0]);
    return 2;
  }
  uswap::Config config;
  config.ram_budget_bytes = 64 << 20;      // 64 MiB of RAM ...
  config.swap_areas.push_back({argv[1]});  // ... and a swap file for the rest
  auto space = uswap::Space::Open(config);
  if (!space.ok()) {
    std::fprintf(stderr, "uswap: %s\n", space.status().ToString().c_str());
    return 1;
  }
  const size_t n = (256u << 20) / sizeof(uint64_t);  // 256 MiB of uint64_t
  auto region = (*space)->Map(n * sizeof(uint64_t));
  if (!region.ok()) {
    std::fprintf(stderr, "uswap: %s\n", region.status().ToString().c_str());
    return 1;
  }
  auto* a = static_cast<uint64_t*>((*region)->data());
  for (size_t i = 0; i < n; i++) a[i] = i * i;  // cold pages go to swap as we go
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) sum += a[i];  // and come back on touch
  uswap::Stats s = (*space)->stats();
  std::printf("sum %llu; %llu pages swapped out, %llu swapped in, %llu resident of %llu\n",
              static_cast<unsigned long long>(sum), static_cast<unsigned long long>(s.pswpout),
              static_cast<unsigned long long>(s.pswpin),
              static_cast<unsigned long long>(s.resident_pages),
              static_cast<unsigned long long>(s.budget_pages));
  return 0;
}
