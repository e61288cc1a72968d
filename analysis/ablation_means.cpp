// Ablation means: observers sum each activation over (example, position) in float64, weighted by
// the attention mask so padding never enters a mean.
#include "analysis/ablation_means.h"

#include "core/torch_api.h"

#include "core/error.h"
#include "hooks/hook_registry.h"

namespace cs::analysis {

using hooks::HookKind;

namespace {
// Running float64 sums of one layer's activations.
struct LayerSums {
  at::Tensor z, mlpPost, attnOut, mlpOut, blockDelta;
  at::Tensor residPre;  // this batch's resid_pre, until resid_post arrives
};

// Sums x [B, T, ...] over batch and positions where weights [B, T] is 1 (all if undefined).
at::Tensor sumOverPositions(const at::Tensor& x, const at::Tensor& weights) {
  auto x64 = x.to(at::kDouble);
  if (weights.defined()) {
    auto w = weights;
    while (w.dim() < x64.dim()) w = w.unsqueeze(-1);
    x64 = x64 * w;
  }
  return x64.flatten(0, 1).sum(0);
}

void accumulate(at::Tensor& total, const at::Tensor& sum) {
  total = total.defined() ? total + sum : sum;
}
}  // namespace

hooks::AblationMeans computeAblationMeans(models::Transformer& model, const data::Dataset& dataset,
                                          const AblationMeansOptions& options, Progress& progress) {
  if (options.batchSize <= 0) throw ConfigError("batch size for ablation means must be positive");
  c10::InferenceMode guard;
  const int nLayers = model.config().nLayers;
  const std::int64_t rows =
      options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
  if (rows <= 0) {
    throw ConfigError("the reference dataset for mean ablation (" + dataset.describe() +
                      ") has no examples");
  }
  std::vector<LayerSums> sums(static_cast<std::size_t>(nLayers));
  at::Tensor weights;  // [B, T] float64 of the current batch, undefined without padding
  hooks::ScopedHooks scope(model.hooks());
  for (int l = 0; l < nLayers; ++l) {
    auto& s = sums[static_cast<std::size_t>(l)];
    auto add = [&weights](at::Tensor& total) {
      return [&total, &weights](const at::Tensor& x, const hooks::HookPoint&) {
        accumulate(total, sumOverPositions(x, weights));
      };
    };
    scope.observe({HookKind::Z, l}, add(s.z));
    scope.observe({HookKind::MlpPost, l}, add(s.mlpPost));
    scope.observe({HookKind::AttnOut, l}, add(s.attnOut));
    scope.observe({HookKind::MlpOut, l}, add(s.mlpOut));
    scope.observe({HookKind::ResidPre, l},
                  [&s](const at::Tensor& x, const hooks::HookPoint&) { s.residPre = x; });
    scope.observe({HookKind::ResidPost, l},
                  [&s, &weights](const at::Tensor& x, const hooks::HookPoint&) {
                    accumulate(s.blockDelta, sumOverPositions(x - s.residPre, weights));
                    s.residPre.reset();
                  });
  }

  hooks::AblationMeans means;
  means.source = dataset.describe();
  double count = 0.0;
  progress.setStage("computing ablation means on " + means.source);
  for (std::int64_t begin = 0; begin < rows; begin += options.batchSize) {
    progress.check();
    const auto batch = dataset.batch(begin, std::min(options.batchSize, rows - begin));
    models::ModelInput input{batch.tokens, batch.attentionMask, {}, batch.pixels};
    const auto device = model.device();
    weights = batch.attentionMask.defined() ? batch.attentionMask.to(device).ne(0).to(at::kDouble)
                                            : at::Tensor();
    model.forward(input);
    const auto n = batch.tokens.defined() ? batch.tokens.size(0) : batch.pixels.size(0);
    means.rows += n;
    // Positions per example: the model's sequence length (image models add a class token).
    const std::int64_t T =
        batch.tokens.defined() ? batch.tokens.size(1) : model.config().nPatches() + 1;
    count += weights.defined() ? weights.sum().item<double>() : static_cast<double>(n * T);
    progress.setFraction(static_cast<double>(means.rows) / static_cast<double>(rows));
  }
  means.positions = static_cast<std::int64_t>(count);
  const auto dtype = model.dtype();
  auto finish = [&](const at::Tensor& total) {
    return total.defined() ? (total / count).to(dtype) : at::Tensor();
  };
  means.layers.resize(static_cast<std::size_t>(nLayers));
  for (int l = 0; l < nLayers; ++l) {
    const auto& s = sums[static_cast<std::size_t>(l)];
    auto& m = means.layers[static_cast<std::size_t>(l)];
    m.z = finish(s.z);
    m.mlpPost = finish(s.mlpPost);
    m.attnOut = finish(s.attnOut);
    m.mlpOut = finish(s.mlpOut);
    m.blockDelta = finish(s.blockDelta);
  }
  return means;
}

const hooks::AblationMeans& AblationMeansCache::get(models::Transformer& model,
                                                    const data::Dataset& dataset,
                                                    const AblationMeansOptions& options,
                                                    Progress& progress) {
  const Key key{&model, dataset.describe(), options.limit};
  const auto it = m_entries.find(key);
  if (it != m_entries.end()) return it->second;
  return m_entries.emplace(key, computeAblationMeans(model, dataset, options, progress))
      .first->second;
}

}  // namespace cs::analysis
