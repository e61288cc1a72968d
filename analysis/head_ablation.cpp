// Head-by-head ablation: the masked evaluation of mask_evaluation.h, once per head.
#include "analysis/head_ablation.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "analysis/mask_evaluation.h"
#include "core/error.h"

namespace cs::analysis {

HeadAblationResult ablateEachHead(models::Transformer& model, const data::Dataset& dataset,
                                  const HeadAblationOptions& options,
                                  const hooks::AblationMeans* means, Progress& progress) {
  if (options.mode != hooks::AblationMode::Zero && options.mode != hooks::AblationMode::Mean) {
    throw ConfigError("head-by-head ablation takes zero or mean ablation");
  }
  const auto& config = model.config();
  const int maxHeads =
      config.nHeads.empty() ? 0 : *std::max_element(config.nHeads.begin(), config.nHeads.end());
  HeadAblationResult result;
  result.dataset = dataset.describe();
  result.mode = std::string(hooks::modeName(options.mode));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  result.accuracy = Eigen::MatrixXd::Constant(config.nLayers, maxHeads, nan);
  result.meanLoss = Eigen::MatrixXd::Constant(config.nLayers, maxHeads, nan);

  // Each evaluation reports its own fraction; this one counts whole evaluations.
  Progress inner;
  const int total = 1 + std::accumulate(config.nHeads.begin(), config.nHeads.end(), 0);
  int done = 0;
  auto step = [&](const std::string& what) {
    progress.check();
    progress.setStage("ablating heads: " + what);
    progress.setFraction(static_cast<double>(done) / total);
  };
  step("baseline");
  result.baseline = evaluate(model, dataset, options.eval, inner);
  ++done;
  for (int l = 0; l < config.nLayers; ++l) {
    for (int h = 0; h < config.nHeads[l]; ++h) {
      step("head " + std::to_string(l) + "." + std::to_string(h));
      hooks::MaskSet masks;
      masks.set({hooks::MaskComponent::Head, l, h, options.mode});
      const auto r = evaluateMasked(model, dataset, masks, means, options.eval, inner);
      result.accuracy(l, h) = r.accuracy;
      result.meanLoss(l, h) = r.meanLoss;
      ++done;
    }
  }
  progress.setFraction(1.0);
  return result;
}

}  // namespace cs::analysis
