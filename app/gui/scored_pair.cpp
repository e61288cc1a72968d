#include "app/gui/scored_pair.h"

#include <torch/torch.h>

namespace cs::gui {

namespace {

// The last position's most likely next token for one row of ids.
std::int64_t topToken(models::Transformer& model, const at::Tensor& tokens) {  // [1, T]
  c10::InferenceMode guard;
  const auto logits = model.forward({tokens.to(model.device()), {}, {}, {}});  // [1, T, V]
  return logits[0][-1].argmax().item<std::int64_t>();
}

}  // namespace

analysis::PatchingPairs scoredPair(models::Transformer& model,
                                   const std::vector<std::int64_t>& clean,
                                   const std::vector<std::int64_t>& corrupted) {
  analysis::PatchingPairs pairs;
  pairs.clean.tokens = torch::tensor(clean, torch::kLong).unsqueeze(0);
  pairs.corrupted.tokens = torch::tensor(corrupted, torch::kLong).unsqueeze(0);
  analysis::PatchMetric metric;
  metric.answer = topToken(model, pairs.clean.tokens);
  const auto other = topToken(model, pairs.corrupted.tokens);
  metric.foil = other != metric.answer ? other : -1;
  pairs.metrics = {metric};
  return pairs;
}

}  // namespace cs::gui
