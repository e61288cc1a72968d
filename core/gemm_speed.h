// Measures this machine's matrix-multiply speed, the yardstick every forward-pass
// efficiency figure is compared with.
#pragma once

namespace cs {

struct GemmSpeed {
  double gflops = 0.0;  ///< best of the timed runs, float32 n x n x n product
  int size = 0;         ///< n
  int threads = 0;      ///< libtorch intra-op threads in force
};

/// Times a float32 n x n by n x n product on the CPU (one warm-up, then `repeats` runs) and
/// reports the best rate: 2 n^3 floating-point operations per product.
GemmSpeed measureGemmSpeed(int size = 1024, int repeats = 5);

}  // namespace cs
