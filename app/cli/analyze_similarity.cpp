// `analyze similarity` (layer importance by input/output cosine similarity, drop sets and drop
// curves) and `analyze cka` (linear CKA between hook points): ALGORITHMS.md section 2, see
// docs/analyses.md. --save writes one long-form table per run.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "analysis/cka.h"
#include "analysis/layer_similarity.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/json_output.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "data/store/results_writer.h"

namespace cs::cli {

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

std::unique_ptr<data::Dataset> openFor(const std::string& spec, const std::string& folder,
                                       const models::TransformerConfig& config) {
  return data::openDataset(spec, {folder, config.nCtx, config.imageSize, config.classLabels});
}

// ---- analyze similarity ----

struct SimilarityArgs {
  std::string folder, dataset;
  std::int64_t limit = 256, batchSize = 32, evalLimit = 0;
  std::string mode = "discrete", target = "attn";
  int dropN = 8;
  bool curve = false;
  std::string save, run = "similarity";
  bool json = false;
};

// Long form: one row per record, the record column saying which part of the result it is.
void saveSimilarity(const analysis::LayerSimilarityResult& r, const nlohmann::json& options,
                    const SimilarityArgs& args) {
  std::vector<data::ResultColumn> c(10);
  const char* names[] = {"record",     "kind",    "layer",    "count",     "similarity",
                         "importance", "skipped", "accuracy", "mean_loss", "modules"};
  for (std::size_t i = 0; i < c.size(); ++i) c[i].name = names[i];
  auto row = [&](const std::string& record, const std::string& kind, int layer, int count,
                 double sim, bool skipped, double accuracy, double loss,
                 const std::string& modules) {
    c[0].texts.push_back(record);
    c[1].texts.push_back(kind);
    c[2].integers.push_back(layer);
    c[3].integers.push_back(count);
    c[4].reals.push_back(sim);
    c[5].reals.push_back(std::isfinite(sim) ? 1.0 - sim : kNan);
    c[6].integers.push_back(skipped ? 1 : 0);
    c[7].reals.push_back(accuracy);
    c[8].reals.push_back(loss);
    c[9].texts.push_back(modules);
  };
  const int L = static_cast<int>(r.blockSimilarity.size());
  for (int l = 0; l < L; ++l) {
    row("module", "block", l, 1, r.blockSimilarity[l], r.attnSkipped[l] && r.mlpSkipped[l], kNan,
        kNan, "");
    row("module", "attn", l, 1, r.attnSimilarity[l], r.attnSkipped[l], kNan, kNan, "");
    row("module", "mlp", l, 1, r.mlpSimilarity[l], r.mlpSkipped[l], kNan, kNan, "");
  }
  for (const auto& d : r.dropped)
    row("drop", d.kind, d.layer, d.count, d.similarity, false, kNan, kNan, "");
  for (const auto& p : r.curve)
    row("curve", "", -1, p.dropped, kNan, false, p.accuracy, p.meanLoss, p.modules);
  for (int i = 0; i < r.residualSimilarity.rows(); ++i) {
    for (int j = i + 1; j < r.residualSimilarity.cols(); ++j) {
      row("gap", "block", i, j - i, r.residualSimilarity(i, j), false, kNan, kNan, "");
    }
  }
  data::writeResultTable(args.save, "layer_similarity", args.run, c, options.dump());
}

nlohmann::json similarityJson(const analysis::LayerSimilarityResult& r, nlohmann::json j) {
  auto& layers = j["layers"] = nlohmann::json::array();
  for (std::size_t l = 0; l < r.blockSimilarity.size(); ++l) {
    layers.push_back({{"layer", l},
                      {"block_similarity", r.blockSimilarity[l]},
                      {"block_importance", r.blockImportance[l]},
                      {"attn_similarity", r.attnSimilarity[l]},
                      {"attn_importance", r.attnImportance[l]},
                      {"attn_skipped", static_cast<bool>(r.attnSkipped[l])},
                      {"mlp_similarity", r.mlpSimilarity[l]},
                      {"mlp_importance", r.mlpImportance[l]},
                      {"mlp_skipped", static_cast<bool>(r.mlpSkipped[l])}});
  }
  auto& dropped = j["dropped"] = nlohmann::json::array();
  for (const auto& d : r.dropped) {
    dropped.push_back(
        {{"kind", d.kind}, {"layer", d.layer}, {"count", d.count}, {"similarity", d.similarity}});
  }
  if (!r.consecutiveSimilarity.empty()) j["consecutive_similarity"] = r.consecutiveSimilarity;
  if (r.residualSimilarity.size() > 0) {
    auto& m = j["residual_similarity"] = nlohmann::json::array();
    for (int i = 0; i < r.residualSimilarity.rows(); ++i) {
      std::vector<double> rowValues;
      for (int k = 0; k < r.residualSimilarity.cols(); ++k)
        rowValues.push_back(r.residualSimilarity(i, k));
      m.push_back(rowValues);
    }
  }
  if (!r.curve.empty()) {
    auto& curve = j["curve"] = nlohmann::json::array();
    for (const auto& p : r.curve) {
      curve.push_back({{"dropped", p.dropped},
                       {"modules", p.modules},
                       {"accuracy", p.accuracy},
                       {"mean_loss", p.meanLoss}});
    }
  }
  return j;
}

void printSimilarity(const analysis::LayerSimilarityResult& r) {
  std::printf("dataset    %s\n", r.dataset.c_str());
  std::printf("samples    %lld rows, %lld tokens (padding excluded)\n",
              static_cast<long long>(r.samples), static_cast<long long>(r.tokens));
  std::printf("\nmean cos(X, Y); importance = 1 - similarity; '-' = already skipped\n");
  std::printf("%5s %10s %10s %10s %10s %10s %10s\n", "layer", "block sim", "importance", "attn sim",
              "importance", "mlp sim", "importance");
  for (std::size_t l = 0; l < r.blockSimilarity.size(); ++l) {
    auto cell = [](double sim, bool skipped) {
      char buf[32];
      std::snprintf(buf, sizeof buf, skipped ? "%9.4f-" : "%10.4f", sim);
      return std::string(buf);
    };
    std::printf("%5zu %s %10.4f %s %10.4f %s %10.4f\n", l,
                cell(r.blockSimilarity[l], r.attnSkipped[l] && r.mlpSkipped[l]).c_str(),
                r.blockImportance[l], cell(r.attnSimilarity[l], r.attnSkipped[l]).c_str(),
                r.attnImportance[l], cell(r.mlpSimilarity[l], r.mlpSkipped[l]).c_str(),
                r.mlpImportance[l]);
  }
  if (!r.consecutiveSimilarity.empty()) {
    std::printf("\nconsecutive: sim_%d(i) = mean cos(h_i, h_{i+%d})\n", r.dropN, r.dropN);
    for (std::size_t i = 0; i < r.consecutiveSimilarity.size(); ++i) {
      std::printf("  start %2zu  %.4f\n", i, r.consecutiveSimilarity[i]);
    }
  }
  std::printf("\n%s drop of %s, %d to drop:\n", r.mode.c_str(), r.target.c_str(), r.dropN);
  if (r.dropped.empty()) std::printf("  nothing can be dropped\n");
  for (std::size_t i = 0; i < r.dropped.size(); ++i) {
    const auto& d = r.dropped[i];
    if (d.count > 1) {
      std::printf("  %2zu. blocks %d-%d  sim %.4f\n", i + 1, d.layer, d.layer + d.count - 1,
                  d.similarity);
    } else {
      std::printf("  %2zu. %-5s %3d  sim %.4f\n", i + 1, d.kind.c_str(), d.layer, d.similarity);
    }
  }
  if (!r.curve.empty()) {
    std::printf("\ndrop curve\n%3s %9s %10s  %s\n", "k", "accuracy", "mean loss", "dropped");
    for (const auto& p : r.curve) {
      std::printf("%3d %9.4f %10.4f  %s\n", p.dropped, p.accuracy, p.meanLoss, p.modules.c_str());
    }
  }
  std::printf("\n%d scoring pass%s in %.2f s\n", r.forwardPasses, r.forwardPasses == 1 ? "" : "es",
              r.seconds);
}

void similarityCommand(const SimilarityArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  analysis::LayerSimilarityOptions o;
  o.mode = analysis::parseDropMode(args.mode);
  o.target = analysis::parseDropTarget(args.target);
  o.limit = args.limit;
  o.batchSize = args.batchSize;
  o.dropN = args.dropN;
  o.curve = args.curve;
  o.eval = {args.batchSize, args.evalLimit};
  auto model = loadModel(args.folder, options);
  const auto dataset = openFor(args.dataset, args.folder, model->config());
  Progress progress;
  analysis::LayerSimilarityResult r;
  {
    ProgressLine line(progress, options);
    r = analysis::analyseLayerSimilarity(*model, *dataset, o, progress);
  }
  const nlohmann::json described{{"model", args.folder},
                                 {"dataset", args.dataset},
                                 {"dataset_description", r.dataset},
                                 {"limit", args.limit},
                                 {"batch_size", args.batchSize},
                                 {"mode", r.mode},
                                 {"target", r.target},
                                 {"drop_n", args.dropN},
                                 {"drop_n_clipped", r.dropN},
                                 {"curve", args.curve},
                                 {"eval_limit", args.evalLimit},
                                 {"samples", r.samples},
                                 {"tokens", r.tokens},
                                 {"scoring_passes", r.forwardPasses}};
  if (!args.save.empty()) saveSimilarity(r, described, args);
  if (args.json) {
    std::cout << similarityJson(r, described).dump(2) << "\n";
    return;
  }
  printSimilarity(r);
  if (!args.save.empty()) {
    std::printf("saved to %s:/results/layer_similarity/%s\n", args.save.c_str(), args.run.c_str());
  }
}

// ---- analyze cka ----

struct CkaArgs {
  std::string folder, dataset;
  std::vector<std::string> hooks;
  std::string position = "all", form = "gram";
  std::int64_t limit = 256, batchSize = 32;
  std::string save, run = "cka";
  bool json = false;
};

void saveCka(const analysis::CkaResult& r, const nlohmann::json& options, const CkaArgs& args) {
  auto c = data::namedColumns({"row_hook", "column_hook", "row", "column", "cka"});
  for (std::size_t i = 0; i < r.hooks.size(); ++i) {
    for (std::size_t j = 0; j < r.hooks.size(); ++j) {
      c[0].texts.push_back(r.hooks[i]);
      c[1].texts.push_back(r.hooks[j]);
      c[2].integers.push_back(static_cast<std::int64_t>(i));
      c[3].integers.push_back(static_cast<std::int64_t>(j));
      c[4].reals.push_back(r.cka(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)));
    }
  }
  data::writeResultTable(args.save, "cka", args.run, c, options.dump());
}

