// `analyze relevance MODEL_DIR (--prompt TEXT | --ids IDS | --image FILE | --dataset SPEC --row N)
// [--target TEXT | --target-id ID] [--position P] [--rule attnlrp|cplrp] [--gamma-patch G]
// [--gamma-linear G] [--gamma-group FIRST-LAST:G ...] [--gamma-head G] [--explicit]
// [--save FILE.h5] [--run RUN] [--json]` (docs/analyses.md): layer-wise relevance propagation of
// ALGORITHMS.md section 7 for one example: input relevance, the residual stream's relevance per
// layer with the conservation report, and the most relevant heads and MLP neurons.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/relevance.h"
#include "analysis/relevance_explicit.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"

namespace cs::cli {

namespace {

struct RelevanceArgs {
  std::string folder;
  ExampleOptions example;
  std::int64_t position = -1;
  std::string rule;  // empty: the model kind's default
  std::optional<double> gammaPatch, gammaLinear, gammaHead;
  std::vector<std::string> gammaGroups;
  bool explicitRules = false;
  int top = 10;
  std::string save;
  std::string run = "relevance";
  bool json = false;
};

// "FIRST-LAST:GAMMA", e.g. "0-3:0.25".
models::GammaGroup parseGammaGroup(const std::string& text) {
  models::GammaGroup g;
  char dash = 0, colon = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c%lf%n", &g.firstLayer, &dash, &g.lastLayer, &colon,
                  &g.gamma, &used) != 5 ||
      dash != '-' || colon != ':' || used != static_cast<int>(text.size())) {
    throw ConfigError("--gamma-group takes FIRST-LAST:GAMMA (e.g. 0-3:0.25), not \"" + text + "\"");
  }
  return g;
}

models::RelevanceRules rulesFrom(const RelevanceArgs& a, const models::Transformer& model) {
  auto rules = analysis::relevanceRulesFor(model, {});
  if (a.rule == "attnlrp") {
    rules.attention = models::AttentionRule::AttnLrp;
  } else if (a.rule == "cplrp") {
    rules.attention = models::AttentionRule::CpLrp;
  } else if (!a.rule.empty()) {
    throw ConfigError("--rule takes attnlrp or cplrp, not \"" + a.rule + "\"");
  }
  if (a.gammaPatch) rules.gammaPatch = *a.gammaPatch;
  if (a.gammaLinear) rules.gammaLinear = *a.gammaLinear;
  if (a.gammaHead) rules.gammaHead = *a.gammaHead;
  for (const auto& g : a.gammaGroups) rules.groups.push_back(parseGammaGroup(g));
  rules.validate(model.config().nLayers);
  return rules;
}

// The `count` entries of a [rows, cols] table largest in |value| (NaN skipped), largest first.
std::vector<std::pair<int, int>> largest(const Eigen::MatrixXd& m, int count) {
  std::vector<std::pair<int, int>> cells;
  for (int r = 0; r < m.rows(); ++r) {
    for (int c = 0; c < m.cols(); ++c) {
      if (!std::isnan(m(r, c))) cells.emplace_back(r, c);
    }
  }
  const auto n = std::min<std::size_t>(cells.size(), static_cast<std::size_t>(count));
  std::partial_sort(cells.begin(), cells.begin() + static_cast<std::ptrdiff_t>(n), cells.end(),
                    [&](auto x, auto y) {
                      return std::abs(m(x.first, x.second)) > std::abs(m(y.first, y.second));
                    });
  cells.resize(n);
  return cells;
}

