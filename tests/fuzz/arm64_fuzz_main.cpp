// Long differential fuzz run: fuzz_arm64_long [seed] [sequences] [max length] [max]
// ("max" as the fourth argument fuzzes the ARMv8.2 templates on the max CPU model).
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/arm64_fuzz.h"

int main(int argc, char** argv) {
  uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 1;
  uint64_t count = argc > 2 ? std::strtoull(argv[2], nullptr, 0) : 100000;
  unsigned length = argc > 3 ? unsigned(std::strtoul(argv[3], nullptr, 0)) : 12;
  if (length == 0) length = 1;
  const bool max = argc > 4 && std::string_view(argv[4]) == "max";
  auto r = orrery::tests::fuzz::fuzz_arm64(seed, count, length, max);
  std::printf("seed %" PRIu64 ": %" PRIu64 " sequences, %" PRIu64 " instructions, %" PRIu64
              " skipped, %" PRIu64 " mismatches\n",
              seed, r.sequences, r.instructions, r.skipped, r.mismatches);
  if (r.mismatches) std::printf("%s%s", r.summary.c_str(), r.first_failure.c_str());
  return r.mismatches ? 1 : 0;
}