void printCka(const analysis::CkaResult& r) {
  std::printf("dataset    %s\n", r.dataset.c_str());
  std::printf("samples    %lld, %s form, position %s\n\n", static_cast<long long>(r.samples),
              r.form.c_str(), r.position.c_str());
  for (std::size_t i = 0; i < r.hooks.size(); ++i) {
    std::printf("  %3zu  %-32s %8lld features%s\n", i, r.hooks[i].c_str(),
                static_cast<long long>(r.features[i]),
                r.constant[i] ? "  (constant over the samples: CKA undefined, shown as 0)" : "");
  }
  std::printf("\n%5s", "");
  for (std::size_t j = 0; j < r.hooks.size(); ++j) std::printf(" %6zu", j);
  std::printf("\n");
  for (std::size_t i = 0; i < r.hooks.size(); ++i) {
    std::printf("%5zu", i);
    for (std::size_t j = 0; j < r.hooks.size(); ++j) {
      std::printf(" %6.3f", r.cka(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)));
    }
    std::printf("\n");
  }
  std::printf("\n%.2f s\n", r.seconds);
}

void ckaCommand(const CkaArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  analysis::CkaOptions o;
  o.hooks = args.hooks;
  o.position = analysis::parseCkaPosition(args.position);
  o.form = analysis::parseCkaForm(args.form);
  o.limit = args.limit;
  o.batchSize = args.batchSize;
  auto model = loadModel(args.folder, options);
  const auto dataset = openFor(args.dataset, args.folder, model->config());
  Progress progress;
  analysis::CkaResult r;
  {
    ProgressLine line(progress, options);
    r = analysis::analyseCka(*model, *dataset, o, progress);
  }
  std::vector<bool> constant(r.constant.begin(), r.constant.end());
  const nlohmann::json described{{"model", args.folder},
                                 {"dataset", args.dataset},
                                 {"dataset_description", r.dataset},
                                 {"hooks", r.hooks},
                                 {"features", r.features},
                                 {"constant", constant},
                                 {"position", r.position},
                                 {"form", r.form},
                                 {"limit", args.limit},
                                 {"batch_size", args.batchSize},
                                 {"samples", r.samples}};
  if (!args.save.empty()) saveCka(r, described, args);
  if (args.json) {
    auto j = described;
    j["cka"] = matrixJson(r.cka);
    j["seconds"] = r.seconds;
    std::cout << j.dump(2) << "\n";
    return;
  }
  printCka(r);
  if (!args.save.empty()) {
    std::printf("saved to %s:/results/cka/%s\n", args.save.c_str(), args.run.c_str());
  }
}

}  // namespace

