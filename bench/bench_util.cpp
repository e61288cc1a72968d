// Benchmark timing helpers.
#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace cs::bench {

double timeOnce(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::vector<Timing> interleavedTimings(const std::vector<std::function<void()>>& variants,
                                       int rounds) {
  for (const auto& v : variants) v();
  std::vector<std::vector<double>> times(variants.size());
  // Rotating the order each round keeps any after-effect of one variant on the next (allocator
  // state, caches, CPU frequency) from always landing on the same variant.
  const auto n = variants.size();
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t j = 0; j < n; ++j) {
      const auto i = (j + static_cast<std::size_t>(r)) % n;
      times[i].push_back(timeOnce(variants[i]));
    }
  }
  std::vector<Timing> timings;
  for (auto& t : times) timings.push_back({median(t), *std::min_element(t.begin(), t.end())});
  return timings;
}

int argInt(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

}  // namespace cs::bench
