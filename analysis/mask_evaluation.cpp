// Masked evaluation and the full / masked / compacted comparison. Each variant is evaluated on
// the same rows and timed on the same batch, so the rows of the report compare like with like.
#include "analysis/mask_evaluation.h"

#include "core/torch_api.h"

#include "core/error.h"
#include "models/compaction.h"
#include "models/mask_application.h"

namespace cs::analysis {

EvalResult evaluateMasked(models::Transformer& model, const data::Dataset& dataset,
                          const hooks::MaskSet& masks, const hooks::AblationMeans* means,
                          const EvalOptions& options, Progress& progress) {
  models::AppliedMasks applied(model, masks, means);
  return evaluate(model, dataset, options, progress);
}

PruningReport comparePruning(models::Transformer& model, const data::Dataset& dataset,
                             const hooks::MaskSet& masks, const hooks::AblationMeans* means,
                             const PruningOptions& options, Progress& progress,
                             std::unique_ptr<models::Transformer>* compactedOut) {
  if (options.latencyBatch <= 0) throw ConfigError("the latency batch must hold at least one row");
  models::validateMasks(model.config(), masks, means);
  PruningReport report;
  report.dataset = dataset.describe();
  report.maskEntries = masks.size();
  const auto rows = std::min(options.latencyBatch, dataset.size());
  const auto timing = dataset.batch(0, rows);
  const models::ModelInput batch{timing.tokens, timing.attentionMask, {}, timing.pixels};

  PruningVariant full;
  full.name = "full";
  full.eval = evaluate(model, dataset, options.eval, progress);
  full.latency = measureLatency(model, batch, options.latency, progress);
  report.variants.push_back(std::move(full));

  PruningVariant masked;
  masked.name = "masked";
  at::Tensor maskedLogits;
  {
    models::AppliedMasks applied(model, masks, means);
    masked.eval = evaluate(model, dataset, options.eval, progress);
    masked.latency = measureLatency(model, batch, options.latency, progress);
    c10::InferenceMode guard;
    maskedLogits = model.forward(batch);
  }
  report.variants.push_back(std::move(masked));

  PruningVariant compacted;
  compacted.name = "compacted";
  if (!masks.onlyZeroAblations()) {
    compacted.present = false;
    compacted.absentReason =
        "the mask holds mean, resample or scale entries; only zero ablations can be removed";
  } else {
    progress.setStage("compacting");
    auto small = models::compactModel(model, masks);
    compacted.eval = evaluate(*small, dataset, options.eval, progress);
    compacted.latency = measureLatency(*small, batch, options.latency, progress);
    c10::InferenceMode guard;
    const auto logits = small->forward(batch);
    report.compactedVsMaskedMaxDiff =
        (logits.to(at::kDouble) - maskedLogits.to(at::kDouble)).abs().max().item<double>();
    if (compactedOut) *compactedOut = std::move(small);
  }
  report.variants.push_back(std::move(compacted));
  return report;
}

}  // namespace cs::analysis
