// `demo [--out DIR]`: the offline main job. On the built-in models it records the induction
// model's activations, evaluates every built-in model (accuracy, loss, latency), ablates each
// head of the induction model to find the one whose removal hurts most and one whose removal
// does not, prunes both (masked and compacted, with mask files), and writes report.html with its
// figures. Everything lands in DIR only when all of it was made.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "analysis/head_ablation.h"
#include "analysis/latency.h"
#include "analysis/mask_evaluation.h"
#include "analysis/recording.h"
#include "app/cli/commands.h"
#include "app/report/demo_report.h"
#include "core/error.h"
#include "core/resources.h"
#include "core/threads.h"
#include "core/version.h"
#include "data/atomic_file.h"
#include "data/dataset_spec.h"
#include "data/json_document.h"
#include "models/cache_run.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "models/loaders/model_identity.h"
#include "models/mask_file.h"

namespace cs::cli {

namespace {
namespace fs = std::filesystem;

struct DemoArgs {
  std::string out = "demo-out";
  int latencyRuns = 10;
};

struct BuiltinModel {
  std::string name;
  fs::path folder;
  nlohmann::json manifest;
};

// Every shipped model with a manifest (the demo needs its test set), in name order.
std::vector<BuiltinModel> builtinModels() {
  std::vector<BuiltinModel> found;
  for (const auto& name : models::builtinModelNames()) {
    const auto folder = models::resolveModelFolder(models::kBuiltinPrefix + name);
    const auto manifest = folder / "manifest.json";
    if (!fs::exists(manifest)) continue;
    found.push_back({name, folder, data::readJsonFile(manifest.string(), 1 << 20)});
  }
  if (found.empty()) {
    throw IoError("no built-in models with a manifest.json under " +
                  resourcePath("models").string());
  }
  return found;
}

std::string manifestText(const BuiltinModel& model, const std::string& key) {
  const auto it = model.manifest.find(key);
  if (it == model.manifest.end() || !it->is_string()) {
    throw FormatError((model.folder / "manifest.json").string() + ": \"" + key +
                      "\" is missing; reinstall the built-in models");
  }
  return it->get<std::string>();
}

std::string utcNow() {
  const auto now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Timing batch of a dataset: its first rows.
models::ModelInput firstRows(const data::Dataset& dataset, std::int64_t rows) {
  const auto b = dataset.batch(0, std::min(rows, dataset.size()));
  return {b.tokens, b.attentionMask, {}, b.pixels};
}

report::HeadExperiment pruneOneHead(models::Transformer& model, const fs::path& folder,
                                    const data::Dataset& dataset, int layer, int head,
                                    const fs::path& out, const analysis::PruningOptions& options,
                                    Progress& progress) {
  report::HeadExperiment e;
  e.label = "head " + std::to_string(layer) + "." + std::to_string(head);
  e.layer = layer;
  e.head = head;
  hooks::MaskSet masks;
  masks.set({hooks::MaskComponent::Head, layer, head});
  e.pruning = analysis::comparePruning(model, dataset, masks, nullptr, options, progress);
  e.maskFile = "mask-head-" + std::to_string(layer) + "-" + std::to_string(head) + ".json";
  models::saveMaskFile(out / e.maskFile, masks, models::fingerprintOfFolder(folder),
                       "demo: " + e.label + " removed");
  return e;
}

// Everything the report shows, computed into `out` (the store and the mask files).
report::DemoReport runDemo(const DemoArgs& args, const fs::path& out, int threads,
                           Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  report::DemoReport r;
  r.toolVersion = kToolVersion;
  r.created = utcNow();
  r.threads = threads;

  const auto builtins = builtinModels();
  const auto inductionIt = std::find_if(builtins.begin(), builtins.end(),
                                        [](const auto& m) { return m.name == "induction"; });
  if (inductionIt == builtins.end()) throw IoError("the built-in induction model is missing");

  // Every built-in model on its own test set.
  analysis::LatencyOptions latency{2, args.latencyRuns};
  for (const auto& b : builtins) {
    progress.setStage("evaluating " + b.name);
    auto model = models::loadHfModel(b.folder);
    const auto dataset = data::openDataset(manifestText(b, "test_dataset"));
    report::ModelSummary s;
    s.name = b.name;
    s.description = b.manifest.value("description", std::string());
    s.manifestTestAccuracy = b.manifest.value("test_accuracy", 0.0);
    s.eval = analysis::evaluate(*model, *dataset, {64, 0}, progress);
    s.latency = analysis::measureLatency(*model, firstRows(*dataset, 32), latency, progress);
    r.models.push_back(std::move(s));
  }

  // The induction model: recording, head ablation, pruning, attention pattern.
  const auto& induction = *inductionIt;
  auto model = models::loadHfModel(induction.folder);
  const auto testSpec = manifestText(induction, "test_dataset");
  const auto dataset = data::openDataset(testSpec);

  r.storeFile = "induction-activations.h5";
  r.storeDataset = dataset->describe();
  analysis::RecordOptions record;
  record.hookPatterns = {"blocks.*.hook_resid_post", "blocks.*.attn.hook_pattern"};
  record.limit = 128;
  record.batchSize = 32;
  const auto recorded =
      analysis::recordActivations(*model, *dataset, models::identifyModelFolder(induction.folder),
                                  out / r.storeFile, record, progress);
  r.storeRows = recorded.rowsInStore;
  r.storeHooks = recorded.hooks;
  r.storeMegabytes = static_cast<double>(fs::file_size(out / r.storeFile)) / 1e6;

  analysis::HeadAblationOptions ablation;
  ablation.eval = {64, 0};
  r.headAblation = analysis::ablateEachHead(*model, *dataset, ablation, nullptr, progress);
  // The most harmful removal, and the most harmless one among the other heads.
  const auto& acc = r.headAblation.accuracy;
  int hurtL = 0, hurtH = 0, keepL = -1, keepH = -1;
  for (int l = 0; l < acc.rows(); ++l) {
    for (int h = 0; h < model->config().nHeads[l]; ++h) {
      if (acc(l, h) < acc(hurtL, hurtH)) hurtL = l, hurtH = h;
    }
  }
  for (int l = 0; l < acc.rows(); ++l) {
    for (int h = 0; h < model->config().nHeads[l]; ++h) {
      if ((l != hurtL || h != hurtH) && (keepL < 0 || acc(l, h) > acc(keepL, keepH))) {
        keepL = l, keepH = h;
      }
    }
  }
  if (keepL < 0) throw ConfigError("the induction model has a single head; nothing to compare");

  analysis::PruningOptions pruning;
  pruning.eval = {64, 0};
  pruning.latency = latency;
  pruning.latencyBatch = 32;
  r.hurtful =
      pruneOneHead(*model, induction.folder, *dataset, hurtL, hurtH, out, pruning, progress);
  r.harmless =
      pruneOneHead(*model, induction.folder, *dataset, keepL, keepH, out, pruning, progress);

  // An induction head's attention on one repeated sequence. The heads that match and copy sit
  // in the last layer (they read what layer 0 moved forward); the most harmful single head may
  // be in layer 0 instead (it is in the shipped model, whose layer-1 heads back each other up),
  // so the figure takes the last layer's most harmful head.
  progress.setStage("attention pattern");
  const int last = static_cast<int>(acc.rows()) - 1;
  int patternHead = 0;
  for (int h = 1; h < model->config().nHeads[last]; ++h) {
    if (acc(last, h) < acc(last, patternHead)) patternHead = h;
  }
  r.patternLayer = last;
  r.patternHead = patternHead;
  const auto example = dataset->batch(0, 1);
  hooks::ActivationCache cache;
  {
    c10::InferenceMode guard;
    models::runWithCache(*model, {example.tokens, {}, {}, {}},
                         {hooks::hookName(hooks::HookKind::Pattern, last)}, cache);
  }
  const auto pattern =
      cache.at(hooks::HookKind::Pattern, last)[0][patternHead].to(at::kDouble).contiguous();
  const auto T = pattern.size(0);
  // Eigen is column-major, the tensor row-major: map it as row-major.
  r.pattern =
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          pattern.data_ptr<double>(), T, T);
  for (int64_t t = 0; t < T; ++t) {
    r.patternTokens.push_back(std::to_string(example.tokens[0][t].item<int64_t>()));
  }

  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

// The key numbers for scripts and tests: summary.json beside the report.
nlohmann::json summaryJson(const report::DemoReport& r, const std::vector<std::string>& files) {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : r.models) {
    models.push_back({{"name", m.name},
                      {"dataset", m.eval.dataset},
                      {"accuracy", m.eval.accuracy},
                      {"mean_loss", m.eval.meanLoss},
                      {"stated_test_accuracy", m.manifestTestAccuracy},
                      {"latency_median_ms", m.latency.medianMs}});
  }
  const auto& a = r.headAblation;
  nlohmann::json grid = nlohmann::json::array();
  for (int l = 0; l < a.accuracy.rows(); ++l) {
    nlohmann::json row = nlohmann::json::array();
    for (int h = 0; h < a.accuracy.cols(); ++h) {
      row.push_back(std::isfinite(a.accuracy(l, h)) ? nlohmann::json(a.accuracy(l, h))
                                                    : nlohmann::json());
    }
    grid.push_back(std::move(row));
  }
  auto experiment = [&](const report::HeadExperiment& e) {
    nlohmann::json variants = nlohmann::json::array();
    for (const auto& v : e.pruning.variants) {
      variants.push_back({{"name", v.name},
                          {"present", v.present},
                          {"accuracy", v.eval.accuracy},
                          {"latency_median_ms", v.latency.medianMs},
                          {"parameters", v.latency.parameters}});
    }
    return nlohmann::json{{"layer", e.layer},
                          {"head", e.head},
                          {"accuracy_without", a.accuracy(e.layer, e.head)},
                          {"mask_file", e.maskFile},
                          {"variants", variants}};
  };
  return {{"seconds", r.seconds},
          {"threads", r.threads},
          {"files", files},
          {"store", {{"file", r.storeFile}, {"rows", r.storeRows}, {"hooks", r.storeHooks}}},
          {"models", models},
          {"head_ablation", {{"baseline_accuracy", a.baseline.accuracy}, {"accuracy", grid}}},
          {"hurtful", experiment(r.hurtful)},
          {"harmless", experiment(r.harmless)},
          {"pattern_head", {{"layer", r.patternLayer}, {"head", r.patternHead}}}};
}

// The demo writes into a fresh hidden folder inside `out` and moves the files out only once
// all of them exist, so a failed run never leaves half its files beside (or over) those of an
// earlier run, and report.html always sits beside its own figures. A folder the run created
// goes again when it fails.
class StagingFolder {
 public:
  explicit StagingFolder(const fs::path& out) : m_out(out), m_path(out / ".demo-partial") {
    std::error_code ec;
    m_createdOut = !fs::exists(out, ec);
    fs::create_directories(out, ec);
    if (!ec) fs::remove_all(m_path, ec);  // left by a run that was killed
    if (!ec) fs::create_directories(m_path, ec);
    if (ec) throw IoError("cannot create " + m_path.string() + ": " + ec.message());
  }
  ~StagingFolder() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
    if (!m_committed && m_createdOut) fs::remove(m_out, ec);  // only when empty
  }
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;

