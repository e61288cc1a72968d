// `analyze relevance-prune MODEL_DIR --dataset SPEC [--reference SPEC] [--per-class N]
// [--classes C,C,...] [--component neurons|heads] [--order least|most] [--rule attnlrp|cplrp]
// [--rates R,R,...] [--no-random] [--no-magnitude] [--seed S] [--bits B,B,...] [--budget B]
// [--export-rate R --export-mask FILE] [--save FILE.h5] [--run RUN] [--json]`
// (docs/analyses.md): ALGORITHMS.md section 8. Relevance over a reference set gives the layer
// contribution and its bit-width table, and the pruning curve of neurons or heads against
// random and magnitude orders; one curve point can be exported as a mask file.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/relevance_pruning.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "data/store/results_writer.h"
#include "models/mask_file.h"

namespace cs::cli {

namespace {

struct RelevancePruneArgs {
  std::string folder;
  std::string dataset, reference;
  std::int64_t perClass = 10;
  std::string classes;
  std::string component = "neurons";
  std::string order = "least";
  std::string rule = "attnlrp";
  std::string rates;
  bool noRandom = false, noMagnitude = false;
  std::uint64_t seed = 0;
  std::string bits = "4,6,8";
  double budget = 6.0;
  double exportRate = -1.0;
  std::string exportMask;
  std::int64_t batch = 32;
  std::string save;
  std::string run = "relevance_prune";
  bool json = false;
};

std::vector<double> parseRealList(const std::string& text, const std::string& option) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw ConfigError(option + " takes numbers separated by commas, not \"" + text + "\"");
    }
  }
  return out;
}

analysis::PruneComponent componentFrom(const std::string& text) {
  if (text == "neurons") return analysis::PruneComponent::Neurons;
  if (text == "heads") return analysis::PruneComponent::Heads;
  throw ConfigError("--component takes neurons or heads, not \"" + text + "\"");
}

analysis::PruneOrder orderFrom(const std::string& text) {
  if (text == "least") return analysis::PruneOrder::LeastRelevantFirst;
  if (text == "most") return analysis::PruneOrder::MostRelevantFirst;
  throw ConfigError("--order takes least or most, not \"" + text + "\"");
}

// Rows: what ("layer" or "curve"), name (layer or order), x (rate; -1 for layers), value
// (accuracy or normalised contribution), extra (pruned count or bits), parameters.
void saveResult(const RelevancePruneArgs& a, const analysis::RelevanceScores& s,
                const analysis::BitAllocation& bits, const analysis::RelevancePruningResult& r,
                const nlohmann::json& options) {
  auto c = data::namedColumns({"what", "name", "rate", "value", "count", "parameters"});
  const auto add = [&](const char* what, const std::string& name, double rate, double value,
                       std::int64_t count, std::int64_t parameters) {
    c[0].texts.push_back(what);
    c[1].texts.push_back(name);
    c[2].reals.push_back(rate);
    c[3].reals.push_back(value);
    c[4].integers.push_back(count);
    c[5].integers.push_back(parameters);
  };
  for (const auto& row : bits.rows) {
    add("layer", row.name, -1.0, row.normalized, row.bits, row.parameters);
  }
  for (const auto& curve : r.curves) {
    for (std::size_t i = 0; i < curve.rates.size(); ++i) {
      add("curve", curve.order, curve.rates[i], curve.accuracy[i], curve.pruned[i], 0);
    }
  }
  const auto addTable = [&](const char* what, const Eigen::MatrixXd& m) {
    for (Eigen::Index l = 0; l < m.rows(); ++l) {
      for (Eigen::Index i = 0; i < m.cols(); ++i) {
        if (!std::isnan(m(l, i))) {
          add(what, "blocks." + std::to_string(l), -1.0, m(l, i), static_cast<std::int64_t>(i), 0);
        }
      }
    }
  };
  addTable("neuron", s.neurons);
  addTable("head", s.heads);
  data::writeResultTable(a.save, "relevance_prune", a.run, c, options.dump());
}

