// `analyze dla MODEL_DIR (--prompt TEXT | --ids IDS | --image FILE | --dataset SPEC [--row N])
// [--answer TOKEN] [--foil TOKEN | --no-foil] [--position N] [--no-heads] [--limit N] [--prune]
// [--save FILE.h5] [--run RUN] [--json]`: residual path decomposition and direct logit
// attribution of one example (paths, heads, logit lens, solo and leave-one-out views), and with
// --dataset the per-path accuracy over that dataset (docs/analyses.md).
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/residual_decomposition.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "data/image.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"

namespace cs::cli {

namespace {

struct DlaArgs {
  std::string folder;
  std::string prompt, ids, image;
  std::string answer, foil;
  std::int64_t answerId = -1, foilId = -1;
  bool noFoil = false;
  std::int64_t position = -1;
  bool noHeads = false;
  std::string dataset;
  std::int64_t row = -1;
  std::int64_t limit = 0;
  std::int64_t batchSize = 32;
  bool prune = false;
  std::string save;
  std::string run = "dla";
  bool json = false;
};

// The one example to decompose: the prompt, ids or image, else row --row of the dataset.
struct Example {
  models::ModelInput input;
  std::int64_t position = -1;
  std::int64_t answer = -1;  // the dataset's label or target, when the row has one
  bool present = false;
};

Example chooseExample(const DlaArgs& args, const models::TransformerConfig& config,
                      const data::Tokenizer* tokenizer, const data::Dataset* dataset) {
  Example ex;
  const int given = !args.prompt.empty() + !args.ids.empty() + !args.image.empty();
  if (given > 1) throw ConfigError("give one input: --prompt TEXT, --ids IDS or --image FILE");
  if (given == 0 && !dataset) {
    throw ConfigError("give an input (--prompt TEXT, --ids IDS or --image FILE) or a --dataset");
  }
  if (args.row >= 0 && given > 0) throw ConfigError("--row picks a dataset row; drop the input");
  if (given == 1) {
    if (!args.image.empty()) {
      if (config.input != models::InputKind::Patches) {
        throw ConfigError("this is a language model; --image is for image models");
      }
      ex.input.pixels =
          preprocessImages(args.folder, config, {data::decodeImage(args.image)}, {args.image});
    } else if (config.input == models::InputKind::Patches) {
      throw ConfigError("this is an image model: give --image FILE (or a --dataset)");
    } else if (!args.ids.empty()) {
      const auto parsed = parseIds(args.ids);
      if (parsed.ids.size(0) != 1) throw ConfigError("--ids takes one row of ids");
      ex.input.tokens = parsed.ids;
    } else {
      if (!tokenizer) throw ConfigError(args.folder + " has no tokenizer; give --ids");
      ex.input.tokens = at::tensor(promptIds(*tokenizer, args.prompt), at::kLong).unsqueeze(0);
    }
    ex.position = args.position;
    ex.present = true;
    return ex;
  }
  if (args.row < 0) return ex;  // dataset accuracy only
  if (args.row >= dataset->size()) {
    throw ConfigError("--row " + std::to_string(args.row) + ": the dataset has " +
                      std::to_string(dataset->size()) + " rows");
  }
  const auto b = dataset->batch(args.row, 1);
  ex.input = {b.tokens, b.attentionMask, {}, b.pixels};
  ex.position = args.position;
  if (b.scorePositions.defined() && ex.position < 0)
    ex.position = b.scorePositions[0].item<int64_t>();
  if (b.targets.defined()) ex.answer = b.targets[0].item<int64_t>();
  ex.present = true;
  return ex;
}

std::string number(double v) {
  if (std::isnan(v)) return "       -";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%8.3f", v);
  return buf;
}

void saveDecomposition(const analysis::ResidualDecompositionResult& r, const DlaArgs& args,
                       const nlohmann::json& options) {
  std::vector<data::ResultColumn> c(9);
  const char* names[] = {"component", "name", "layer", "head",         "depth",
                         "dla",       "lens", "solo",  "leave_one_out"};
  for (std::size_t i = 0; i < c.size(); ++i) c[i].name = names[i];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto row = [&](const std::string& component, const std::string& name, int layer, int head,
                 int depth, double dla, double lens, double solo, double loo) {
    c[0].texts.push_back(component);
    c[1].texts.push_back(name);
    c[2].integers.push_back(layer);
    c[3].integers.push_back(head);
    c[4].integers.push_back(depth);
    c[5].reals.push_back(dla);
    c[6].reals.push_back(lens);
    c[7].reals.push_back(solo);
    c[8].reals.push_back(loo);
  };
  for (std::size_t p = 0; p < r.paths.size(); ++p) {
    const auto& path = r.paths[p];
    const auto i = static_cast<Eigen::Index>(p);
    row("path", path.name, path.layer, -1, path.depth, r.dla(0, i), r.hasViews ? r.lens(0, i) : nan,
        r.hasViews ? r.solo(0, i) : nan, r.hasViews ? r.leaveOneOut(0, i) : nan);
  }
  if (!r.headDla.empty()) {
    for (Eigen::Index l = 0; l < r.biasDla.cols(); ++l) {
      const int layer = static_cast<int>(l);
      for (Eigen::Index h = 0; h < r.headDla[0].cols(); ++h) {
        if (std::isnan(r.headDla[0](l, h))) continue;
        row("head", "head " + std::to_string(l) + "." + std::to_string(h), layer,
            static_cast<int>(h), 2 * layer + 1, r.headDla[0](l, h), nan, nan, nan);
      }
      row("bias", "b_O " + std::to_string(l), layer, -1, 2 * layer + 1, r.biasDla(0, l), nan, nan,
          nan);
    }
  }
  row("constant", "constant", -1, -1, -1, r.constant(0), nan, nan, nan);
  data::writeResultTable(args.save, "residual_decomposition", args.run, c, options.dump());
}

void saveAccuracy(const analysis::PathAccuracyResult& r, const DlaArgs& args,
                  const nlohmann::json& options) {
  std::vector<data::ResultColumn> c(8);
  const char* names[] = {"path",
                         "depth",
                         "solo_accuracy",
                         "lens_accuracy",
                         "leave_one_out_accuracy",
                         "leave_one_out_delta",
                         "mean_dla",
                         "pruned_order"};
  for (std::size_t i = 0; i < c.size(); ++i) c[i].name = names[i];
  for (std::size_t p = 0; p < r.paths.size(); ++p) {
    const auto i = static_cast<Eigen::Index>(p);
    c[0].texts.push_back(r.paths[p].name);
    c[1].integers.push_back(r.paths[p].depth);
    c[2].reals.push_back(r.soloAccuracy(i));
    c[3].reals.push_back(r.lensAccuracy(i));
    c[4].reals.push_back(r.leaveOneOutAccuracy(i));
    c[5].reals.push_back(r.leaveOneOutDelta(i));
    c[6].reals.push_back(r.meanDla(i));
    const auto it = std::find(r.prunedPaths.begin(), r.prunedPaths.end(), static_cast<int>(p));
    c[7].integers.push_back(it == r.prunedPaths.end() ? -1 : it - r.prunedPaths.begin());
  }
  data::writeResultTable(args.save, "path_accuracy", args.run, c, options.dump());
}

nlohmann::json decompositionJson(const analysis::ResidualDecompositionResult& r,
                                 const models::TransformerConfig& config,
                                 const data::Tokenizer* tokenizer) {
  nlohmann::json paths = nlohmann::json::array();
  for (std::size_t p = 0; p < r.paths.size(); ++p) {
    const auto i = static_cast<Eigen::Index>(p);
    nlohmann::json j{{"name", r.paths[p].name},
                     {"layer", r.paths[p].layer},
                     {"depth", r.paths[p].depth},
                     {"skipped", r.paths[p].skipped},
                     {"dla", r.dla(0, i)}};
    if (r.hasViews) {
      j["lens"] = r.lens(0, i);
      j["lens_top"] = tokenText(r.lensTop(0, i), config, tokenizer);
      j["solo"] = r.solo(0, i);
      j["solo_top"] = tokenText(r.soloTop(0, i), config, tokenizer);
      j["leave_one_out"] = r.leaveOneOut(0, i);
      j["leave_one_out_top"] = tokenText(r.leaveOneOutTop(0, i), config, tokenizer);
    }
    paths.push_back(j);
  }
  nlohmann::json out{{"readout", r.readout},
                     {"position", r.positions[0]},
                     {"norm", r.norm},
                     {"answer", tokenText(r.answers[0], config, tokenizer)},
                     {"answer_id", r.answers[0]},
                     {"foil", r.foils[0] >= 0 ? tokenText(r.foils[0], config, tokenizer) : ""},
                     {"foil_id", r.foils[0]},
                     {"direction_logit", r.directionLogit(0)},
                     {"constant", r.constant(0)},
                     {"final_scale", r.finalScale(0)},
                     {"completeness_error", r.completenessError},
                     {"decomposition_error", r.decompositionError},
                     {"paths", paths}};
  if (!r.headDla.empty()) {
    nlohmann::json heads = nlohmann::json::array();
    for (Eigen::Index l = 0; l < r.headDla[0].rows(); ++l) {
      nlohmann::json layer = nlohmann::json::array();
      for (Eigen::Index h = 0; h < r.headDla[0].cols(); ++h) {
        if (!std::isnan(r.headDla[0](l, h))) layer.push_back(r.headDla[0](l, h));
      }
      heads.push_back(layer);
    }
    out["head_dla"] = heads;
    out["bias_dla"] = std::vector<double>(r.biasDla.data(), r.biasDla.data() + r.biasDla.size());
  }
  return out;
}

nlohmann::json accuracyJson(const analysis::PathAccuracyResult& r) {
  nlohmann::json paths = nlohmann::json::array();
  for (std::size_t p = 0; p < r.paths.size(); ++p) {
    const auto i = static_cast<Eigen::Index>(p);
    paths.push_back({{"name", r.paths[p].name},
                     {"solo_accuracy", r.soloAccuracy(i)},
                     {"lens_accuracy", r.lensAccuracy(i)},
                     {"leave_one_out_accuracy", r.leaveOneOutAccuracy(i)},
                     {"leave_one_out_delta", r.leaveOneOutDelta(i)},
                     {"mean_dla", r.meanDla(i)}});
  }
  nlohmann::json out{{"dataset", r.dataset},
                     {"predictions", r.predictions},
                     {"accuracy", r.accuracy},
                     {"mean_constant", r.meanConstant},
                     {"mean_direction_logit", r.meanDirectionLogit},
                     {"paths", paths}};
  if (r.pruned) {
    std::vector<std::string> removed;
    for (int p : r.prunedPaths) removed.push_back(r.paths[static_cast<std::size_t>(p)].name);
    out["pruned_paths"] = removed;
    out["pruning_accuracy"] = r.pruningAccuracy;
  }
  return out;
}

void printDecomposition(const analysis::ResidualDecompositionResult& r,
                        const models::TransformerConfig& config, const data::Tokenizer* tokenizer) {
  const auto answer = tokenText(r.answers[0], config, tokenizer);
  const auto foil = r.foils[0] >= 0 ? tokenText(r.foils[0], config, tokenizer) : "";
  std::printf("readout      %s", r.readout.c_str());
  if (r.positions[0] >= 0 && config.head == models::HeadKind::LanguageModel) {
    std::printf(" (position %lld)", static_cast<long long>(r.positions[0]));
  }
  std::printf("\ndirection    u = e[%s]%s%s\n", answer.c_str(), foil.empty() ? "" : " - e[",
              foil.empty() ? "" : (foil + "]").c_str());
  std::printf("u.logits     %.6f = sum DLA + constant %.6f (completeness error %.1e)\n",
              r.directionLogit(0), r.constant(0), r.completenessError);
  std::printf("final norm   %s, sigma_f %.6f (frozen for DLA; views recompute it)\n\n",
              r.norm.c_str(), r.finalScale(0));
  std::printf("%-8s %5s %10s", "path", "depth", "DLA");
  if (r.hasViews) {
    std::printf("  %10s %-10s %10s %-10s %10s %-10s", "lens", "lens top", "solo", "solo top",
                "leave-out", "top");
  }
  std::printf("\n");
  for (std::size_t p = 0; p < r.paths.size(); ++p) {
    const auto i = static_cast<Eigen::Index>(p);
    std::printf("%-8s %5d %10.4f", r.paths[p].name.c_str(), r.paths[p].depth, r.dla(0, i));
    if (r.hasViews) {
      std::printf("  %10.4f %-10s %10.4f %-10s %10.4f %-10s", r.lens(0, i),
                  tokenText(r.lensTop(0, i), config, tokenizer).c_str(), r.solo(0, i),
                  tokenText(r.soloTop(0, i), config, tokenizer).c_str(), r.leaveOneOut(0, i),
                  tokenText(r.leaveOneOutTop(0, i), config, tokenizer).c_str());
    }
    std::printf("%s\n", r.paths[p].skipped ? "  (skipped: contributes nothing)" : "");
  }
  if (!r.headDla.empty() && r.headDla[0].size() > 0) {
    std::printf("\nhead DLA (rows: layers)\n%-6s", "layer");
    for (Eigen::Index h = 0; h < r.headDla[0].cols(); ++h)
      std::printf(" %7s%lld", "h", static_cast<long long>(h));
    std::printf(" %8s\n", "b_O");
    for (Eigen::Index l = 0; l < r.headDla[0].rows(); ++l) {
      std::printf("%-6lld", static_cast<long long>(l));
      for (Eigen::Index h = 0; h < r.headDla[0].cols(); ++h) {
        std::printf(" %s", number(r.headDla[0](l, h)).c_str());
      }
      std::printf(" %s\n", number(r.biasDla(0, l)).c_str());
    }
  }
}

void printAccuracy(const analysis::PathAccuracyResult& r) {
  std::printf("\ndataset      %s\n", r.dataset.c_str());
  std::printf("accuracy     %.4f over %lld predictions (u = e[target] - e[foil or runner-up])\n",
              r.accuracy, static_cast<long long>(r.predictions));
  std::printf("%-8s %8s %8s %10s %10s %10s\n", "path", "solo", "lens", "leave-out", "delta u.l",
              "mean DLA");
  for (std::size_t p = 0; p < r.paths.size(); ++p) {
    const auto i = static_cast<Eigen::Index>(p);
    std::printf("%-8s %8.4f %8.4f %10.4f %10.4f %10.4f\n", r.paths[p].name.c_str(),
                r.soloAccuracy(i), r.lensAccuracy(i), r.leaveOneOutAccuracy(i),
                r.leaveOneOutDelta(i), r.meanDla(i));
  }
  if (r.pruned) {
    std::printf("\npruning      accuracy %.4f", r.pruningAccuracy.front());
    for (std::size_t k = 0; k < r.prunedPaths.size(); ++k) {
      std::printf(" -> without %s %.4f",
                  r.paths[static_cast<std::size_t>(r.prunedPaths[k])].name.c_str(),
                  r.pruningAccuracy[k + 1]);
    }
    std::printf("%s\n", r.prunedPaths.empty() ? " (no removal helps)" : "");
  }
}

void dlaCommand(const DlaArgs& args, const GlobalOptions& options) {
  configureThreads(options.threads);
  const auto tokenizer = optionalTokenizer(args.folder);
  auto model = loadModel(args.folder, options);
  const auto& config = model->config();
  std::unique_ptr<data::Dataset> dataset;
  if (!args.dataset.empty()) {
    dataset = data::openDataset(args.dataset,
                                {args.folder, config.nCtx, config.imageSize, config.classLabels});
  } else if (args.row >= 0 || args.prune || args.limit > 0) {
    throw ConfigError("--row, --limit and --prune need a --dataset");
  }
  const auto example = chooseExample(args, config, tokenizer.get(), dataset.get());

  analysis::DecompositionOptions decomposition;
  decomposition.position = example.position;
  decomposition.perHead = !args.noHeads;
  decomposition.answerOnly = args.noFoil;
  auto answer = metricToken(args.answer, args.answerId, config, tokenizer.get(), "--answer");
  if (answer < 0) answer = example.answer;
  if (answer >= 0) decomposition.answers = {answer};
  const auto foil = metricToken(args.foil, args.foilId, config, tokenizer.get(), "--foil");
  if (foil >= 0) {
    if (args.noFoil) throw ConfigError("--no-foil and --foil exclude each other");
    decomposition.foils = {foil};
  }

  Progress progress;
  analysis::ResidualDecompositionResult r;
  analysis::PathAccuracyResult accuracy;
  {
    ProgressLine line(progress, options);
    if (example.present) {
      r = analysis::analyseResidualDecomposition(*model, example.input, decomposition, progress);
    }
    if (dataset) {
      analysis::PathAccuracyOptions pathOptions;
      pathOptions.batchSize = args.batchSize;
      pathOptions.limit = args.limit;
      pathOptions.perHead = !args.noHeads;
      pathOptions.prune = args.prune;
      accuracy = analysis::analysePathAccuracy(*model, *dataset, pathOptions, progress);
    }
  }
  nlohmann::json described{{"model", args.folder}, {"heads", !args.noHeads}};
  if (!args.prompt.empty()) described["prompt"] = args.prompt;
  if (!args.ids.empty()) described["ids"] = args.ids;
  if (!args.image.empty()) described["image"] = args.image;
  if (dataset) {
    described["dataset"] = dataset->describe();
    described["limit"] = args.limit;
    described["prune"] = args.prune;
    if (args.row >= 0) described["row"] = args.row;
  }
  nlohmann::json j = described;
  if (example.present) j["decomposition"] = decompositionJson(r, config, tokenizer.get());
  if (dataset) j["path_accuracy"] = accuracyJson(accuracy);
  if (!args.save.empty()) {
    if (example.present) {
      auto o = described;
      o["result"] = j["decomposition"];
      o["result"].erase("paths");
      saveDecomposition(r, args, o);
    }
    if (dataset) {
      auto o = described;
      o["accuracy"] = accuracy.accuracy;
      o["predictions"] = accuracy.predictions;
      if (accuracy.pruned) o["pruning"] = j["path_accuracy"]["pruned_paths"];
      saveAccuracy(accuracy, args, o);
    }
  }
  if (args.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (example.present) printDecomposition(r, config, tokenizer.get());
  if (dataset) printAccuracy(accuracy);
  if (!args.save.empty()) {
    std::printf("\nsaved to %s:", args.save.c_str());
    if (example.present) std::printf(" /results/residual_decomposition/%s", args.run.c_str());
    if (dataset) std::printf(" /results/path_accuracy/%s", args.run.c_str());
    std::printf("\n");
  }
}

}  // namespace

void addAnalyzeDecompositionCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "dla",
      "residual path decomposition and direct logit attribution (paths, heads, logit lens, "
      "solo and leave-one-out views; per-path accuracy with --dataset)");
  auto args = std::make_shared<DlaArgs>();
  addModelFolderOption(cmd, args->folder, "model folder")->required();
  cmd->add_option("--prompt", args->prompt, "prompt text (language models)");
  cmd->add_option("--ids", args->ids, "token ids, e.g. 1,2,3");
  cmd->add_option("--image", args->image, "image file (image models)");
  cmd->add_option("--answer", args->answer,
                  "answer token (text, first token) or class label; default: the top "
                  "prediction (with --row: the row's label or target)");
  cmd->add_option("--answer-id", args->answerId, "answer token id or class index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--foil", args->foil,
                  "foil token or class; default: the runner-up (best other output)");
  cmd->add_option("--foil-id", args->foilId, "foil token id or class index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-foil", args->noFoil, "u = e[answer] alone");
  cmd->add_option("--position", args->position,
                  "position read (language models; default: the last real token)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-heads", args->noHeads, "skip the per-head DLA");
  cmd->add_option("--dataset", args->dataset,
                  "labelled dataset spec for per-path accuracy (docs/datasets.md)");
  cmd->add_option("--row", args->row, "decompose this dataset row as the example")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit", args->limit, "at most this many dataset rows (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", args->batchSize, "dataset rows per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--prune", args->prune, "greedy path pruning on the dataset");
  cmd->add_option("--save", args->save,
                  "HDF5 file for /results/residual_decomposition/RUN (and /results/"
                  "path_accuracy/RUN)");
  cmd->add_option("--run", args->run, "run name under /results/...")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([&options, args] { dlaCommand(*args, options); });
}

}  // namespace cs::cli
