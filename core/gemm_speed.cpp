// GEMM speed probe used by `info` and the benchmarks.
#include "core/gemm_speed.h"

#include "core/torch_api.h"

#include <algorithm>
#include <chrono>

#include "core/threads.h"

namespace cs {

GemmSpeed measureGemmSpeed(int size, int repeats) {
  c10::InferenceMode guard;
  const auto a = torch::randn({size, size});
  const auto b = torch::randn({size, size});
  auto c = torch::empty({size, size});
  at::mm_out(c, a, b);  // warm-up: thread pools, page faults
  double best = 1e30;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    const auto start = std::chrono::steady_clock::now();
    at::mm_out(c, a, b);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count());
  }
  const double flops = 2.0 * size * static_cast<double>(size) * size;
  return GemmSpeed{flops / best / 1e9, size, threadCount()};
}

}  // namespace cs
