// `analyze head-divergence MODEL_DIR (--prompt TEXT | --ids IDS | --image FILE | --dataset SPEC
// --row N) [--without TEXT | --without-ids IDS | --without-image FILE | --remove-range A:B |
// --blank-image zero|mean] [--alpha A] [--layers LIST] [--no-lockstep] [--generate N |
// --continuation-ids IDS] [--top-k K] [--save-mask FILE.json] [--save FILE.h5] [--run RUN]
// [--json]` (docs/analyses.md, ALGORITHMS.md section 6): each head's VHD, TA and selection for
// reinforcement, the selected heads as a scale mask, and with a continuation the per-token
// divergence T-VHD next to the text generated with and without the reinforcement.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/head_divergence.h"
#include "app/cli/analyze_commands.h"
#include "app/cli/example_inputs.h"
#include "app/cli/json_output.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/store/results_writer.h"
#include "data/tokenizer.h"
#include "models/mask_application.h"
#include "models/mask_file.h"

namespace cs::cli {

namespace {

struct DivergenceArgs {
  std::string folder;
  std::string prompt, ids, image;  // the "with" branch
  std::string dataset;
  std::int64_t row = -1;
  std::string without, withoutIds, withoutImage;  // the "without" branch
  std::string removeRange;                        // "A:B"
  std::string blank;                              // "zero" or "mean"
  double alpha = 2.0;
  std::string layers;
  bool noLockstep = false;
  int generate = 0;
  std::string continuationIds;
  int topK = 0;
  std::string saveMask;
  std::string save;
  std::string run = "head_divergence";
  bool json = false;
};

models::ModelInput withInput(const DivergenceArgs& a, const models::TransformerConfig& config,
                             const data::Tokenizer* tokenizer) {
  if (!a.dataset.empty()) {
    if (!a.prompt.empty() || !a.ids.empty() || !a.image.empty()) {
      throw ConfigError("give the input once: --prompt, --ids, --image or --dataset with --row");
    }
    if (a.row < 0) throw ConfigError("--dataset needs --row N (the example to analyse)");
    return datasetExample(a.dataset, a.row, a.folder, config).input;
  }
  return exampleInput(a.prompt, a.ids, a.image, "prompt", a.folder, config, tokenizer);
}

models::ModelInput withoutInput(const DivergenceArgs& a, const models::ModelInput& with,
                                const models::TransformerConfig& config,
                                const data::Tokenizer* tokenizer) {
  const int given = !a.without.empty() + !a.withoutIds.empty() + !a.withoutImage.empty() +
                    !a.removeRange.empty() + !a.blank.empty();
  const bool image = config.input == models::InputKind::Patches;
  if (given > 1) {
    throw ConfigError(
        "give the \"without\" branch once: --without, --without-ids, --without-image, "
        "--remove-range or --blank-image");
  }
  if (given == 0) {
    if (image) return analysis::blankImage(with, analysis::BlankImage::Mean);
    throw ConfigError(
        "a language model needs the \"without\" branch: --remove-range A:B (the context "
        "segment to take out), --without TEXT or --without-ids IDS (a replacement)");
  }
  if (!a.blank.empty()) {
    if (!image) throw ConfigError("--blank-image is for image models");
    if (a.blank != "zero" && a.blank != "mean") {
      throw ConfigError("--blank-image takes zero or mean, not \"" + a.blank + "\"");
    }
    return analysis::blankImage(
        with, a.blank == "zero" ? analysis::BlankImage::Zero : analysis::BlankImage::Mean);
  }
  if (!a.removeRange.empty()) {
    const auto colon = a.removeRange.find(':');
    if (colon == std::string::npos) {
      throw ConfigError("--remove-range takes A:B (positions A to B - 1), got \"" + a.removeRange +
                        "\"");
    }
    const auto bounds = parseIntList(
        a.removeRange.substr(0, colon) + "," + a.removeRange.substr(colon + 1), "--remove-range");
    return analysis::withoutSegment(with, bounds[0], bounds[1]);
  }
  return exampleInput(a.without, a.withoutIds, a.withoutImage, "without", a.folder, config,
                      tokenizer);
}

std::string formatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string headsText(const std::vector<analysis::HeadRef>& heads) {
  std::string s;
  for (const auto& h : heads) {
    s += (s.empty() ? "" : " ") + std::to_string(h.layer) + "." + std::to_string(h.head);
  }
  return s.empty() ? "none" : s;
}

void saveResults(const DivergenceArgs& a, const analysis::HeadDivergenceResult& r,
                 const analysis::TokenDivergenceResult* tokens, const nlohmann::json& options,
                 const models::TransformerConfig& config) {
  auto c = data::namedColumns(
      {"layer", "head", "vhd", "ta", "relative_vhd", "filtered_vhd", "selected"});
  for (int l = 0; l < config.nLayers; ++l) {
    for (int h = 0; h < config.nHeads[l]; ++h) {
      c[0].integers.push_back(l);
      c[1].integers.push_back(h);
      c[2].reals.push_back(r.vhd(l, h));
      c[3].reals.push_back(r.ta(l, h));
      c[4].reals.push_back(r.relativeVhd(l, h));
      c[5].reals.push_back(r.filteredVhd(l, h));
      c[6].integers.push_back(r.selected(l, h));
    }
  }
  data::writeResultTable(a.save, "head_divergence", a.run, c, options.dump());
  if (!tokens) return;
  auto t = data::namedColumns({"step", "token", "layer", "head", "vhd", "in_top_k", "t_vhd"});
  for (std::size_t s = 0; s < tokens->tokens.size(); ++s) {
    for (int l = 0; l < config.nLayers; ++l) {
      for (int h = 0; h < config.nHeads[l]; ++h) {
        t[0].integers.push_back(static_cast<std::int64_t>(s));
        t[1].integers.push_back(tokens->tokens[s]);
        t[2].integers.push_back(l);
        t[3].integers.push_back(h);
        t[4].reals.push_back(tokens->vhd[s](l, h));
        t[5].integers.push_back(tokens->inTopK[s](l, h));
        t[6].reals.push_back(tokens->tokenDivergence[s]);
      }
    }
  }
  data::writeResultTable(a.save, "token_head_divergence", a.run, t, options.dump());
}

std::string continuationText(const std::vector<std::int64_t>& ids,
                             const models::TransformerConfig& config,
                             const data::Tokenizer* tokenizer) {
  if (tokenizer) return tokenizer->decode(ids);
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : " ") + tokenText(id, config, tokenizer);
  return s;
}

void divergenceCommand(const DivergenceArgs& a, const GlobalOptions& global) {
  configureThreads(global.threads);
  const auto tokenizer = optionalTokenizer(a.folder);
  auto model = loadModel(a.folder, global);
  const auto& config = model->config();
  const auto with = withInput(a, config, tokenizer.get());
  const auto without = withoutInput(a, with, config, tokenizer.get());
  analysis::HeadDivergenceOptions options;
  options.alpha = a.alpha;
  options.layers = parseIntList(a.layers, "--layers");
  options.lockstep = !a.noLockstep;
  const bool followTokens = a.generate > 0 || !a.continuationIds.empty();
  analysis::TokenDivergenceOptions tokenOptions;
  tokenOptions.generate = a.generate;
  tokenOptions.topK = a.topK;
  if (!a.continuationIds.empty()) {
    for (int id : parseIntList(a.continuationIds, "--continuation-ids")) {
      tokenOptions.continuation.push_back(id);
    }
  }

  Progress progress;
  analysis::HeadDivergenceResult r;
  analysis::TokenDivergenceResult tokens;
  std::vector<std::int64_t> reinforced;
  {
    ProgressLine line(progress, global);
    r = analysis::analyseHeadDivergence(*model, with, without, options, progress);
    if (followTokens) {
      tokens = analysis::analyseTokenDivergence(*model, with, without, tokenOptions, progress);
      // VHR: the same number of greedy tokens with the selected heads reinforced.
      models::AppliedMasks applied(*model, analysis::reinforcementMask(r));
      reinforced = analysis::greedyContinuation(*model, with,
                                                static_cast<int>(tokens.tokens.size()), progress);
    }
  }
  const auto masks = analysis::reinforcementMask(r);
  if (!a.saveMask.empty()) {
    models::saveMaskFile(a.saveMask, masks, models::fingerprintOfFolder(a.folder),
                         "head reinforcement (VHR), alpha " + formatNumber(r.alpha) + ", heads " +
                             headsText(r.selectedHeads));
  }

  nlohmann::json described{{"model", a.folder},
                           {"alpha", r.alpha},
                           {"layers", r.layers},
                           {"lockstep", r.lockstep},
                           {"forward_passes", r.forwardPasses}};
  auto selected = nlohmann::json::array();
  for (const auto& h : r.selectedHeads) selected.push_back({h.layer, h.head});
  described["selected_heads"] = selected;
  if (followTokens) {
    described["continuation"] = tokens.tokens;
    described["generated"] = tokens.generated;
    described["top_k"] = tokens.topK;
    described["reinforced_continuation"] = reinforced;
  }
  if (!a.save.empty()) saveResults(a, r, followTokens ? &tokens : nullptr, described, config);

  if (a.json) {
    auto j = described;
    j["vhd"] = matrixJson(r.vhd);
    j["ta"] = matrixJson(r.ta);
    j["relative_vhd"] = matrixJson(r.relativeVhd);
    j["filtered_vhd"] = matrixJson(r.filteredVhd);
    if (followTokens) {
      j["t_vhd"] = tokens.tokenDivergence;
      j["continuation_text"] = continuationText(tokens.tokens, config, tokenizer.get());
      j["reinforced_text"] = continuationText(reinforced, config, tokenizer.get());
      auto steps = nlohmann::json::array();
      for (const auto& m : tokens.vhd) steps.push_back(matrixJson(m));
      j["token_vhd"] = steps;
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("alpha %.3g, analysed layers (L_r):", r.alpha);
  for (int l : r.layers) std::printf(" %d", l);
  std::printf("%s\n\n", r.lockstep ? " (lockstep)" : "");
  std::printf("%5s %4s %12s %12s %9s %12s %s\n", "layer", "head", "VHD", "TA", "VHD/med",
              "filtered", "selected");
  for (int l = 0; l < config.nLayers; ++l) {
    for (int h = 0; h < config.nHeads[l]; ++h) {
      const bool analysed = !std::isnan(r.filteredVhd(l, h));
      std::printf("%5d %4d %12.6g %12.6g %9.3f %12s %s\n", l, h, r.vhd(l, h), r.ta(l, h),
                  r.relativeVhd(l, h), analysed ? std::to_string(r.filteredVhd(l, h)).c_str() : "-",
                  r.selected(l, h) ? "*" : "");
    }
  }
  std::printf("\nselected heads (scale z by %.3g): %s\n", r.alpha,
              headsText(r.selectedHeads).c_str());
  std::printf("%d forward passes\n", r.forwardPasses);
  if (followTokens) {
    std::printf("\n%4s %-16s %10s  top heads\n", "step", "token", "T-VHD");
    for (std::size_t s = 0; s < tokens.tokens.size(); ++s) {
      std::string top;
      for (int l = 0; l < config.nLayers; ++l) {
        for (int h = 0; h < config.nHeads[l]; ++h) {
          if (tokens.inTopK[s](l, h)) {
            top += (top.empty() ? "" : " ") + std::to_string(l) + "." + std::to_string(h);
          }
        }
      }
      std::printf("%4zu %-16s %10.4f  %s\n", s,
                  tokenText(tokens.tokens[s], config, tokenizer.get()).c_str(),
                  tokens.tokenDivergence[s], top.c_str());
    }
    std::printf("\n%s continuation: %s\n", tokens.generated ? "greedy" : "given",
                continuationText(tokens.tokens, config, tokenizer.get()).c_str());
    std::printf("with VHR:            %s\n",
                continuationText(reinforced, config, tokenizer.get()).c_str());
  }
  if (!a.saveMask.empty()) std::printf("mask saved to %s\n", a.saveMask.c_str());
  if (!a.save.empty()) {
    std::printf("saved to %s:/results/head_divergence/%s%s\n", a.save.c_str(), a.run.c_str(),
                followTokens ? " (and /results/token_head_divergence)" : "");
  }
}

}  // namespace

void addAnalyzeDivergenceCommands(CLI::App& analyze, const GlobalOptions& options) {
  auto* cmd = analyze.add_subcommand(
      "head-divergence",
      "head divergence (VHD): how far each head's output moves without a context; selects "
      "heads for reinforcement (VHR) and follows a continuation (T-VHD)");
  auto a = std::make_shared<DivergenceArgs>();
  addModelFolderOption(cmd, a->folder, "model folder")->required();
  cmd->add_option("--prompt", a->prompt, "prompt text (the \"with\" branch)");
  cmd->add_option("--ids,--prompt-ids", a->ids, "prompt token ids, e.g. 1,2,3");
  cmd->add_option("--image,--prompt-image", a->image, "image file (image models)");
  cmd->add_option("--dataset", a->dataset, "take the input from this dataset (with --row)");
  cmd->add_option("--row", a->row, "the dataset row to analyse")->check(CLI::NonNegativeNumber);
  cmd->add_option("--without,--without-prompt", a->without, "replacement prompt text");
  cmd->add_option("--without-ids", a->withoutIds, "replacement token ids");
  cmd->add_option("--without-image", a->withoutImage, "replacement image");
  cmd->add_option("--remove-range", a->removeRange,
                  "A:B: the \"without\" branch is the prompt minus positions A to B - 1");
  cmd->add_option("--blank-image", a->blank,
                  "zero or mean: the \"without\" branch of an image model (default: mean)");
  cmd->add_option("--alpha", a->alpha, "reinforcement factor of the selected heads' z")
      ->capture_default_str();
  cmd->add_option("--layers", a->layers,
                  "layers to select heads in, e.g. 1,9,10,11 (default: 1 and the last 7/16)");
  cmd->add_flag("--no-lockstep", a->noLockstep,
                "measure every layer on the unreinforced model (default: later layers see "
                "earlier selections reinforced)");
  cmd->add_option("--generate", a->generate, "T-VHD over this many greedy tokens")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--continuation-ids", a->continuationIds, "T-VHD over these given tokens");
  cmd->add_option("--top-k", a->topK, "heads per layer summed in T-VHD (default: max(1, H/8))")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--save-mask", a->saveMask, "write the reinforcement as a mask file (JSON)");
  cmd->add_option("--save", a->save, "HDF5 file for /results/head_divergence/RUN");
  cmd->add_option("--run", a->run, "run name under /results/head_divergence")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([&options, a] { divergenceCommand(*a, options); });
}

}  // namespace cs::cli
