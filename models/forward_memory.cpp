#include "models/forward_memory.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/memory_budget.h"

namespace cs::models {

std::int64_t forwardActivationBytes(const TransformerConfig& config, std::int64_t batch,
                                    std::int64_t tokens, std::int64_t elementBytes) {
  // In double: a requested batch may be absurd, and the product must not wrap.
  const double t = static_cast<double>(tokens);
  double perRow = 0.0;
  for (int layer = 0; layer < config.nLayers; ++layer) {
    const double heads = config.nHeads.empty() ? 0.0 : config.nHeads[layer];
    const double kvHeads = config.nKvHeads.empty() ? heads : config.nKvHeads[layer];
    const double mlp = config.dMlp.empty() ? 0.0 : config.dMlp[layer];
    const double perToken = 4.0 * config.dModel + (2.0 * heads + 2.0 * kvHeads) * config.dHead +
                            2.0 * heads * t + (config.gatedMlp ? 3.0 : 2.0) * mlp;
    perRow = std::max(perRow, perToken * t);
  }
  const bool everyPosition = config.head != HeadKind::Classifier;
  perRow += static_cast<double>(config.dOutput()) * (everyPosition ? t : 1.0);
  const double bytes = perRow * static_cast<double>(batch) * static_cast<double>(elementBytes);
  constexpr double kMax = static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2);
  return static_cast<std::int64_t>(std::min(bytes, kMax));
}

void requireForwardMemory(const TransformerConfig& config, std::int64_t batch, std::int64_t tokens,
                          std::int64_t elementBytes) {
  const auto bytes = forwardActivationBytes(config, batch, tokens, elementBytes);
  if (bytes < (std::int64_t{256} << 20)) return;
  requireMemory(bytes,
                "a forward pass over " + std::to_string(batch) + " rows of " +
                    std::to_string(tokens) + " tokens",
                "use a smaller batch (--batch) or shorter inputs");
}

}  // namespace cs::models
