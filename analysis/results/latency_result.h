// What a latency measurement reports. Plain struct: viewers read it without libtorch.
#pragma once

#include <cstdint>
#include <string>

namespace cs::analysis {

struct LatencyResult {
  std::string device;       ///< "cpu" or "cuda:0"
  std::int64_t batch = 0;   ///< examples per timed run
  std::int64_t tokens = 0;  ///< positions per example (patches + class token for images)
  int runs = 0;             ///< timed runs (after the warm-up)
  double medianMs = 0.0;    ///< per batch
  double p10Ms = 0.0;
  double p90Ms = 0.0;
  double itemsPerSecond = 0.0;  ///< tokens/s for language models, images/s for image models
  std::string itemUnit;         ///< "tokens" or "images"
  std::int64_t peakBytes = 0;   ///< peak resident set (CPU) or CUDA allocator peak during the runs
  /// "rss" (kernel high-water mark), "rss_sampled" (VmRSS polled when the mark cannot be
  /// reset), "cuda_allocated" or "unavailable"
  std::string peakKind;
  std::int64_t parameters = 0;
  double flopsPerExample = 0.0;  ///< forward multiply-adds x 2 for one example
};

}  // namespace cs::analysis
