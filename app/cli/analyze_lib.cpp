// `analyze lib MODEL_DIR --dataset SPEC [--layers NAME,NAME,...] [--centre] [--no-rotate-final]
// [--tau T] [--relative-tau] [--integration RULE[:STEPS]] [--basis jacobian|one-zero-alpha]
// [--stochastic-sources R] [--seed S] [--limit N] [--batch N] [--no-edges] [--no-curves]
// [--edge-ablation] [--gram-recording STORE.h5 [--gram-limit N]] [--save FILE.h5] [--run RUN]
// [--json]` (docs/analyses.md): the Local
// Interaction Basis of ALGORITHMS.md section 9: per node layer the kept directions and their
// importance Lambda, the edges between consecutive bases, node-ablation curves (accuracy
// against kept directions) for LIB and PCA, and optionally the smallest edge counts that keep
// the accuracy (edge ablation), for LIB and PCA.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/local_interaction_basis.h"
#include "app/cli/analyze_commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "data/store/results_writer.h"
#include "models/loaders/model_identity.h"

namespace cs::cli {

namespace {

struct LibArgs {
  std::string folder;
  std::string dataset;
  std::string layers;
  bool centre = false;
  bool noRotateFinal = false;
  double tau = 1e-15;
  bool relativeTau = false;
  std::string integration = "gradient";
  std::string basis = "jacobian";
  std::int64_t stochasticSources = 0;
  std::uint64_t seed = 0;
  bool edgeAblation = false;
  std::string gramRecording;
  std::int64_t gramLimit = 0;
  std::int64_t limit = 0;
  std::int64_t batch = 512;
  bool noEdges = false, noCurves = false;
  std::string save;
  std::string run = "lib";
  bool json = false;
};

std::vector<std::string> splitNames(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

void parseIntegration(const std::string& text, analysis::LibOptions& o) {
  const auto colon = text.find(':');
  const auto name = text.substr(0, colon);
  const auto rule = analysis::parseRule(name);
  if (!rule) {
    throw ConfigError(
        "--integration takes gradient, trapezoid:N, gauss-legendre:N or "
        "left-riemann:M, not \"" +
        text + "\"");
  }
  o.integration = *rule;
  if (colon != std::string::npos) {
    try {
      o.integrationSteps = std::stoi(text.substr(colon + 1));
    } catch (const std::exception&) {
      throw ConfigError("--integration: \"" + text.substr(colon + 1) + "\" is not a step count");
    }
  } else if (*rule == analysis::QuadratureRule::LeftRiemann) {
    o.integrationSteps = 1;
  }
}

// The first kept count whose accuracy is within 0.01 of the base, or -1.
std::int64_t enough(const analysis::LibAblationCurve& c, double base) {
  for (std::size_t i = 0; i < c.kept.size(); ++i) {
    if (c.accuracy[i] >= base - 0.01) return c.kept[i];
  }
  return -1;
}

// Rows: what ("lambda", "gram", "C", "C+", "edge", "curve", ...), layer (node layer name), i, j
// (matrix indices; kept count for curves), basis ("lib"/"pca" for curves), value.
void saveResult(const LibArgs& a, const analysis::LibResult& r, const nlohmann::json& options) {
  auto c = data::namedColumns({"what", "layer", "i", "j", "basis", "value"});
  const auto add = [&](const char* what, const std::string& layer, std::int64_t i, std::int64_t j,
                       const std::string& basis, double value) {
    c[0].texts.push_back(what);
    c[1].texts.push_back(layer);
    c[2].integers.push_back(i);
    c[3].integers.push_back(j);
    c[4].texts.push_back(basis);
    c[5].reals.push_back(value);
  };
  for (const auto& L : r.layers) {
    for (Eigen::Index i = 0; i < L.lambda.size(); ++i)
      add("lambda", L.name, i, -1, "", L.lambda[i]);
    for (Eigen::Index i = 0; i < L.gramEigenvalues.size(); ++i) {
      add("gram", L.name, i, -1, "", L.gramEigenvalues[i]);
    }
    // The bases themselves, so that a saved run can project new activations (f_hat = f C).
    for (Eigen::Index i = 0; i < L.C.rows(); ++i) {
      for (Eigen::Index j = 0; j < L.C.cols(); ++j) add("C", L.name, i, j, "", L.C(i, j));
    }
    for (Eigen::Index i = 0; i < L.Cplus.rows(); ++i) {
      for (Eigen::Index j = 0; j < L.Cplus.cols(); ++j) add("C+", L.name, i, j, "", L.Cplus(i, j));
    }
  }
  for (std::size_t e = 0; e < r.edges.size(); ++e) {
    const auto& E = r.edges[e];
    for (Eigen::Index i = 0; i < E.rows(); ++i) {
      for (Eigen::Index j = 0; j < E.cols(); ++j) {
        if (E(i, j) > 0) add("edge", r.layers[e].name, i, j, "", E(i, j));
      }
    }
  }
  for (const auto& curve : r.curves) {
    for (std::size_t k = 0; k < curve.kept.size(); ++k) {
      add("curve", curve.layer, static_cast<std::int64_t>(k), curve.kept[k], curve.basis,
          curve.accuracy[k]);
    }
  }
  for (std::size_t e = 0; e < r.pcaEdges.size(); ++e) {
    const auto& E = r.pcaEdges[e];
    for (Eigen::Index i = 0; i < E.rows(); ++i) {
      for (Eigen::Index j = 0; j < E.cols(); ++j) {
        if (E(i, j) > 0) add("pca-edge", r.layers[e].name, i, j, "", E(i, j));
      }
    }
  }
  // Edge ablation: one row per evaluated count in the bisection's order (i), j the kept edges,
  // value the accuracy; then the smallest count (j; -1 if none) with value its accuracy.
  for (const auto& a : r.edgeAblations) {
    double best = 0.0;
    for (std::size_t k = 0; k < a.kept.size(); ++k) {
      add("edge-ablation", a.from, static_cast<std::int64_t>(k), a.kept[k], a.basis, a.accuracy[k]);
      if (a.kept[k] == a.minimal) best = a.accuracy[k];
    }
    add("edge-minimal", a.from, -1, a.minimal, a.basis, best);
  }
  data::writeResultTable(a.save, "lib", a.run, c, options.dump());
}

void libCommand(const LibArgs& a, const GlobalOptions& global) {
  configureThreads(global.threads);
  auto model = loadModel(a.folder, global);
  const auto& config = model->config();
  const data::DatasetContext context{a.folder, config.nCtx, config.imageSize, config.classLabels};
  const auto dataset = data::openDataset(a.dataset, context);
  analysis::LibOptions o;
  o.nodeLayers =
      a.layers.empty() ? analysis::defaultLibNodeLayers(config.nLayers) : splitNames(a.layers);
  o.centre = a.centre;
  o.rotateFinal = !a.noRotateFinal;
  o.tau = a.tau;
  o.relativeTau = a.relativeTau;
  parseIntegration(a.integration, o);
  const auto basis = analysis::parseLibBasis(a.basis);
  if (!basis) {
    throw ConfigError("--basis takes jacobian or one-zero-alpha, not \"" + a.basis + "\"");
  }
  o.basis = *basis;
  o.stochasticSources = a.stochasticSources;
  o.seed = a.seed;
  o.edgeAblation = a.edgeAblation;
  o.limit = a.limit;
  o.batchSize = a.batch;
  o.edges = !a.noEdges;
  o.ablationCurves = !a.noCurves;
  Progress progress;
  analysis::LibResult r;
  {
    ProgressLine line(progress, global);
    if (!a.gramRecording.empty()) {
      // The store must come from this very model: its identity is the weights' digest.
      o.gramRecording = analysis::LibGramRecording{
          a.gramRecording, models::identifyModelFolder(a.folder, progress), a.gramLimit};
    }
    r = analysis::computeLib(*model, *dataset, o, progress);
  }
  auto layers = nlohmann::json::array();
  for (const auto& L : r.layers) {
    layers.push_back(
        {{"name", L.name},
         {"width", L.width},
         {"kept", L.C.cols()},
         {"lambda", std::vector<double>(L.lambda.data(), L.lambda.data() + L.lambda.size())},
         {"seconds", L.seconds}});
  }
  auto edges = nlohmann::json::array();
  for (std::size_t e = 0; e < r.edges.size(); ++e) {
    const auto& E = r.edges[e];
    edges.push_back({{"from", r.layers[e].name},
                     {"to", r.layers[e + 1].name},
                     {"rows", E.rows()},
                     {"cols", E.cols()},
                     {"nonzero", (E.array() > 0).count()},
                     {"total", E.sum()},
                     {"seconds", r.edgeSeconds[e]}});
  }
  auto curves = nlohmann::json::array();
  for (const auto& c : r.curves) {
    curves.push_back({{"layer", c.layer},
                      {"basis", c.basis},
                      {"kept", c.kept},
                      {"accuracy", c.accuracy},
                      {"loss", c.loss},
                      {"within_0.01", enough(c, r.baseAccuracy)}});
  }
  auto ablations = nlohmann::json::array();
  for (const auto& e : r.edgeAblations) {
    ablations.push_back({{"from", e.from},
                         {"to", e.to},
                         {"basis", e.basis},
                         {"edges", e.edges},
                         {"nonzero", e.nonzero},
                         {"target", e.target},
                         {"kept", e.kept},
                         {"accuracy", e.accuracy},
                         {"loss", e.loss},
                         {"minimal", e.minimal},
                         {"seconds", e.seconds}});
  }
  const nlohmann::json described{{"model", a.folder},
                                 {"dataset", r.dataset},
                                 {"examples", r.examples},
                                 {"positions", r.positions},
                                 {"basis", r.basis},
                                 {"integration", r.integration},
                                 {"centred", r.centred},
                                 {"rotate_final", r.rotateFinal},
                                 {"tau", r.tau},
                                 {"base_accuracy", r.baseAccuracy},
                                 {"base_loss", r.baseLoss},
                                 {"stochastic_sources", r.stochasticSources},
                                 {"gram_source", r.gramSource},
                                 {"gram_examples", r.gramExamples}};
  if (!a.save.empty()) saveResult(a, r, described);
  if (a.json) {
    auto j = described;
    j["layers"] = layers;
    j["edges"] = edges;
    j["curves"] = curves;
    if (o.edgeAblation) j["edge_ablation"] = ablations;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("LIB (%s basis, %s integration%s) on %lld rows of %s; base accuracy %.4f\n",
              r.basis.c_str(), r.integration.c_str(), r.centred ? ", centred" : "",
              static_cast<long long>(r.examples), r.dataset.c_str(), r.baseAccuracy);
  if (r.gramSource != "live") {
    std::printf("Gram matrices from %s (%lld examples)\n", r.gramSource.c_str(),
                static_cast<long long>(r.gramExamples));
  }
  std::printf("\n%-28s %6s %6s %12s %12s %9s\n", "node layer", "width", "kept", "lambda[0]",
              "lambda[last]", "seconds");
  for (const auto& L : r.layers) {
    std::printf("%-28s %6lld %6lld %12.4g %12.4g %9.2f\n", L.name.c_str(),
                static_cast<long long>(L.width), static_cast<long long>(L.C.cols()),
                L.lambda.size() ? L.lambda[0] : 0.0,
                L.lambda.size() ? L.lambda[L.lambda.size() - 1] : 0.0, L.seconds);
  }
  if (!r.edges.empty()) {
    std::printf("\n%-28s %-28s %10s %12s %9s\n", "edges from", "to", "nonzero", "total", "seconds");
    for (const auto& e : edges) {
      std::printf("%-28s %-28s %10lld %12.4g %9.2f\n", e["from"].get<std::string>().c_str(),
                  e["to"].get<std::string>().c_str(),
                  static_cast<long long>(e["nonzero"].get<std::int64_t>()),
                  e["total"].get<double>(), e["seconds"].get<double>());
    }
  }
  if (!r.curves.empty()) {
    std::printf("\ndirections needed for accuracy within 0.01 of the base\n");
    std::printf("%-28s %8s %8s\n", "node layer", "lib", "pca");
    for (std::size_t i = 0; i + 1 < r.curves.size(); i += 2) {
      std::printf("%-28s %8lld %8lld\n", r.curves[i].layer.c_str(),
                  static_cast<long long>(enough(r.curves[i], r.baseAccuracy)),
                  static_cast<long long>(enough(r.curves[i + 1], r.baseAccuracy)));
    }
  }
  if (!r.edgeAblations.empty()) {
    std::printf("\nsmallest edge count with accuracy >= %.4f (base - %g)\n",
                r.edgeAblations.front().target, o.edgeAblationTolerance);
    std::printf("%-28s %-28s %9s %8s %8s %9s\n", "edges from", "to", "of", "lib", "pca", "seconds");
    for (std::size_t i = 0; i + 1 < r.edgeAblations.size(); i += 2) {
      const auto& lib = r.edgeAblations[i];
      const auto& pca = r.edgeAblations[i + 1];
      std::printf("%-28s %-28s %9lld %8lld %8lld %9.2f\n", lib.from.c_str(), lib.to.c_str(),
                  static_cast<long long>(lib.edges), static_cast<long long>(lib.minimal),
                  static_cast<long long>(pca.minimal), lib.seconds + pca.seconds);
    }
  }
  if (!a.save.empty())
    std::printf("\nsaved to %s:/results/lib/%s\n", a.save.c_str(), a.run.c_str());
}

}  // namespace

void addAnalyzeLibCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "lib", "Local Interaction Basis and its interaction graph (ALGORITHMS.md section 9)");
  auto a = std::make_shared<LibArgs>();
  addModelFolderOption(cmd, a->folder, "model folder")->required();
  cmd->add_option("--dataset", a->dataset, "dataset (fixed-length rows with targets)")->required();
  cmd->add_option("--layers", a->layers,
                  "node layers, e.g. blocks.0.hook_resid_pre,blocks.0.hook_resid_mid,output "
                  "(default: every resid_pre and resid_mid, the last resid_post, output)");
  cmd->add_flag("--centre", a->centre, "centre the activations (constant direction first)");
  cmd->add_flag("--no-rotate-final", a->noRotateFinal, "keep the final node layer as it is");
  cmd->add_option("--tau", a->tau, "truncation threshold of eigenvalues")->capture_default_str();
  cmd->add_flag("--relative-tau", a->relativeTau, "tau relative to the largest eigenvalue");
  cmd->add_option("--integration", a->integration,
                  "gradient, trapezoid:N, gauss-legendre:N or left-riemann:M")
      ->capture_default_str();
  cmd->add_option("--basis", a->basis, "jacobian or one-zero-alpha (the (1-0)*alpha basis)")
      ->capture_default_str();
  cmd->add_option("--stochastic-sources", a->stochasticSources,
                  "R random +-1 vectors over output positions instead of one Jacobian per "
                  "position (0: exact)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", a->seed, "seed of the stochastic sources")->capture_default_str();
  cmd->add_option("--limit", a->limit, "dataset rows used (0: all)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "rows per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-edges", a->noEdges, "skip the edges");
  cmd->add_flag("--no-curves", a->noCurves, "skip the node-ablation curves");
  cmd->add_flag("--edge-ablation", a->edgeAblation,
                "bisect the smallest edge count per edge matrix that keeps the accuracy within "
                "0.001 of the base, for LIB and PCA");
  cmd->add_option("--gram-recording", a->gramRecording,
                  "activation store of this model (record --hooks with the node layers and "
                  "hook_logits, --positions all) to read the Gram matrices from");
  cmd->add_option("--gram-limit", a->gramLimit, "store examples read for the Grams (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--save", a->save, "HDF5 file for /results/lib/RUN");
  cmd->add_option("--run", a->run, "run name under /results/lib")->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([&options, a] { libCommand(*a, options); });
}

}  // namespace cs::cli