void relevancePruneCommand(const RelevancePruneArgs& a, const GlobalOptions& global) {
  configureThreads(global.threads);
  auto model = loadModel(a.folder, global);
  const auto& config = model->config();
  if (a.exportMask.empty() != (a.exportRate < 0.0)) {
    throw ConfigError("--export-mask and --export-rate go together");
  }
  const data::DatasetContext context{a.folder, config.nCtx, config.imageSize, config.classLabels};
  const auto dataset = data::openDataset(a.dataset, context);
  const auto reference = a.reference.empty() ? data::openDataset(a.dataset, context)
                                             : data::openDataset(a.reference, context);
  analysis::RelevanceScoreOptions so;
  so.perClass = a.perClass;
  for (const int cls : parseIntList(a.classes, "--classes")) so.classes.push_back(cls);
  so.batchSize = a.batch;
  models::RelevanceRules rules;
  if (a.rule == "cplrp") {
    rules.attention = models::AttentionRule::CpLrp;
  } else if (a.rule != "attnlrp") {
    throw ConfigError("--rule takes attnlrp or cplrp, not \"" + a.rule + "\"");
  }
  so.rules = rules;
  analysis::RelevancePruningOptions po;
  po.component = componentFrom(a.component);
  po.order = orderFrom(a.order);
  if (!a.rates.empty()) po.rates = parseRealList(a.rates, "--rates");
  po.randomBaseline = !a.noRandom;
  po.magnitudeBaseline = !a.noMagnitude;
  po.seed = a.seed;
  po.eval.batchSize = a.batch;
  std::vector<int> levels = parseIntList(a.bits, "--bits");

  Progress progress;
  analysis::RelevanceScores scores;
  analysis::RelevancePruningResult r;
  {
    ProgressLine line(progress, global);
    scores = analysis::scoreByRelevance(*model, *reference, so, progress);
    r = analysis::relevancePruningCurves(*model, scores, *dataset, po, progress);
  }
  const auto bits = analysis::allocateBits(scores, levels, a.budget);
  if (!a.exportMask.empty()) {
    const auto table =
        po.component == analysis::PruneComponent::Neurons ? scores.neurons : scores.heads;
    const auto masks = analysis::pruningMask(table, po.component, a.exportRate, po.order);
    std::ostringstream what;
    what << "relevance pruning of " << r.component << " at rate " << a.exportRate << " ("
         << scores.rules << ")";
    models::saveMaskFile(a.exportMask, masks, models::fingerprintOfFolder(a.folder), what.str());
  }
  auto curves = nlohmann::json::array();
  for (const auto& c : r.curves) {
    curves.push_back({{"order", c.order},
                      {"auc", c.auc},
                      {"rates", c.rates},
                      {"accuracy", c.accuracy},
                      {"pruned", c.pruned}});
  }
  auto layers = nlohmann::json::array();
  for (const auto& row : bits.rows) {
    layers.push_back({{"name", row.name},
                      {"parameters", row.parameters},
                      {"contribution", row.normalized},
                      {"bits", row.bits}});
  }
  const nlohmann::json described{{"model", a.folder},
                                 {"rules", scores.rules},
                                 {"reference", scores.dataset},
                                 {"reference_examples", scores.examples},
                                 {"dataset", r.dataset},
                                 {"component", r.component},
                                 {"order", a.order},
                                 {"total", r.total},
                                 {"unpruned_accuracy", r.unprunedAccuracy},
                                 {"budget_bits", bits.budget},
                                 {"mean_bits", bits.meanBits}};
  if (!a.save.empty()) saveResult(a, scores, bits, r, described);
  if (a.json) {
    auto j = described;
    j["curves"] = curves;
    j["layers"] = layers;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("relevance of %lld reference examples (%s), rules: %s\n",
              static_cast<long long>(scores.examples), scores.dataset.c_str(),
              scores.rules.c_str());
  std::printf("\n%-18s %12s %14s %6s\n", "linear layer", "parameters", "contribution", "bits");
  for (const auto& row : bits.rows) {
    std::printf("%-18s %12lld %14.4f %6d\n", row.name.c_str(),
                static_cast<long long>(row.parameters), row.normalized, row.bits);
  }
  std::printf("mean %.3f bits (budget %.3g)\n", bits.meanBits, bits.budget);
  std::printf("\npruning %lld %s on %s (unpruned accuracy %.4f)\n", static_cast<long long>(r.total),
              r.component.c_str(), r.dataset.c_str(), r.unprunedAccuracy);
  std::printf("%-6s", "rate");
  for (const auto& c : r.curves) std::printf(" %11s", c.order.c_str());
  std::printf("\n");
  for (std::size_t i = 0; i < r.curves.front().rates.size(); ++i) {
    std::printf("%-6.2f", r.curves.front().rates[i]);
    for (const auto& c : r.curves) std::printf(" %11.4f", c.accuracy[i]);
    std::printf("\n");
  }
  std::printf("%-6s", "AUC");
  for (const auto& c : r.curves) std::printf(" %11.4f", c.auc);
  std::printf("\n");
  if (!a.exportMask.empty())
    std::printf("\nmask at rate %g: %s\n", a.exportRate, a.exportMask.c_str());
  if (!a.save.empty()) {
    std::printf("saved to %s:/results/relevance_prune/%s\n", a.save.c_str(), a.run.c_str());
  }
}

}  // namespace

void addAnalyzeRelevancePruningCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "relevance-prune",
      "relevance-based layer contribution, bit widths and pruning curves (ALGORITHMS.md "
      "section 8)");
  auto a = std::make_shared<RelevancePruneArgs>();
  addModelFolderOption(cmd, a->folder, "model folder")->required();
  cmd->add_option("--dataset", a->dataset, "dataset the accuracy is measured on")->required();
  cmd->add_option("--reference", a->reference,
                  "dataset the relevance is gathered on (default: --dataset)");
  cmd->add_option("--per-class", a->perClass, "reference examples per class (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--classes", a->classes, "only these classes, e.g. 0,3,7");
  cmd->add_option("--component", a->component, "neurons or heads")->capture_default_str();
  cmd->add_option("--order", a->order, "least or most relevant first")->capture_default_str();
  cmd->add_option("--rule", a->rule, "attnlrp or cplrp")->capture_default_str();
  cmd->add_option("--rates", a->rates, "pruning rates (default 0, 0.05, ..., 0.95)");
  cmd->add_flag("--no-random", a->noRandom, "skip the random-order baseline");
  cmd->add_flag("--no-magnitude", a->noMagnitude, "skip the weight-magnitude baseline");
  cmd->add_option("--seed", a->seed, "seed of the random order")->capture_default_str();
  cmd->add_option("--bits", a->bits, "candidate bit widths")->capture_default_str();
  cmd->add_option("--budget", a->budget, "mean bit width allowed")->capture_default_str();
  cmd->add_option("--export-rate", a->exportRate, "pruning rate of the exported mask");
  cmd->add_option("--export-mask", a->exportMask, "mask file (JSON) for --export-rate");
  cmd->add_option("--batch", a->batch, "rows per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--save", a->save, "HDF5 file for /results/relevance_prune/RUN");
  cmd->add_option("--run", a->run, "run name under /results/relevance_prune")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([&options, a] { relevancePruneCommand(*a, options); });
}

}  // namespace cs::cli
