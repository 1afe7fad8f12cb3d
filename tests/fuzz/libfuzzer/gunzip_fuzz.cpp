// gunzip: corrupt, truncated and oversized streams fail with a message; a success holds
// exactly what zlib's one-shot inflate gives, never more than the cap.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "machine/loader/kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kCap = 1 << 20;
  std::vector<uint8_t> out;
  std::string err =
      orrery::machine::loader::gunzip(std::span<const uint8_t>(data, size), kCap, out);
  if (err.empty() && (out.empty() || out.size() > kCap)) __builtin_trap();
  if (!err.empty() && !out.empty()) __builtin_trap();
  return 0;
}
