#include "app/gui/session_patching.h"

#include "core/torch_api.h"

#include <algorithm>
#include <limits>

namespace cs::gui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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

Eigen::MatrixXd headGrid(const analysis::PatchingResult& r, const models::TransformerConfig& c) {
  const int heads = c.nHeads.empty() ? 0 : *std::max_element(c.nHeads.begin(), c.nHeads.end());
  Eigen::MatrixXd out = Eigen::MatrixXd::Constant(c.nLayers, heads, kNaN);
  for (const auto& loc : r.locations) {
    if (loc.layer >= 0 && loc.layer < out.rows() && loc.head >= 0 && loc.head < out.cols()) {
      out(loc.layer, loc.head) = loc.score;
    }
  }
  return out;
}

Eigen::MatrixXd positionGrid(const analysis::PatchingResult& r, const models::TransformerConfig& c,
                             Eigen::Index positions) {
  Eigen::MatrixXd out = Eigen::MatrixXd::Constant(c.nLayers, positions, kNaN);
  for (const auto& loc : r.locations) {
    if (loc.layer >= 0 && loc.layer < out.rows() && loc.position >= 0 && loc.position < positions) {
      out(loc.layer, loc.position) = loc.score;
    }
  }
  return out;
}

}  // namespace cs::gui
