// The prune-and-patch panel's model work: live metrics under a mask, the full / masked /
// compacted comparison, mask files and the pruned checkpoint, through the libraries `prune` and
// `mask` use.
#include "core/torch_api.h"

#include <nlohmann/json.hpp>

#include "analysis/ablation_means.h"
#include "analysis/mask_evaluation.h"
#include "app/gui/model_session.h"
#include "core/error.h"
#include "data/dataset.h"
#include "models/compaction.h"
#include "models/mask_file.h"
#include "models/native_checkpoint.h"
#include "models/numeric_health.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {

LiveMetrics liveMetrics(const analysis::EvalResult& e) {
  LiveMetrics m;
  m.accuracy = e.accuracy;
  m.loss = e.meanLoss;
  m.hasLogitDiff = e.hasLogitDiff;
  m.logitDiff = e.meanLogitDiff;
  m.rows = e.rows;
  m.seconds = e.seconds;
  return m;
}

}  // namespace

analysis::EvalOptions ModelSession::evalOptions() const {
  // Small models evaluate the whole slice in one batch (a mask toggle then costs one forward
  // pass); wider ones in batches that keep activations within a few hundred MB.
  const std::int64_t batch = m_model->config().dModel <= 256 ? kEvalRows : 16;
  return {batch, kEvalRows};
}

const hooks::AblationMeans* ModelSession::meansFor(const hooks::MaskSet& masks,
                                                   Progress& progress) {
  if (!masks.needsMeans()) return nullptr;
  const auto options = evalOptions();
  return &m_means->get(*m_model, requireDataset(), {options.batchSize, options.limit}, progress);
}

LiveMetrics ModelSession::metrics(const hooks::MaskSet& masks, Progress& progress) {
  const auto& dataset = requireDataset();
  const auto* means = meansFor(masks, progress);
  const auto evaluate = [&]() {
    return liveMetrics(
        analysis::evaluateMasked(*m_model, dataset, masks, means, evalOptions(), progress));
  };
  // Checking every hook point made a head toggle's metrics about 50 ms slower on 512 rows
  // (bench_gui): the logits are checked, and every point only to name where a NaN starts.
  return m_checkNumerics ? models::runCheckingNumerics(*m_model, evaluate) : evaluate();
}

PruningTable ModelSession::comparePruning(const hooks::MaskSet& masks, Progress& progress,
                                          std::int64_t latencyBatch) {
  const auto& dataset = requireDataset();
  const auto* means = meansFor(masks, progress);
  analysis::PruningOptions options;
  options.eval = evalOptions();
  options.latency = {2, 7};
  options.latencyBatch = latencyBatch;
  const auto report = analysis::comparePruning(*m_model, dataset, masks, means, options, progress);
  PruningTable table;
  table.latencyBatch = latencyBatch;
  table.compactedVsMaskedMaxDiff = report.compactedVsMaskedMaxDiff;
  for (const auto& v : report.variants) {
    VariantRow row;
    row.name = v.name;
    row.present = v.present;
    row.absentReason = v.absentReason;
    if (v.present) {
      row.metrics = liveMetrics(v.eval);
      row.latencyMs = v.latency.medianMs;
      row.peakBytes = v.latency.peakBytes;
      row.peakKind = v.latency.peakKind;
      row.parameters = v.latency.parameters;
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

void ModelSession::saveMask(const std::string& path, const hooks::MaskSet& masks,
                            Progress& progress) {
  models::saveMaskFile(path, masks, fingerprint(progress), "made in the circuitscope window");
}

hooks::MaskSet ModelSession::loadMask(const std::string& path, Progress& progress) {
  return models::loadMaskFile(path, fingerprint(progress), m_model->config());
}

void ModelSession::exportPruned(const std::string& folder, const hooks::MaskSet& masks,
                                Progress& progress) {
  if (masks.empty()) {
    throw ConfigError("nothing is masked: mask heads or neurons before exporting a pruned model");
  }
  if (!masks.onlyZeroAblations()) {
    throw ConfigError(
        "only zero-ablated heads, neurons, sublayers and blocks can be removed; mean, "
        "resample and scale entries change values instead. Export the mask instead, or switch "
        "those entries to zero");
  }
  const auto& print = fingerprint(progress);
  progress.setStage("compacting");
  const auto compacted = models::compactModel(*m_model, masks);
  progress.setStage("writing " + folder);
  const nlohmann::json provenance{{"source_model", m_summary.source},
                                  {"source_weights_sha256", print.weightsSha256},
                                  {"mask", models::maskToJson(masks, print)}};
  models::saveNativeCheckpoint(*compacted, folder, &provenance);
}

}  // namespace cs::gui
