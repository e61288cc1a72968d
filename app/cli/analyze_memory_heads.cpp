// `analyze memory-heads MODEL_DIR --examples FILE.jsonl [--rank-by effect|dla]
// [--mode context|memory] [--no-filter] [--frozen-norm] [--k-grid 1,3,5,7,9,15]
// [--find-fraction F] [--batch-size N] [--save FILE.h5] [--run RUN] [--json]`: memory vs
// context heads on knowledge-conflict examples and PH3 pruning (docs/analyses.md).
// The examples file's format: analysis/conflict_examples.h.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/conflict_examples.h"
#include "analysis/memory_heads.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "app/cli/json_output.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"

namespace cs::cli {

namespace {

struct MemoryHeadArgs {
  std::string folder;
  std::string examples;
  std::string rankBy = "effect";
  std::string mode = "context";
  bool noFilter = false;
  bool frozenNorm = false;
  std::string kGrid = "1,3,5,7,9,15";
  double findFraction = 0.5;
  std::int64_t batchSize = 8;
  std::string save;
  std::string run = "memory-heads";
  bool json = false;
};

std::string headName(const analysis::ConflictHead& h) {
  return std::to_string(h.layer) + "." + std::to_string(h.head);
}

nlohmann::json headsJson(const std::vector<analysis::ConflictHead>& heads) {
  auto out = nlohmann::json::array();
  for (const auto& h : heads) {
    out.push_back({{"layer", h.layer}, {"head", h.head}, {"effect", h.effect}, {"dla", h.dla}});
  }
  return out;
}

void saveResult(const analysis::MemoryHeadResult& r, const models::TransformerConfig& config,
                const MemoryHeadArgs& args, const nlohmann::json& options) {
  std::vector<data::ResultColumn> c(9);
  const char* names[] = {"layer",   "head",        "effect",   "dla",  "effect_all",
                         "dla_all", "effect_kept", "dla_kept", "group"};
  for (std::size_t i = 0; i < c.size(); ++i) c[i].name = names[i];
  for (int l = 0; l < config.nLayers; ++l) {
    for (int h = 0; h < config.nHeads[l]; ++h) {
      c[0].integers.push_back(l);
      c[1].integers.push_back(h);
      c[2].reals.push_back(r.effect(l, h));
      c[3].reals.push_back(r.dla(l, h));
      c[4].reals.push_back(r.effectAll(l, h));
      c[5].reals.push_back(r.dlaAll(l, h));
      c[6].reals.push_back(r.effectKept(l, h));
      c[7].reals.push_back(r.dlaKept(l, h));
      c[8].texts.push_back(r.dla(l, h) > 0 ? "memory" : r.dla(l, h) < 0 ? "context" : "");
    }
  }
  data::writeResultTable(args.save, "memory_heads", args.run, c, options.dump());
  std::vector<data::ResultColumn> k(5);
  const char* curveNames[] = {"k", "validation_rate", "validation_probability", "test_rate",
                              "test_probability"};
  for (std::size_t i = 0; i < k.size(); ++i) k[i].name = curveNames[i];
  for (const auto& p : r.curve) {
    k[0].integers.push_back(p.k);
    k[1].reals.push_back(p.validationRate);
    k[2].reals.push_back(p.validationProbability);
    k[3].reals.push_back(p.testRate);
    k[4].reals.push_back(p.testProbability);
  }
  data::writeResultTable(args.save, "memory_heads_pruning", args.run, k, options.dump());
}

void printMatrix(const char* title, const Eigen::MatrixXd& m) {
  std::printf("\n%s\n%-6s", title, "layer");
  for (Eigen::Index h = 0; h < m.cols(); ++h) {
    std::printf(" %7s%lld", "h", static_cast<long long>(h));
  }
  std::printf("\n");
  for (Eigen::Index l = 0; l < m.rows(); ++l) {
    std::printf("%-6lld", static_cast<long long>(l));
    for (Eigen::Index h = 0; h < m.cols(); ++h) {
      if (std::isnan(m(l, h))) {
        std::printf(" %8s", "-");
      } else {
        std::printf(" %8.4f", m(l, h));
      }
    }
    std::printf("\n");
  }
}

void printHeads(const char* title, const std::vector<analysis::ConflictHead>& heads) {
  std::printf("%-16s", title);
  if (heads.empty()) std::printf(" none");
  for (const auto& h : heads) {
    std::printf(" %s (e %.3f, DLA %.3f)", headName(h).c_str(), h.effect, h.dla);
  }
  std::printf("\n");
}

void memoryHeadsCommand(const MemoryHeadArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  if (args.findFraction <= 0.0 || args.findFraction >= 1.0) {
    throw ConfigError("--find-fraction must lie strictly between 0 and 1");
  }
  analysis::MemoryHeadOptions analysisOptions;
  if (args.rankBy != "effect" && args.rankBy != "dla") {
    throw ConfigError("--rank-by takes effect or dla, not \"" + args.rankBy + "\"");
  }
  if (args.mode != "context" && args.mode != "memory") {
    throw ConfigError("--mode takes context or memory, not \"" + args.mode + "\"");
  }
  analysisOptions.rankBy =
      args.rankBy == "dla" ? analysis::HeadRanking::Dla : analysis::HeadRanking::Effect;
  analysisOptions.mode =
      args.mode == "memory" ? analysis::SteeringMode::Memory : analysis::SteeringMode::Context;
  analysisOptions.filter = !args.noFilter;
  analysisOptions.freezeFinalNorm = args.frozenNorm;
  analysisOptions.kGrid = parseIntList(args.kGrid, "--k-grid");
  analysisOptions.batchSize = args.batchSize;

  const auto tokenizer = optionalTokenizer(args.folder);
  auto model = loadModel(args.folder, options);
  const auto& config = model->config();
  if (config.head != models::HeadKind::LanguageModel || config.input != models::InputKind::Tokens) {
    throw ConfigError(args.folder +
                      " is not a language model; memory and context heads are "
                      "found on prompts");
  }
  const auto splits = analysis::readConflictExamples(
      args.examples, config.dVocab, tokenizer.get(),
      [&](const std::string& prompt) { return promptIds(*tokenizer, prompt); }, args.findFraction);

  Progress progress;
  analysis::MemoryHeadResult r;
  {
    ProgressLine line(progress, options);
    r = analysis::analyseMemoryHeads(*model, splits.find, splits.validation, splits.test,
                                     analysisOptions, progress);
  }
  const char* pruned = r.mode == "context" ? "memory" : "context";
  nlohmann::json described{{"model", args.folder},
                           {"examples", args.examples},
                           {"mode", r.mode},
                           {"rank_by", r.rankBy},
                           {"filter", !args.noFilter},
                           {"frozen_norm", args.frozenNorm},
                           {"k_grid", analysisOptions.kGrid},
                           {"find_examples", r.findExamples},
                           {"kept_examples", r.keptExamples},
                           {"ranked_on_kept", r.rankedOnKept},
                           {"validation_examples", r.validationExamples},
                           {"test_examples", r.testExamples},
                           {"chosen_k", r.chosenK},
                           {"pruned_heads", headsJson(r.prunedHeads)}};
  if (!r.note.empty()) described["note"] = r.note;
  if (!args.save.empty()) saveResult(r, config, args, described);
  if (args.json) {
    auto j = described;
    j["memory_rate_on_reference"] = r.memoryRateOnReference;
    j["context_rate_on_conflict"] = r.contextRateOnConflict;
    j["mean_logit_difference"] = r.meanLogitDifference;
    j["effect"] = matrixJson(r.effect);
    j["dla"] = matrixJson(r.dla);
    j["effect_all"] = matrixJson(r.effectAll);
    j["dla_all"] = matrixJson(r.dlaAll);
    j["effect_kept"] = matrixJson(r.effectKept);
    j["dla_kept"] = matrixJson(r.dlaKept);
    j["memory_heads"] = headsJson(r.memoryHeads);
    j["context_heads"] = headsJson(r.contextHeads);
    j["curve"] = nlohmann::json::array();
    for (const auto& p : r.curve) {
      nlohmann::json point{{"k", p.k},
                           {"validation_rate", p.validationRate},
                           {"validation_probability", p.validationProbability}};
      if (!std::isnan(p.testRate)) {
        point["test_rate"] = p.testRate;
        point["test_probability"] = p.testProbability;
      }
      j["curve"].push_back(point);
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf(
      "examples     %d head-finding (%d kept: o_m on x_ref %.0f%%, o_c on x_conf %.0f%%), "
      "%d validation, %d test\n",
      r.findExamples, r.keptExamples, 100 * r.memoryRateOnReference, 100 * r.contextRateOnConflict,
      r.validationExamples, r.testExamples);
  std::printf(
      "ranking      by |%s| over the %s examples; mean LD = logit(o_m) - logit(o_c) on "
      "x_conf %.4f\n",
      r.rankBy == "dla" ? "DLA" : "e", r.rankedOnKept ? "kept" : "head-finding",
      r.meanLogitDifference);
  if (!r.note.empty()) std::printf("note         %s\n", r.note.c_str());
  printMatrix("effect e[layer, head] (r(x_ref) patched into x_conf at the last token)", r.effect);
  printMatrix("DLA[layer, head] on x_conf along e[o_m] - e[o_c] (+ memory, - context)", r.dla);
  std::printf("\n");
  printHeads("memory heads", r.memoryHeads);
  printHeads("context heads", r.contextHeads);
  std::printf("\nPH3 pruning: zero-ablate the top k %s heads; target answer o_%s\n", pruned,
              r.mode == "context" ? "c" : "m");
  std::printf("%4s %10s %10s %10s %10s\n", "k", "val rate", "val prob", "test rate", "test prob");
  for (const auto& p : r.curve) {
    std::printf("%4d %10.4f %10.4f", p.k, p.validationRate, p.validationProbability);
    if (std::isnan(p.testRate)) {
      std::printf(" %10s %10s\n", "-", "-");
    } else {
      std::printf(" %10.4f %10.4f\n", p.testRate, p.testProbability);
    }
  }
  std::printf("chosen k     %d:", r.chosenK);
  for (const auto& h : r.prunedHeads) std::printf(" %s", headName(h).c_str());
  std::printf("\n");
  if (!args.save.empty()) {
    std::printf("saved to %s:/results/memory_heads/%s and /results/memory_heads_pruning/%s\n",
                args.save.c_str(), args.run.c_str(), args.run.c_str());
  }
}

}  // namespace

void addAnalyzeMemoryHeadsCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "memory-heads",
      "memory vs context heads on knowledge-conflict examples, and PH3 head pruning");
  auto args = std::make_shared<MemoryHeadArgs>();
  addModelFolderOption(cmd, args->folder, "language model folder")->required();
  cmd->add_option("--examples", args->examples,
                  "conflict examples, one JSON object per line (docs/analyses.md)")
      ->required();
  cmd->add_option("--rank-by", args->rankBy, "rank heads by |effect| or |dla|")
      ->capture_default_str();
  cmd->add_option("--mode", args->mode,
                  "context: prune memory heads to follow the context; memory: the reverse")
      ->capture_default_str();
  cmd->add_flag("--no-filter", args->noFilter,
                "rank on every head-finding example, not only those answering o_m without and "
                "o_c with the context");
  cmd->add_flag("--frozen-norm", args->frozenNorm,
                "freeze the final norm's scale in the effect (linear in the heads)");
  cmd->add_option("--k-grid", args->kGrid, "numbers of heads to try pruning")
      ->capture_default_str();
  cmd->add_option("--find-fraction", args->findFraction,
                  "share of examples without a split that find heads (the rest validate k)")
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batchSize, "examples per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--save", args->save,
                  "HDF5 file for /results/memory_heads/RUN and /results/memory_heads_pruning/RUN");
  cmd->add_option("--run", args->run, "run name under /results/...")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([&options, args] { memoryHeadsCommand(*args, options); });
}

}  // namespace cs::cli