// Rows: what ("input", "position", "residual", "neuron", "head"), layer (-1 for input rows),
// index (position, neuron or head), value.
void saveResult(const RelevanceArgs& a, const analysis::RelevanceResult& r,
                const nlohmann::json& options) {
  auto c = data::namedColumns({"what", "layer", "index", "relevance"});
  const auto add = [&](const char* what, int layer, Eigen::Index index, double value) {
    c[0].texts.push_back(what);
    c[1].integers.push_back(layer);
    c[2].integers.push_back(static_cast<std::int64_t>(index));
    c[3].reals.push_back(value);
  };
  for (Eigen::Index t = 0; t < r.input.size(); ++t) add("input", -1, t, r.input[t]);
  for (Eigen::Index t = 0; t < r.positions.size(); ++t) add("position", -1, t, r.positions[t]);
  for (Eigen::Index l = 0; l < r.residual.rows(); ++l) {
    for (Eigen::Index t = 0; t < r.residual.cols(); ++t) {
      add("residual", static_cast<int>(l), t, r.residual(l, t));
    }
  }
  const auto addTable = [&](const char* what, const Eigen::MatrixXd& m) {
    for (Eigen::Index l = 0; l < m.rows(); ++l) {
      for (Eigen::Index i = 0; i < m.cols(); ++i) {
        if (!std::isnan(m(l, i))) add(what, static_cast<int>(l), i, m(l, i));
      }
    }
  };
  addTable("neuron", r.neurons);
  addTable("head", r.heads);
  for (Eigen::Index y = 0; y < r.pixels.rows(); ++y) {
    for (Eigen::Index x = 0; x < r.pixels.cols(); ++x) {
      add("pixel", static_cast<int>(y), x, r.pixels(y, x));
    }
  }
  data::writeResultTable(a.save, "relevance", a.run, c, options.dump());
}

std::vector<std::string> inputLabels(const models::ModelInput& input,
                                     const models::TransformerConfig& config,
                                     const data::Tokenizer* tokenizer, Eigen::Index count) {
  std::vector<std::string> labels;
  if (input.tokens.defined()) {
    const auto ids = input.tokens[0].to(at::kCPU);
    for (int64_t t = 0; t < ids.size(0); ++t) {
      labels.push_back(tokenText(ids[t].item<int64_t>(), config, tokenizer));
    }
    return labels;
  }
  const bool cls = config.input == models::InputKind::Patches && config.classToken;
  for (Eigen::Index t = 0; t < count; ++t) {
    labels.push_back(cls && t == 0 ? "[class]"
                     : config.input == models::InputKind::Patches
                         ? "patch " + std::to_string(t - (cls ? 1 : 0))
                         : "pos " + std::to_string(t));
  }
  return labels;
}

