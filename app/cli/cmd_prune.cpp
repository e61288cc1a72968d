// `prune MODEL_DIR --mask MASK.json --dataset SPEC [--mean-dataset SPEC] [--export OUT_DIR]`:
// the full, masked and compacted model side by side (accuracy, loss, logit difference, latency,
// size), and optionally the compacted model exported as a checkpoint folder.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/ablation_means.h"
#include "analysis/mask_evaluation.h"
#include "app/cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/mask_file.h"
#include "models/native_checkpoint.h"

namespace cs::cli {

namespace {
struct PruneArgs {
  std::string folder;
  std::string mask;
  std::string dataset;
  std::int64_t limit = 0;
  std::int64_t batchSize = 32;
  std::string meanDataset;  // default: --dataset
  std::int64_t meanLimit = 512;
  std::int64_t latencyBatch = 8;
  int warmup = 3;
  int runs = 20;
  std::string exportDir;
  bool json = false;
};

nlohmann::json variantJson(const analysis::PruningVariant& v) {
  if (!v.present) return {{"name", v.name}, {"present", false}, {"reason", v.absentReason}};
  const auto& e = v.eval;
  const auto& l = v.latency;
  nlohmann::json j{{"name", v.name},
                   {"present", true},
                   {"accuracy", e.accuracy},
                   {"mean_loss", e.meanLoss},
                   {"latency_median_ms", l.medianMs},
                   {"latency_p10_ms", l.p10Ms},
                   {"latency_p90_ms", l.p90Ms},
                   {"items_per_second", l.itemsPerSecond},
                   {"item_unit", l.itemUnit},
                   {"peak_bytes", l.peakBytes},
                   {"peak_kind", l.peakKind},
                   {"parameters", l.parameters},
                   {"flops_per_example", l.flopsPerExample}};
  if (e.hasLogitDiff) j["mean_logit_diff"] = e.meanLogitDiff;
  return j;
}

void printReport(const analysis::PruningReport& r) {
  const auto& full = r.variants.front();
  std::printf("dataset    %s (%lld rows)\n", r.dataset.c_str(),
              static_cast<long long>(full.eval.rows));
  std::printf("mask       %zu entries\n\n", r.maskEntries);
  std::printf("%-10s %9s %8s %9s %8s %10s %10s %9s %9s %12s %11s %9s\n", "variant", "accuracy",
              "delta", "loss", "delta", "logitdiff", "median ms", "p10 ms", "p90 ms",
              (full.latency.itemUnit + "/s").c_str(), "parameters", "GFLOP/ex");
  for (const auto& v : r.variants) {
    if (!v.present) {
      std::printf("%-10s (not built: %s)\n", v.name.c_str(), v.absentReason.c_str());
      continue;
    }
    const auto& e = v.eval;
    const auto& l = v.latency;
    const auto logitDiff = e.hasLogitDiff ? std::to_string(e.meanLogitDiff).substr(0, 9) : "-";
    std::printf("%-10s %9.4f %+8.4f %9.4f %+8.4f %10s %10.3f %9.3f %9.3f %12.0f %11lld %9.4f\n",
                v.name.c_str(), e.accuracy, e.accuracy - full.eval.accuracy, e.meanLoss,
                e.meanLoss - full.eval.meanLoss, logitDiff.c_str(), l.medianMs, l.p10Ms, l.p90Ms,
                l.itemsPerSecond, static_cast<long long>(l.parameters), l.flopsPerExample / 1e9);
  }
  const auto& compacted = r.variants.back();
  if (compacted.present) {
    std::printf("\ncompacted vs masked logits: max |diff| %.3g\n", r.compactedVsMaskedMaxDiff);
  }
  std::printf(
      "latency on %lld x %lld %s, %d timed runs\n", static_cast<long long>(full.latency.batch),
      static_cast<long long>(full.latency.tokens),
      full.latency.itemUnit == "images" ? "images (positions)" : "tokens", full.latency.runs);
}

void pruneCommand(const PruneArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  auto model = loadModel(args.folder, options);
  const auto& config = model->config();
  Progress progress;
  ProgressLine line(progress, options);
  progress.setStage("fingerprinting the model");
  const auto fingerprint = models::fingerprintOfFolder(args.folder, progress);
  const auto masks = models::loadMaskFile(args.mask, fingerprint, config);
  const data::DatasetContext context{args.folder, config.nCtx, config.imageSize,
                                     config.classLabels};
  const auto dataset = data::openDataset(args.dataset, context);
  std::optional<hooks::AblationMeans> means;
  if (masks.needsMeans()) {
    const auto reference = args.meanDataset.empty() ? data::openDataset(args.dataset, context)
                                                    : data::openDataset(args.meanDataset, context);
    means = analysis::computeAblationMeans(*model, *reference, {args.batchSize, args.meanLimit},
                                           progress);
  }
  analysis::PruningOptions pruning;
  pruning.eval = {args.batchSize, args.limit};
  pruning.latency = {args.warmup, args.runs};
  pruning.latencyBatch = args.latencyBatch;
  std::unique_ptr<models::Transformer> compacted;
  const auto report =
      analysis::comparePruning(*model, *dataset, masks, means ? &*means : nullptr, pruning,
                               progress, args.exportDir.empty() ? nullptr : &compacted);
  if (!args.exportDir.empty()) {
    if (!compacted) {
      throw ConfigError(
          "--export needs a compacted model, and this mask has entries that "
          "cannot be removed (" +
          report.variants.back().absentReason + ")");
    }
    const nlohmann::json provenance{{"source_model", args.folder},
                                    {"source_weights_sha256", fingerprint.weightsSha256},
                                    {"mask_file", args.mask},
                                    {"mask", models::maskToJson(masks, fingerprint)}};
    progress.setStage("exporting the compacted model");
    models::saveNativeCheckpoint(*compacted, args.exportDir, &provenance);
  }
  if (args.json) {
    nlohmann::json j{{"dataset", report.dataset},
                     {"rows", report.variants.front().eval.rows},
                     {"mask_entries", report.maskEntries},
                     {"compacted_vs_masked_max_diff", report.compactedVsMaskedMaxDiff},
                     {"variants", nlohmann::json::array()}};
    for (const auto& v : report.variants) j["variants"].push_back(variantJson(v));
    if (!args.exportDir.empty()) j["exported"] = args.exportDir;
    std::cout << j.dump(2) << "\n";
    return;
  }
  printReport(report);
  if (!args.exportDir.empty()) {
    std::printf("exported the compacted model to %s (circuitscope checkpoint format)\n",
                args.exportDir.c_str());
  }
}
}  // namespace

void addPruneCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand(
      "prune", "full vs masked vs compacted model: accuracy, loss, latency; export the result");
  auto args = std::make_shared<PruneArgs>();
  addModelFolderOption(cmd, args->folder, "model folder")->required();
  cmd->add_option("--mask", args->mask, "mask file (docs/masks.md)")->required();
  cmd->add_option("--dataset", args->dataset, "dataset spec to evaluate on")->required();
  cmd->add_option("--limit", args->limit, "evaluate at most N rows (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", args->batchSize)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--mean-dataset", args->meanDataset,
                  "reference dataset for mean ablation (default: --dataset)");
  cmd->add_option("--mean-limit", args->meanLimit, "rows of the reference dataset to average")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--latency-batch", args->latencyBatch, "rows per timed forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", args->warmup)->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--runs", args->runs, "timed runs per variant")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--export", args->exportDir, "write the compacted model to this folder");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([&options, args] { pruneCommand(*args, options); });
}

}  // namespace cs::cli