void addAnalyzeSimilarityCommands(CLI::App& analyze, const GlobalOptions& options) {
  {
    auto* cmd = analyze.add_subcommand(
        "similarity",
        "layer importance: mean cos(input, output) of blocks, attention and MLP sublayers, "
        "drop sets and drop curves");
    auto args = std::make_shared<SimilarityArgs>();
    addModelFolderOption(cmd, args->folder, "model folder or builtin:NAME")->required();
    cmd->add_option("--dataset", args->dataset, "calibration dataset spec (docs/datasets.md)")
        ->required();
    cmd->add_option("--limit", args->limit, "calibration rows (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--batch-size", args->batchSize)
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--mode", args->mode, "discrete, joint, iterative or consecutive")
        ->capture_default_str();
    cmd->add_option("--target", args->target,
                    "what discrete and iterative modes rank: block, attn, mlp or sublayers")
        ->capture_default_str();
    cmd->add_option("--drop-n", args->dropN, "modules (consecutive: blocks) to drop")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--curve", args->curve, "evaluate after dropping the first k, k = 0..n");
    cmd->add_option("--eval-limit", args->evalLimit, "rows each curve point evaluates (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--save", args->save, "HDF5 file for /results/layer_similarity/RUN");
    cmd->add_option("--run", args->run, "run name under /results/layer_similarity")
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "print one JSON object");
    cmd->callback([&options, args] { similarityCommand(*args, options); });
  }
  {
    auto* cmd = analyze.add_subcommand(
        "cka", "linear CKA between hook points (default: the residual stream h_0..h_L)");
    auto args = std::make_shared<CkaArgs>();
    addModelFolderOption(cmd, args->folder, "model folder or builtin:NAME")->required();
    cmd->add_option("--dataset", args->dataset, "dataset spec (docs/datasets.md)")->required();
    cmd->add_option("--hooks", args->hooks,
                    "hook names or patterns (default: every hook_resid_pre and the last "
                    "hook_resid_post)");
    cmd->add_option("--position", args->position,
                    "per sample: all (every position flattened), cls (first), last (last real "
                    "token) or mean")
        ->capture_default_str();
    cmd->add_option("--form", args->form,
                    "feature, gram (exact) or unbiased (minibatch HSIC, no storage)")
        ->capture_default_str();
    cmd->add_option("--limit", args->limit, "samples (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--batch-size", args->batchSize, "rows per pass (unbiased: per HSIC batch)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--save", args->save, "HDF5 file for /results/cka/RUN");
    cmd->add_option("--run", args->run, "run name under /results/cka")->capture_default_str();
    cmd->add_flag("--json", args->json, "print one JSON object");
    cmd->callback([&options, args] { ckaCommand(*args, options); });
  }
}

}  // namespace cs::cli