void relevanceCommand(const RelevanceArgs& a, const GlobalOptions& global) {
  configureThreads(global.threads);
  const auto tokenizer = optionalTokenizer(a.folder);
  auto model = loadModel(a.folder, global);
  const auto& config = model->config();
  const auto e = resolveExample(a.example, a.folder, config, tokenizer.get());
  analysis::RelevanceOptions options;
  options.rules = rulesFrom(a, *model);
  options.target = e.target;
  options.position = a.position >= 0 ? a.position : e.position;
  if (const auto t =
          metricToken(a.example.target, a.example.targetId, config, tokenizer.get(), "--target");
      t >= 0) {
    options.target = t;
  }
  Progress progress;
  analysis::RelevanceResult r;
  {
    ProgressLine line(progress, global);
    r = a.explicitRules ? analysis::explicitRelevance(*model, e.input, options)
                        : analysis::computeRelevance(*model, e.input, options, progress);
  }
  const auto answer = tokenText(r.answer, config, tokenizer.get());
  const auto labels = inputLabels(e.input, config, tokenizer.get(), r.input.size());
  std::vector<double> totals(r.residualTotals.data(),
                             r.residualTotals.data() + r.residualTotals.size());
  const nlohmann::json described{{"model", a.folder},
                                 {"rules", r.rules},
                                 {"target", r.target},
                                 {"answer", answer},
                                 {"target_logit", r.targetLogit},
                                 {"input_total", r.inputTotal},
                                 {"residual_totals", totals}};
  if (!a.save.empty()) saveResult(a, r, described);
  if (a.json) {
    auto j = described;
    j["input"] = std::vector<double>(r.input.data(), r.input.data() + r.input.size());
    j["input_labels"] = labels;
    if (r.positions.size() > 0) {
      j["positions"] =
          std::vector<double>(r.positions.data(), r.positions.data() + r.positions.size());
    }
    auto heads = nlohmann::json::array();
    for (const auto& [l, h] : largest(r.heads, a.top)) {
      heads.push_back({{"layer", l}, {"head", h}, {"relevance", r.heads(l, h)}});
    }
    auto neurons = nlohmann::json::array();
    for (const auto& [l, n] : largest(r.neurons, a.top)) {
      neurons.push_back({{"layer", l}, {"neuron", n}, {"relevance", r.neurons(l, n)}});
    }
    j["top_heads"] = heads;
    j["top_neurons"] = neurons;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("explains   %s  (%s) = %.6g, rules: %s\n", r.target.c_str(), answer.c_str(),
              r.targetLogit, r.rules.c_str());
  std::printf("\n%-6s %-20s %14s\n", "input", "", "relevance");
  for (Eigen::Index t = 0; t < r.input.size(); ++t) {
    std::printf("%-6lld %-20s %14.6g\n", static_cast<long long>(t), labels[t].c_str(), r.input[t]);
  }
  std::printf("\nconservation (sum of relevance; the target logit where nothing leaks)\n");
  std::printf("%-22s %14.6g\n", "input + positions", r.inputTotal);
  for (Eigen::Index l = 0; l < r.residualTotals.size(); ++l) {
    const bool last = l + 1 == r.residualTotals.size();
    const auto name = last ? "blocks." + std::to_string(l - 1) + ".resid_post"
                           : "blocks." + std::to_string(l) + ".resid_pre";
    std::printf("%-22s %14.6g\n", name.c_str(), r.residualTotals[l]);
  }
  std::printf("\n%-6s %-6s %14s      %-6s %-8s %14s\n", "layer", "head", "relevance", "layer",
              "neuron", "relevance");
  const auto heads = largest(r.heads, a.top);
  const auto neurons = largest(r.neurons, a.top);
  for (std::size_t i = 0; i < std::max(heads.size(), neurons.size()); ++i) {
    if (i < heads.size()) {
      const auto [l, h] = heads[i];
      std::printf("%-6d %-6d %14.6g      ", l, h, r.heads(l, h));
    } else {
      std::printf("%-6s %-6s %14s      ", "", "", "");
    }
    if (i < neurons.size()) {
      const auto [l, n] = neurons[i];
      std::printf("%-6d %-8d %14.6g", l, n, r.neurons(l, n));
    }
    std::printf("\n");
  }
  if (!a.save.empty()) {
    std::printf("\nsaved to %s:/results/relevance/%s\n", a.save.c_str(), a.run.c_str());
  }
}

}  // namespace

void addAnalyzeRelevanceCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "relevance", "layer-wise relevance propagation, AttnLRP / CP-LRP (ALGORITHMS.md section 7)");
  auto a = std::make_shared<RelevanceArgs>();
  addModelFolderOption(cmd, a->folder, "model folder")->required();
  addExampleOptions(cmd, a->example);
  cmd->add_option("--position", a->position,
                  "language models: the explained position (default: the last real token)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rule", a->rule,
                  "attnlrp or cplrp (default: cplrp for image models, attnlrp otherwise)");
  cmd->add_option("--gamma-patch", a->gammaPatch,
                  "gamma of the patch embedding (default 0.25 for image models, else 0)");
  cmd->add_option("--gamma-linear", a->gammaLinear,
                  "gamma of the blocks' linear layers (default 0.05 for image models, else 0)");
  cmd->add_option("--gamma-group", a->gammaGroups,
                  "FIRST-LAST:GAMMA for the linear layers of some blocks (repeatable)");
  cmd->add_option("--gamma-head", a->gammaHead, "gamma of the unembedding (default: as linear)");
  cmd->add_flag("--explicit", a->explicitRules,
                "apply the explicit rules layer by layer (the reference; slower)");
  cmd->add_option("--top", a->top, "heads and neurons listed")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--save", a->save, "HDF5 file for /results/relevance/RUN");
  cmd->add_option("--run", a->run, "run name under /results/relevance")->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([&options, a] { relevanceCommand(*a, options); });
}

}  // namespace cs::cli
