// `analyze neuron-path MODEL_DIR (--prompt TEXT | --ids IDS | --image FILE | --dataset SPEC
// --row N) [--target TEXT | --target-id ID] [--position P] [--steps M] [--chunk N]
// [--scoring paper|reference] [--objective probability|logit] [--top-k K] [--layers L,L,...]
// [--enhance F] [--save FILE.h5] [--run RUN] [--json]` (docs/analyses.md): the influential
// neuron path of ALGORITHMS.md section 1, its joint attribution score next to the
// activation-argmax path's, and what removing or enhancing either does to the target probability.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/neuron_paths.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"

namespace cs::cli {

namespace {

struct NeuronPathArgs {
  std::string folder;
  ExampleOptions example;
  std::int64_t position = -1;
  int steps = 20;
  int chunk = 20;
  std::string scoring = "paper";
  std::string objective = "probability";
  int topK = 1;
  std::string layers;
  double enhance = 2.0;
  std::string save;
  std::string run = "neuron_path";
  bool json = false;
};

analysis::NeuronPathOptions optionsFrom(const NeuronPathArgs& a) {
  analysis::NeuronPathOptions o;
  o.steps = a.steps;
  o.chunk = a.chunk;
  if (a.scoring == "reference") {
    o.scoring = analysis::NeuronPathScoring::Reference;
  } else if (a.scoring != "paper") {
    throw ConfigError("--scoring takes paper or reference, not \"" + a.scoring + "\"");
  }
  if (a.objective == "logit") {
    o.targetKind = analysis::NeuronPathTarget::Logit;
  } else if (a.objective != "probability") {
    throw ConfigError("--objective takes probability or logit, not \"" + a.objective + "\"");
  }
  o.topK = a.topK;
  if (!a.layers.empty()) o.layers = parseIntList(a.layers, "--layers");
  o.enhanceFactor = a.enhance;
  o.position = a.position;
  return o;
}

// One row per (layer, rank) of both paths: layer, rank, neuron, its score, activation; which
// path it belongs to ("path" or "activation").
void saveResult(const NeuronPathArgs& a, const analysis::NeuronPathResult& r,
                const nlohmann::json& options) {
  std::vector<data::ResultColumn> c(6);
  c[0].name = "path";
  c[1].name = "layer";
  c[2].name = "rank";
  c[3].name = "neuron";
  c[4].name = "candidate_score";
  c[5].name = "activation";
  const auto add = [&](const char* which, const std::vector<std::vector<std::int64_t>>& path) {
    for (std::size_t i = 0; i < path.size(); ++i) {
      for (std::size_t k = 0; k < path[i].size(); ++k) {
        const auto n = path[i][k];
        c[0].texts.push_back(which);
        c[1].integers.push_back(r.layers[i]);
        c[2].integers.push_back(static_cast<std::int64_t>(k));
        c[3].integers.push_back(n);
        c[4].reals.push_back(r.candidateScores(static_cast<Eigen::Index>(i), n));
        c[5].reals.push_back(r.activations(static_cast<Eigen::Index>(i), n));
      }
    }
  };
  add("path", r.path);
  add("activation", r.activationPath);
  data::writeResultTable(a.save, "neuron_path", a.run, c, options.dump());
}

nlohmann::json pathJson(const std::vector<int>& layers,
                        const std::vector<std::vector<std::int64_t>>& path) {
  auto j = nlohmann::json::array();
  for (std::size_t i = 0; i < path.size(); ++i)
    j.push_back({{"layer", layers[i]}, {"neurons", path[i]}});
  return j;
}

void neuronPathCommand(const NeuronPathArgs& a, const GlobalOptions& global) {
  configureThreads(global.threads);
  const auto tokenizer = optionalTokenizer(a.folder);
  auto model = loadModel(a.folder, global);
  const auto& config = model->config();
  auto options = optionsFrom(a);
  const auto e = resolveExample(a.example, a.folder, config, tokenizer.get());
  const auto& input = e.input;
  if (e.target >= 0) options.target = e.target;
  if (options.position < 0 && config.head == models::HeadKind::LanguageModel) {
    options.position = e.position;
  }
  if (const auto t =
          metricToken(a.example.target, a.example.targetId, config, tokenizer.get(), "--target");
      t >= 0) {
    options.target = t;
  }

  Progress progress;
  analysis::NeuronPathResult r;
  {
    ProgressLine line(progress, global);
    r = analysis::findNeuronPath(*model, input, options, progress);
  }
  const auto answer = tokenText(r.answer, config, tokenizer.get());
  const nlohmann::json described{{"model", a.folder},
                                 {"target", r.target},
                                 {"answer", answer},
                                 {"scoring", r.scoring},
                                 {"objective", a.objective},
                                 {"steps", r.steps},
                                 {"chunk", r.chunk},
                                 {"top_k", r.topK},
                                 {"layers", r.layers},
                                 {"enhance_factor", r.enhanceFactor},
                                 {"path_score", r.pathScore.score},
                                 {"activation_path_score", r.activationPathScore.score},
                                 {"p_clean", r.pathEffect.clean},
                                 {"p_path_removed", r.pathEffect.removed},
                                 {"p_path_enhanced", r.pathEffect.enhanced},
                                 {"p_activation_path_removed", r.activationPathEffect.removed},
                                 {"p_activation_path_enhanced", r.activationPathEffect.enhanced},
                                 {"forward_backward_passes", r.forwardBackwardPasses},
                                 {"forward_passes", r.forwardPasses}};
  if (!a.save.empty()) saveResult(a, r, described);
  if (a.json) {
    auto j = described;
    j["path"] = pathJson(r.layers, r.path);
    j["activation_path"] = pathJson(r.layers, r.activationPath);
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("F          %s  (%s), %s scoring, %d steps\n", r.target.c_str(), answer.c_str(),
              r.scoring.c_str(), r.steps);
  std::printf("%6s %10s %14s %12s %14s\n", "layer", "path", "score", "activation",
              "activation max");
  for (std::size_t i = 0; i < r.path.size(); ++i) {
    const auto n = r.path[i][0];
    const auto b = r.activationPath[i][0];
    const auto row = static_cast<Eigen::Index>(i);
    std::printf("%6d %10lld %14.6g %12.4f %14lld\n", r.layers[i], static_cast<long long>(n),
                r.candidateScores(row, n), r.activations(row, n), static_cast<long long>(b));
  }
  std::printf("\n%-24s %12s %12s\n", "", "path", "activation");
  std::printf("%-24s %12.6g %12.6g\n", "joint attribution", r.pathScore.score,
              r.activationPathScore.score);
  std::printf("%-24s %12.4f %12.4f\n", "p_c clean", r.pathEffect.clean,
              r.activationPathEffect.clean);
  std::printf("%-24s %12.4f %12.4f\n", "p_c removed", r.pathEffect.removed,
              r.activationPathEffect.removed);
  std::printf("%-24s %12.4f %12.4f\n", "p_c enhanced", r.pathEffect.enhanced,
              r.activationPathEffect.enhanced);
  if (!a.save.empty()) {
    std::printf("\nsaved to %s:/results/neuron_path/%s\n", a.save.c_str(), a.run.c_str());
  }
}

}  // namespace

void addAnalyzeNeuronPathCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "neuron-path", "influential neuron path across the MLP layers (ALGORITHMS.md section 1)");
  auto a = std::make_shared<NeuronPathArgs>();
  addModelFolderOption(cmd, a->folder, "model folder")->required();
  addExampleOptions(cmd, a->example);
  cmd->add_option("--position", a->position,
                  "language models: the scored position (default: the last real token)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--steps", a->steps, "left-Riemann points m")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--chunk", a->chunk, "points per batched forward+backward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--scoring", a->scoring, "paper or reference")->capture_default_str();
  cmd->add_option("--objective", a->objective, "probability or logit")->capture_default_str();
  cmd->add_option("--top-k", a->topK, "neurons kept per layer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--layers", a->layers, "the path's layers, e.g. 0,1,2 (default: all)");
  cmd->add_option("--enhance", a->enhance, "factor of the enhance test")->capture_default_str();
  cmd->add_option("--save", a->save, "HDF5 file for /results/neuron_path/RUN");
  cmd->add_option("--run", a->run, "run name under /results/neuron_path")->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([&options, a] { neuronPathCommand(*a, options); });
}

}  // namespace cs::cli
