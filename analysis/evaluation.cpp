// Evaluation loop. Sums are accumulated in float64 so results compare across runs and batch
// sizes.
#include "analysis/evaluation.h"

#include "core/torch_api.h"

#include <chrono>

#include "core/error.h"

namespace cs::analysis {

namespace {
struct Sums {
  double correct = 0, loss = 0, logitDiff = 0;
  std::int64_t predictions = 0;
  bool hasLogitDiff = false;
};

// Scores logits [B, V] against targets [B] (and foils [B]).
void scoreRows(const at::Tensor& logits, const data::EvalBatch& batch, Sums& sums) {
  const auto logits64 = logits.to(at::kDouble);
  const auto targets = batch.targets.to(logits.device());
  sums.correct += logits64.argmax(-1).eq(targets).sum().item<double>();
  sums.loss += at::cross_entropy_loss(logits64, targets, {}, at::Reduction::Sum).item<double>();
  sums.predictions += logits.size(0);
  if (batch.foils.defined()) {
    const auto foils = batch.foils.to(logits.device());
    sums.logitDiff +=
        (logits64.gather(1, targets.unsqueeze(1)) - logits64.gather(1, foils.unsqueeze(1)))
            .sum()
            .item<double>();
    sums.hasLogitDiff = true;
  }
}
}  // namespace

EvalResult evaluate(models::Model& model, const data::Dataset& dataset, const EvalOptions& options,
                    Progress& progress) {
  if (options.batchSize <= 0) throw ConfigError("evaluation batch size must be positive");
  c10::InferenceMode guard;
  EvalResult result;
  result.dataset = dataset.describe();
  const std::int64_t rows =
      options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
  Sums sums;
  progress.setStage("evaluating " + result.dataset);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t begin = 0; begin < rows; begin += options.batchSize) {
    progress.check();
    const auto batch = dataset.batch(begin, std::min(options.batchSize, rows - begin));
    models::ModelInput input{batch.tokens, batch.attentionMask, {}, batch.pixels};
    const auto logits = model.forward(input);
    if (batch.lossMask.defined()) {
      // Logits at t - 1 predict the token at t wherever the mask marks t.
      const auto T = batch.tokens.size(1);
      const auto mask = batch.lossMask.narrow(1, 1, T - 1).to(logits.device());
      const auto predicted =
          logits.narrow(1, 0, T - 1).masked_select(mask.unsqueeze(-1)).view({-1, logits.size(-1)});
      data::EvalBatch flat;
      flat.targets = batch.tokens.narrow(1, 1, T - 1).to(logits.device()).masked_select(mask);
      scoreRows(predicted, flat, sums);
    } else if (batch.scorePositions.defined()) {
      const auto positions = batch.scorePositions.to(logits.device());
      const auto rowsIndex = at::arange(logits.size(0), positions.options());
      scoreRows(logits.index({rowsIndex, positions}), batch, sums);
    } else {
      scoreRows(logits, batch, sums);
    }
    result.rows += batch.tokens.defined() ? batch.tokens.size(0) : batch.pixels.size(0);
    progress.setFraction(static_cast<double>(result.rows) / static_cast<double>(rows));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.predictions = sums.predictions;
  if (sums.predictions > 0) {
    result.accuracy = sums.correct / static_cast<double>(sums.predictions);
    result.meanLoss = sums.loss / static_cast<double>(sums.predictions);
  }
  result.hasLogitDiff = sums.hasLogitDiff;
  if (sums.hasLogitDiff && sums.predictions > 0) {
    result.meanLogitDiff = sums.logitDiff / static_cast<double>(sums.predictions);
  }
  return result;
}

}  // namespace cs::analysis
