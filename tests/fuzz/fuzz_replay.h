// Replays a fuzz target's kept inputs inside a unit test: the seeds of
// tests/fuzz/corpus/<target>/ and the former crashes of
// tests/fuzz/regress/<target>/. The unit test links the target's source
// (it defines LLVMFuzzerTestOneInput and no main), so every normal build
// re-checks what the fuzzer once found, without clang or libFuzzer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace uswap::fuzz {

// Feeds each kept input of `target` (under `fuzz_dir`, the tests/fuzz
// folder) to LLVMFuzzerTestOneInput, then to `also` if given; returns how
// many there were. A broken invariant aborts inside the target.
inline int ReplayFuzzInputs(
    const std::string& fuzz_dir, const std::string& target,
    const std::function<void(const std::string& name, const std::vector<uint8_t>&)>& also = {}) {
  namespace fs = std::filesystem;
  int replayed = 0;
  for (const char* kind : {"corpus", "regress"}) {
    const fs::path dir = fs::path(fuzz_dir) / kind / target;
    if (!fs::exists(dir)) continue;
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
      std::ifstream f(e.path(), std::ios::binary);
      const std::vector<uint8_t> input((std::istreambuf_iterator<char>(f)),
                                       std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(input.data(), input.size());
      if (also) also(e.path().filename().string(), input);
      ++replayed;
    }
  }
  return replayed;
}

}  // namespace uswap::fuzz