  const fs::path& path() const { return m_path; }

  /// Moves every file into the output folder, `last` after all others in the order given.
  void commit(const std::vector<std::string>& last) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(m_path)) {
      const auto name = entry.path().filename().string();
      if (std::find(last.begin(), last.end(), name) == last.end()) names.push_back(name);
    }
    names.insert(names.end(), last.begin(), last.end());
    for (const auto& name : names) {
      std::error_code ec;
      fs::rename(m_path / name, m_out / name, ec);
      if (ec)
        throw IoError("cannot move " + name + " into " + m_out.string() + ": " + ec.message());
    }
    m_committed = true;
  }

 private:
  fs::path m_out;
  fs::path m_path;
  bool m_createdOut = false;
  bool m_committed = false;
};

void demoCommand(const DemoArgs& args, const GlobalOptions& options) {
  const int threads = configureThreads(options.threads);
  const fs::path out = args.out;
  Progress progress;
  report::DemoReport r;
  std::vector<std::string> files;
  {
    ProgressLine line(progress, options);
    StagingFolder staging(out);
    r = runDemo(args, staging.path(), threads, progress);
    progress.setStage("writing the report");
    files = report::writeDemoReport(r, staging.path());
    data::writeTextFileAtomically(staging.path() / "summary.json",
                                  summaryJson(r, files).dump(2) + "\n");
    staging.commit({files.back(), "summary.json"});
  }
  const auto& acc = r.headAblation.accuracy;
  std::printf("demo finished in %.1f s on %d threads\n", r.seconds, threads);
  for (const auto& m : r.models) {
    std::printf("  %-12s accuracy %.4f on %s\n", m.name.c_str(), m.eval.accuracy,
                m.eval.dataset.c_str());
  }
  for (const auto* e : {&r.hurtful, &r.harmless}) {
    std::printf("  removing %s: induction accuracy %.4f -> %.4f\n", e->label.c_str(),
                r.headAblation.baseline.accuracy, acc(e->layer, e->head));
  }
  std::printf("report: %s\n", fs::absolute(out / files.back()).string().c_str());
}
}  // namespace

void addDemoCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand(
      "demo", "run the offline demo on the built-in models and write an HTML report");
  auto args = std::make_shared<DemoArgs>();
  cmd->add_option("--out", args->out, "output folder")->capture_default_str();
  cmd->add_option("--latency-runs", args->latencyRuns, "timed runs per latency measurement")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([&options, args] { demoCommand(*args, options); });
}

}  // namespace cs::cli
