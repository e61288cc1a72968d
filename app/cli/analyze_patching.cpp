// `analyze patching`, `analyze attribution-patching` and `analyze path-patching`
// (docs/analyses.md, ALGORITHMS.md section 4). Inputs and metric follow the `patch` command:
// --clean/--corrupted prompts, ids or images, --answer/--foil (default: the clean run's top
// prediction against the corrupted run's); ids may hold several pairs as rows ("1,2;3,4"),
// whose scores are averaged. The sweeps print S as heatmap grids (layer x head, layer x pos,
// ...) or, when a grid is too wide, its strongest locations.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/activation_patching.h"
#include "analysis/attribution_patching.h"
#include "analysis/path_patching.h"
#include "analysis/path_patching_nodes.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "app/cli/json_output.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"

namespace cs::cli {

namespace {

constexpr int kWidestGrid = 24;  // wider grids print their strongest locations instead
constexpr int kTopLocations = 20;

// Clean/corrupted inputs and the metric tokens, as `patch` takes them.
struct PairArgs {
  std::string clean, corrupted;
  std::string cleanIds, corruptedIds;
  std::string cleanImage, corruptedImage;
  std::string answer, foil;
  std::int64_t answerId = -1, foilId = -1;
  std::int64_t position = -1;
};

void addPairOptions(CLI::App* cmd, PairArgs& a) {
  cmd->add_option("--clean", a.clean, "clean prompt text");
  cmd->add_option("--corrupted", a.corrupted, "corrupted prompt text (same token count)");
  cmd->add_option("--clean-ids", a.cleanIds,
                  "clean token ids, e.g. 1,2,3; several pairs as rows: 1,2,3;4,5,6");
  cmd->add_option("--corrupted-ids", a.corruptedIds, "corrupted token ids, one row per pair");
  cmd->add_option("--clean-image", a.cleanImage, "clean image (image models)");
  cmd->add_option("--corrupted-image", a.corruptedImage, "corrupted image");
  cmd->add_option("--answer", a.answer,
                  "answer token (text, first token) or class label; default: each clean "
                  "run's prediction");
  cmd->add_option("--answer-id", a.answerId, "answer token id or class index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--foil", a.foil,
                  "foil token or class; default: each corrupted run's prediction");
  cmd->add_option("--foil-id", a.foilId, "foil token id or class index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--position", a.position, "position the metric reads (default: last)")
      ->check(CLI::NonNegativeNumber);
}

struct LoadedPairs {
  analysis::PatchingPairs pairs;
  std::string answer, foil;  // for people: the first pair's tokens
};

// One example, or several rows of ids ("1,2;3,4") of equal length.
models::ModelInput inputOf(const std::string& prompt, const std::string& ids,
                           const std::string& image, const std::string& which,
                           const std::string& folder, const models::TransformerConfig& config,
                           const data::Tokenizer* tokenizer) {
  if (ids.find(';') == std::string::npos || !prompt.empty() || !image.empty()) {
    return exampleInput(prompt, ids, image, which, folder, config, tokenizer);
  }
  if (config.input == models::InputKind::Patches) {
    throw ConfigError(folder + " is an image model: give --" + which + "-image FILE");
  }
  const auto parsed = parseIds(ids);
  if (parsed.mask.defined()) {
    throw ConfigError("the rows of --" + which +
                      "-ids differ in length; pairs patched together "
                      "need one length");
  }
  models::ModelInput input;
  input.tokens = parsed.ids;
  return input;
}

int64_t rowsOf(const models::ModelInput& in) {
  return in.tokens.defined() ? in.tokens.size(0) : in.pixels.size(0);
}

models::ModelInput rowOf(const models::ModelInput& in, int64_t row) {
  models::ModelInput out;
  if (in.tokens.defined()) out.tokens = in.tokens.narrow(0, row, 1);
  if (in.pixels.defined()) out.pixels = in.pixels.narrow(0, row, 1);
  return out;
}

LoadedPairs loadPairs(const PairArgs& a, models::Transformer& model, const std::string& folder,
                      const data::Tokenizer* tokenizer) {
  const auto& config = model.config();
  LoadedPairs out;
  auto& p = out.pairs;
  p.clean = inputOf(a.clean, a.cleanIds, a.cleanImage, "clean", folder, config, tokenizer);
  p.corrupted = inputOf(a.corrupted, a.corruptedIds, a.corruptedImage, "corrupted", folder, config,
                        tokenizer);
  const auto n = rowsOf(p.clean);
  if (rowsOf(p.corrupted) != n) {
    throw ConfigError("the clean input has " + std::to_string(n) + " rows and the corrupted " +
                      std::to_string(rowsOf(p.corrupted)) +
                      "; give one corrupted row per clean row");
  }
  const auto answer = metricToken(a.answer, a.answerId, config, tokenizer, "--answer");
  const auto foil = metricToken(a.foil, a.foilId, config, tokenizer, "--foil");
  for (int64_t row = 0; row < n; ++row) {
    analysis::PatchMetric metric;
    metric.position = a.position;
    metric.answer = answer >= 0 ? answer : topPrediction(model, rowOf(p.clean, row), a.position);
    metric.foil = foil;
    if (foil < 0 && a.foil.empty()) {
      const auto other = topPrediction(model, rowOf(p.corrupted, row), a.position);
      if (other != metric.answer) metric.foil = other;
    }
    p.metrics.push_back(metric);
  }
  out.answer = tokenText(p.metrics[0].answer, config, tokenizer);
  out.foil = p.metrics[0].foil >= 0 ? tokenText(p.metrics[0].foil, config, tokenizer) : "";
  return out;
}

nlohmann::json locationJson(const analysis::PatchedLocation& loc) {
  return {{"hook", loc.hook},         {"layer", loc.layer},   {"head", loc.head},
          {"position", loc.position}, {"neuron", loc.neuron}, {"metric", loc.metric},
          {"score", loc.score}};
}

nlohmann::json gridsJson(const std::vector<analysis::PatchingGrid>& grids) {
  auto out = nlohmann::json::array();
  for (const auto& g : grids) {
    out.push_back({{"hook", g.hook},
                   {"rows", g.rows},
                   {"columns", g.columns},
                   {"row_labels", g.rowLabels},
                   {"score", matrixJson(g.score)}});
  }
  return out;
}

std::string locationText(const analysis::PatchedLocation& loc) {
  std::ostringstream s;
  s << loc.hook;
  if (loc.head >= 0) s << " head " << loc.head;
  if (loc.neuron >= 0) s << " neuron " << loc.neuron;
  if (loc.position >= 0) s << " pos " << loc.position;
  return s.str();
}

// "blocks.3.mlp.hook_post" -> "blocks.*.mlp.hook_post", as grids name their hooks.
std::string hookPatternOf(const std::string& hook) {
  const std::string prefix = "blocks.";
  if (hook.rfind(prefix, 0) != 0) return hook;
  const auto dot = hook.find('.', prefix.size());
  return dot == std::string::npos ? hook : prefix + "*" + hook.substr(dot);
}

// A grid as a table, or (too wide) its strongest locations by |score|.
void printGrid(const analysis::PatchingGrid& g,
               const std::vector<analysis::PatchedLocation>& locations) {
  std::printf("\n%s  S[%s%s%s]\n", g.hook.c_str(), g.rows.c_str(), g.columns.empty() ? "" : ", ",
              g.columns.c_str());
  if (g.score.cols() <= kWidestGrid) {
    std::printf("%8s", "");
    for (Eigen::Index c = 0; c < g.score.cols(); ++c) {
      std::printf(" %7s", g.columns.empty() ? "all" : std::to_string(c).c_str());
    }
    std::printf("\n");
    for (Eigen::Index r = 0; r < g.score.rows(); ++r) {
      std::printf("%8s", g.rowLabels[static_cast<std::size_t>(r)].c_str());
      for (Eigen::Index c = 0; c < g.score.cols(); ++c) {
        if (std::isfinite(g.score(r, c))) {
          std::printf(" %7.3f", g.score(r, c));
        } else {
          std::printf(" %7s", "-");
        }
      }
      std::printf("\n");
    }
    return;
  }
  std::vector<const analysis::PatchedLocation*> mine;
  for (const auto& loc : locations) {
    if (hookPatternOf(loc.hook) == g.hook) mine.push_back(&loc);
  }
  std::sort(mine.begin(), mine.end(),
            [](auto* a, auto* b) { return std::abs(a->score) > std::abs(b->score); });
  const auto shown = std::min<std::size_t>(mine.size(), kTopLocations);
  std::printf("%zu strongest of %zu locations:\n", shown, mine.size());
  for (std::size_t i = 0; i < shown; ++i) {
    std::printf("  %-44s %12.6f %8.4f\n", locationText(*mine[i]).c_str(), mine[i]->metric,
                mine[i]->score);
  }
}

std::vector<data::ResultColumn> locationColumns(const analysis::PatchingResult& r) {
  std::vector<data::ResultColumn> c(7);
  const char* names[] = {"hook", "layer", "head", "position", "neuron", "metric", "score"};
  for (std::size_t i = 0; i < c.size(); ++i) c[i].name = names[i];
  for (const auto& loc : r.locations) {
    c[0].texts.push_back(loc.hook);
    c[1].integers.push_back(loc.layer);
    c[2].integers.push_back(loc.head);
    c[3].integers.push_back(loc.position);
    c[4].integers.push_back(loc.neuron);
    c[5].reals.push_back(loc.metric);
    c[6].reals.push_back(loc.score);
  }
  return c;
}

nlohmann::json describePairs(const std::string& folder, const LoadedPairs& loaded,
                             const std::string& direction, const std::string& metric, double clean,
                             double corrupted, int scoredPairs) {
  return {{"model", folder},
          {"direction", direction},
          {"metric", metric},
          {"answer", loaded.answer},
          {"foil", loaded.foil},
          {"pairs", loaded.pairs.metrics.size()},
          {"scored_pairs", scoredPairs},
          {"clean_metric", clean},
          {"corrupted_metric", corrupted}};
}

void printHeader(const nlohmann::json& d) {
  std::printf("metric     %s  (answer %s%s%s)\n", d["metric"].get<std::string>().c_str(),
              d["answer"].get<std::string>().c_str(),
              d["foil"].get<std::string>().empty() ? "" : ", foil ",
              d["foil"].get<std::string>().c_str());
  std::printf("pairs      %d (%d scored)\n", d["pairs"].get<int>(), d["scored_pairs"].get<int>());
  std::printf("clean      %.6f\ncorrupted  %.6f\ndirection  %s\n", d["clean_metric"].get<double>(),
              d["corrupted_metric"].get<double>(), d["direction"].get<std::string>().c_str());
  if (d["scored_pairs"].get<int>() == 0) {
    std::printf("note       clean and corrupted metrics are equal: every score is reported as 0\n");
  }
}

// --- activation and attribution patching sweeps -------------------------------------------

struct SweepArgs {
  std::string folder;
  PairArgs pairs;
  std::string kind = "heads";
  bool perPosition = false;
  std::string heads, positions, neurons;
  bool noising = false;
  int batch = 16;
  bool compare = false;  // attribution only
  std::string save, run;
  bool json = false;
};

void addSweepOptions(CLI::App* cmd, SweepArgs& a) {
  addModelFolderOption(cmd, a.folder, "model folder")->required();
  addPairOptions(cmd, a.pairs);
  cmd->add_option("--kind", a.kind,
                  "locations: heads (z by layer, head), resid (resid_pre by layer, position), "
                  "attn-out, mlp-out (by layer, position), neurons (mlp hook_post by layer, "
                  "neuron)")
      ->capture_default_str();
  cmd->add_flag("--per-position", a.perPosition,
                "heads and neurons: one location per position too");
  cmd->add_option("--heads", a.heads, "only these heads, e.g. 0,3");
  cmd->add_option("--positions", a.positions, "only these positions, e.g. 4,7");
  cmd->add_option("--neurons", a.neurons, "only these neurons, e.g. 10,200");
  cmd->add_flag("--noising", a.noising, "patch corrupted activations into the clean run");
  cmd->add_option("--save", a.save, "HDF5 file for /results/<analysis>/RUN");
  cmd->add_option("--run", a.run, "run name under /results/<analysis>")->capture_default_str();
  cmd->add_flag("--json", a.json, "print one JSON object");
}

analysis::PatchingOptions sweepOptions(const SweepArgs& a) {
  auto o = analysis::patchingOptionsFor(analysis::parsePatchKind(a.kind));
  o.perPosition = o.perPosition || a.perPosition;
  o.heads = parseIntList(a.heads, "--heads");
  o.positions = parseIntList(a.positions, "--positions");
  o.neurons = parseIntList(a.neurons, "--neurons");
  o.direction = a.noising ? analysis::PatchDirection::Noising : analysis::PatchDirection::Denoising;
  o.locationsPerPass = a.batch;
  return o;
}

void sweepCommand(const SweepArgs& a, const GlobalOptions& global, bool attribution) {
  configureThreads(global.threads);
  const auto tokenizer = optionalTokenizer(a.folder);
  auto model = loadModel(a.folder, global);
  const auto loaded = loadPairs(a.pairs, *model, a.folder, tokenizer.get());
  const auto options = sweepOptions(a);
  Progress progress;
  analysis::PatchingResult r, exact;
  {
    ProgressLine line(progress, global);
    r = attribution ? analysis::analyseAttributionPatching(*model, loaded.pairs, options, progress)
                    : analysis::analyseActivationPatching(*model, loaded.pairs, options, progress);
    if (attribution && a.compare) {
      exact = analysis::analyseActivationPatching(*model, loaded.pairs, options, progress);
    }
  }
  const std::string analysisName = attribution ? "attribution_patching" : "activation_patching";
  auto described = describePairs(a.folder, loaded, r.direction, r.metric, r.cleanMetric,
                                 r.corruptedMetric, r.scoredPairs);
  described["method"] = r.method;
  described["kind"] = a.kind;
  described["hooks"] = options.hookPatterns;
  described["per_position"] = options.perPosition;
  described["forward_passes"] = r.forwardPasses;
  described["backward_passes"] = r.backwardPasses;
  analysis::PatchingComparison comparison;
  if (attribution && a.compare) {
    comparison = analysis::comparePatching(r, exact);
    described["comparison"] = {{"locations", comparison.locations},
                               {"pearson", finiteOrNull(comparison.pearson)},
                               {"spearman", finiteOrNull(comparison.spearman)},
                               {"max_abs_difference", comparison.maxAbsDifference},
                               {"activation_forward_passes", exact.forwardPasses}};
  }
  if (!a.save.empty()) {
    auto columns = locationColumns(r);
    if (a.compare) {
      columns.push_back({"activation_score", {}, {}, {}});
      for (const auto& loc : exact.locations) columns.back().reals.push_back(loc.score);
    }
    data::writeResultTable(a.save, analysisName, a.run, columns, described.dump());
  }
  if (a.json) {
    auto j = described;
    j["locations"] = nlohmann::json::array();
    for (std::size_t i = 0; i < r.locations.size(); ++i) {
      auto loc = locationJson(r.locations[i]);
      if (a.compare) loc["activation_score"] = exact.locations[i].score;
      j["locations"].push_back(std::move(loc));
    }
    j["grids"] = gridsJson(r.grids);
    std::cout << j.dump(2) << "\n";
    return;
  }
  printHeader(described);
  std::printf("method     %s patching, %s\n", r.method.c_str(), a.kind.c_str());
  for (const auto& g : r.grids) printGrid(g, r.locations);
  std::printf("\n%zu locations in %d forward%s passes\n", r.locations.size(), r.forwardPasses,
              r.backwardPasses > 0 ? " and 1 backward" : "");
  if (attribution && a.compare) {
    std::printf(
        "against activation patching (%d forward passes): Pearson %.4f, Spearman %.4f, "
        "largest |difference| %.4f\n",
        exact.forwardPasses, comparison.pearson, comparison.spearman, comparison.maxAbsDifference);
  }
  if (!a.save.empty()) {
    std::printf("saved to %s:/results/%s/%s\n", a.save.c_str(), analysisName.c_str(),
                a.run.c_str());
  }
}

// --- path patching -----------------------------------------------------------------------

struct PathArgs {
  std::string folder;
  PairArgs pairs;
  std::string senders, receivers = "logits";
  bool throughMlps = false, frozenNorm = false, denoising = false;
  int batch = 64;
  std::string save, run = "path-patching";
  bool json = false;
};

void pathCommand(const PathArgs& a, const GlobalOptions& global) {
  configureThreads(global.threads);
  const auto tokenizer = optionalTokenizer(a.folder);
  auto model = loadModel(a.folder, global);
  const auto loaded = loadPairs(a.pairs, *model, a.folder, tokenizer.get());
  analysis::PathPatchingOptions options;
  options.senders = analysis::parsePathSenders(a.senders);
  options.receivers = analysis::parsePathReceivers(a.receivers);
  options.direct = !a.throughMlps;
  options.frozenNorm = a.frozenNorm;
  options.direction =
      a.denoising ? analysis::PatchDirection::Denoising : analysis::PatchDirection::Noising;
  options.rowsPerPass = a.batch;
  Progress progress;
  analysis::PathPatchingResult r;
  {
    ProgressLine line(progress, global);
    r = analysis::analysePathPatching(*model, loaded.pairs, options, progress);
  }
  auto described = describePairs(a.folder, loaded, r.direction, r.metric, r.cleanMetric,
                                 r.corruptedMetric, r.scoredPairs);
  described["mode"] = r.mode;
  described["frozen_norm"] = r.frozenNorm;
  described["senders"] = r.senders;
  described["receivers"] = r.receivers;
  described["forward_passes"] = r.forwardPasses;
  if (!a.save.empty()) {
    auto c = data::namedColumns({"sender", "receiver", "metric", "score"});
    for (Eigen::Index s = 0; s < r.score.rows(); ++s) {
      for (Eigen::Index g = 0; g < r.score.cols(); ++g) {
        c[0].texts.push_back(r.senders[static_cast<std::size_t>(s)]);
        c[1].texts.push_back(r.receivers[static_cast<std::size_t>(g)]);
        c[2].reals.push_back(r.patchedMetric(s, g));
        c[3].reals.push_back(r.score(s, g));
      }
    }
    data::writeResultTable(a.save, "path_patching", a.run, c, described.dump());
  }
  if (a.json) {
    auto j = described;
    j["score"] = matrixJson(r.score);
    j["patched_metric"] = matrixJson(r.patchedMetric);
    std::cout << j.dump(2) << "\n";
    return;
  }
  printHeader(described);
  std::printf("mode       %s%s\n", r.mode.c_str(), r.frozenNorm ? ", frozen final norm" : "");
  int width = 8;
  for (const auto& name : r.senders) width = std::max(width, static_cast<int>(name.size()));
  std::printf("\nS[sender, receiver]\n%-*s", width, "");
  for (const auto& name : r.receivers) std::printf(" %12s", name.c_str());
  std::printf("\n");
  for (Eigen::Index s = 0; s < r.score.rows(); ++s) {
    std::printf("%-*s", width, r.senders[static_cast<std::size_t>(s)].c_str());
    for (Eigen::Index g = 0; g < r.score.cols(); ++g) std::printf(" %12.4f", r.score(s, g));
    std::printf("\n");
  }
  std::printf("\n%zu x %zu paths in %d forward passes\n", r.senders.size(), r.receivers.size(),
              r.forwardPasses);
  if (!a.save.empty()) {
    std::printf("saved to %s:/results/path_patching/%s\n", a.save.c_str(), a.run.c_str());
  }
}

}  // namespace

void addAnalyzePatchingCommands(CLI::App& analyze, const GlobalOptions& options) {
  {
    auto* cmd = analyze.add_subcommand(
        "patching", "activation patching sweep: S[layer, head | pos | neuron] (section 4)");
    auto args = std::make_shared<SweepArgs>();
    args->run = "patching";
    addSweepOptions(cmd, *args);
    cmd->add_option("--batch", args->batch, "locations patched per forward pass")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->callback([&options, args] { sweepCommand(*args, options, false); });
  }
  {
    auto* cmd = analyze.add_subcommand(
        "attribution-patching",
        "gradient estimate of activation patching for every location at once (section 4)");
    auto args = std::make_shared<SweepArgs>();
    args->run = "attribution-patching";
    addSweepOptions(cmd, *args);
    cmd->add_flag("--compare", args->compare,
                  "also run activation patching and report the correlation");
    cmd->add_option("--batch", args->batch, "with --compare: locations per forward pass")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->callback([&options, args] { sweepCommand(*args, options, true); });
  }
  {
    auto* cmd = analyze.add_subcommand(
        "path-patching", "path patching: S[sender, receiver] through chosen receivers (section 4)");
    auto args = std::make_shared<PathArgs>();
    addModelFolderOption(cmd, args->folder, "model folder")->required();
    addPairOptions(cmd, args->pairs);
    cmd->add_option("--senders", args->senders,
                    "sender sets: LAYER.HEAD or LAYER.mlp, sets by commas, one set's members "
                    "joined by '+' (default: every head alone)");
    cmd->add_option("--receivers", args->receivers,
                    "receiver groups: logits, LAYER.HEAD.q|k|v|qkv or LAYER.mlp (its input), "
                    "groups by commas, members joined by '+'")
        ->capture_default_str();
    cmd->add_flag("--through-mlps", args->throughMlps,
                  "recompute MLPs in step a (paths through MLPs count); default: direct, every "
                  "MLP frozen");
    cmd->add_flag("--frozen-norm", args->frozenNorm,
                  "logits receiver: the final norm keeps the receiving run's scale");
    cmd->add_flag("--denoising", args->denoising,
                  "the corrupted run receives the clean senders (default: noising, as the "
                  "algorithm is written)");
    cmd->add_option("--batch", args->batch, "batch rows per forward pass")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--save", args->save, "HDF5 file for /results/path_patching/RUN");
    cmd->add_option("--run", args->run, "run name under /results/path_patching")
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "print one JSON object");
    cmd->callback([&options, args] { pathCommand(*args, options); });
  }
}

}  // namespace cs::cli
