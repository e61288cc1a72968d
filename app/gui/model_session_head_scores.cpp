// The window's per-head analyses that the command line's `analyze` offers: head divergence and
// its reinforcement mask, memory vs context heads with PH3 pruning, attribution patching and
// path patching (docs/analyses.md). Results are plain std and Eigen data
// (app/gui/model_session.h), so the Qt side never sees libtorch. Patching pairs the current input
// (clean) with one corrupted input and scores the metric headPatching uses.
#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/activation_patching.h"
#include "analysis/attribution_patching.h"
#include "analysis/conflict_examples.h"
#include "analysis/head_divergence.h"
#include "analysis/memory_heads.h"
#include "analysis/path_patching.h"
#include "analysis/path_patching_nodes.h"
#include "app/gui/model_session.h"
#include "app/gui/number_text.h"
#include "app/gui/session_patching.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "models/mask_application.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int maxHeads(const models::TransformerConfig& c) {
  return c.nHeads.empty() ? 0 : *std::max_element(c.nHeads.begin(), c.nHeads.end());
}

std::string headLabel(int layer, int head) {
  return std::string("L").append(std::to_string(layer)).append("H").append(std::to_string(head));
}

// --- the conflict examples file of `analyze memory-heads` (docs/analyses.md) ---------------

}  // namespace

HeadDivergence ModelSession::headDivergence(const std::vector<std::int64_t>& ids,
                                            const hooks::MaskSet& masks,
                                            const DivergenceSettings& settings,
                                            Progress& progress) {
  const auto with = singleInput(ids);
  HeadDivergence out;
  models::ModelInput without;
  if (with.pixels.defined()) {
    if (settings.blank != "mean" && settings.blank != "zero") {
      throw ConfigError("the blank image is mean or zero, not \"" + settings.blank + "\"");
    }
    without = analysis::blankImage(
        with, settings.blank == "zero" ? analysis::BlankImage::Zero : analysis::BlankImage::Mean);
    out.without = settings.blank == "zero" ? "a blank image (every normalised pixel 0)"
                                           : "a blank image (each channel's mean)";
  } else if (!settings.without.empty()) {
    checkIds(settings.without);
    without.tokens = torch::tensor(settings.without, torch::kLong).unsqueeze(0);
    out.without = "the replacement input (" + std::to_string(settings.without.size()) + " tokens)";
  } else {
    without = analysis::withoutSegment(with, settings.removeBegin, settings.removeEnd);
    out.without = "the input without positions " + std::to_string(settings.removeBegin) + " to " +
                  std::to_string(settings.removeEnd - 1);
  }
  const auto* means = meansFor(masks, progress);
  models::AppliedMasks applied(*m_model, masks, means);
  analysis::HeadDivergenceOptions options;
  options.alpha = settings.alpha;
  options.layers = settings.layers;
  options.lockstep = settings.lockstep;
  progress.setStage("head divergence");
  out.result = analysis::analyseHeadDivergence(*m_model, with, without, options, progress);
  out.reinforcement = analysis::reinforcementMask(out.result);
  const auto what = with.pixels.defined() ? imageName() : std::string("the input");
  out.title = "head divergence of " + what + " against " + out.without;
  progress.setFraction(1.0);
  return out;
}

MemoryHeads ModelSession::memoryHeads(const MemoryHeadSettings& settings, Progress& progress) {
  if (!isLanguageModel()) {
    throw ConfigError(
        "memory and context heads are found on prompts with conflicting answers: open a "
        "language model (this one " +
        std::string(isImageModel() ? "reads images" : "does not predict tokens") + ")");
  }
  if (settings.examples.empty()) {
    throw ConfigError(
        "choose a conflict examples file: one JSON object per line with a question, a context "
        "and the memory and context answers (docs/analyses.md, \"analyze memory-heads\")");
  }
  if (!(settings.findFraction > 0.0 && settings.findFraction < 1.0)) {
    throw ConfigError("the share of head-finding examples must lie strictly between 0 and 1");
  }
  if (settings.rankBy != "effect" && settings.rankBy != "dla") {
    throw ConfigError("heads are ranked by effect or dla, not \"" + settings.rankBy + "\"");
  }
  if (settings.mode != "context" && settings.mode != "memory") {
    throw ConfigError("the mode is context or memory, not \"" + settings.mode + "\"");
  }
  analysis::MemoryHeadOptions options;
  options.rankBy =
      settings.rankBy == "dla" ? analysis::HeadRanking::Dla : analysis::HeadRanking::Effect;
  options.mode =
      settings.mode == "memory" ? analysis::SteeringMode::Memory : analysis::SteeringMode::Context;
  options.filter = settings.filter;
  options.freezeFinalNorm = settings.frozenNorm;
  options.kGrid = settings.kGrid;
  options.batchSize = settings.batchSize;

  progress.setStage("reading " + settings.examples);
  const auto splits = analysis::readConflictExamples(
      settings.examples, m_model->config().dVocab, m_tokenizer.get(),
      [this](const std::string& text) { return encode(text); }, settings.findFraction);
  progress.setStage("memory and context heads");
  MemoryHeads out;
  out.result = analysis::analyseMemoryHeads(*m_model, splits.find, splits.validation, splits.test,
                                            options, progress);
  for (const auto& h : out.result.prunedHeads) {
    out.pruning.set({hooks::MaskComponent::Head, h.layer, h.head, hooks::AblationMode::Zero});
  }
  out.title = "memory vs context heads on " + std::to_string(out.result.findExamples) +
              " head-finding examples (ranked by " +
              (out.result.rankBy == "dla" ? "|DLA|" : "|effect|") + ")";
  progress.setFraction(1.0);
  return out;
}

AttributionPatching ModelSession::attributionPatching(const std::vector<std::int64_t>& clean,
                                                      const hooks::MaskSet& masks,
                                                      const AttributionPatchingSettings& settings,
                                                      Progress& progress) {
  checkPatchingPair(clean, settings.corrupted, "attribution patching", "attribution-patching",
                    true);
  const auto& c = m_model->config();
  const auto* means = meansFor(masks, progress);
  models::AppliedMasks applied(*m_model, masks, means);
  const auto pairs = scoredPair(*m_model, clean, settings.corrupted);
  const auto direction =
      settings.noising ? analysis::PatchDirection::Noising : analysis::PatchDirection::Denoising;

  auto headOptions = analysis::patchingOptionsFor(analysis::PatchKind::Heads);
  headOptions.direction = direction;
  progress.setStage("attribution patching of every head");
  const auto heads = analysis::analyseAttributionPatching(*m_model, pairs, headOptions, progress);

  AttributionPatching out;
  auto& e = out.estimate;
  e.metric = heads.metric;
  e.direction = heads.direction;
  e.cleanMetric = heads.cleanMetric;
  e.corruptedMetric = heads.corruptedMetric;
  e.scored = heads.scoredPairs > 0;
  e.heads = headGrid(heads, c);
  for (const auto id : clean) e.tokens.push_back(tokenLabel(id));
  if (settings.byPosition) {
    auto residOptions = analysis::patchingOptionsFor(analysis::PatchKind::ResidPre);
    residOptions.direction = direction;
    progress.setStage("attribution patching of the residual stream by position");
    const auto resid =
        analysis::analyseAttributionPatching(*m_model, pairs, residOptions, progress);
    e.positions = positionGrid(resid, c, static_cast<Eigen::Index>(clean.size()));
  }
  if (settings.compare) {
    progress.setStage("activation patching of every head, for comparison");
    const auto exact = analysis::analyseActivationPatching(*m_model, pairs, headOptions, progress);
    out.activationHeads = headGrid(exact, c);
    out.comparison = analysis::comparePatching(heads, exact);
  }
  e.title = "attribution patching (" + e.direction + ") of " + e.metric + ": clean " +
            formatNumber(e.cleanMetric) + ", corrupted " + formatNumber(e.corruptedMetric);
  progress.setFraction(1.0);
  return out;
}

PathPatching ModelSession::pathPatching(const std::vector<std::int64_t>& clean,
                                        const hooks::MaskSet& masks,
                                        const PathPatchingSettings& settings, Progress& progress) {
  // The length is checked below: the direct logits readout accepts two lengths.
  checkPatchingPair(clean, settings.corrupted, "path patching", "path-patching", false);
  analysis::PathPatchingOptions options;
  options.senders = analysis::parsePathSenders(settings.senders);
  options.receivers = analysis::parsePathReceivers(settings.receivers);
  options.direct = !settings.throughMlps;
  options.frozenNorm = settings.frozenNorm;
  options.direction =
      settings.denoising ? analysis::PatchDirection::Denoising : analysis::PatchDirection::Noising;
  const bool onlyLogits =
      std::all_of(options.receivers.begin(), options.receivers.end(), [](const auto& group) {
        return group.size() == 1 && group[0].input == analysis::ReceiverInput::Logits;
      });
  // Only the direct logits readout reads each run at its own last position.
  if (settings.corrupted.size() != clean.size() && !(onlyLogits && options.direct)) {
    throw ConfigError("the corrupted input has " + std::to_string(settings.corrupted.size()) +
                      " tokens and the input " + std::to_string(clean.size()) +
                      "; head and MLP receivers (and paths through MLPs) need one length");
  }
  const auto& c = m_model->config();
  const auto* means = meansFor(masks, progress);
  models::AppliedMasks applied(*m_model, masks, means);
  const auto pairs = scoredPair(*m_model, clean, settings.corrupted);
  progress.setStage("path patching");
  PathPatching out;
  out.result = analysis::analysePathPatching(*m_model, pairs, options, progress);
  for (const auto id : clean) out.tokens.push_back(tokenLabel(id));

  // Senders given by their labels ("L0H3"); the default senders are every head alone.
  std::vector<std::pair<int, int>> singleHeads(out.result.senders.size(), {-1, -1});
  bool anyHead = false;
  for (int l = 0; l < c.nLayers; ++l) {
    for (int h = 0; h < c.nHeads[l]; ++h) {
      const auto label = headLabel(l, h);
      for (std::size_t s = 0; s < out.result.senders.size(); ++s) {
        if (out.result.senders[s] == label) {
          singleHeads[s] = {l, h};
          anyHead = true;
        }
      }
    }
  }
  if (anyHead) {
    for (Eigen::Index g = 0; g < out.result.score.cols(); ++g) {
      Eigen::MatrixXd grid = Eigen::MatrixXd::Constant(c.nLayers, maxHeads(c), kNaN);
      for (std::size_t s = 0; s < singleHeads.size(); ++s) {
        const auto [layer, head] = singleHeads[s];
        if (layer >= 0) grid(layer, head) = out.result.score(static_cast<Eigen::Index>(s), g);
      }
      out.headGrids.push_back(std::move(grid));
    }
  }
  out.title = "path patching (" + out.result.direction + ", " + out.result.mode + ") of " +
              out.result.metric + ": clean " + formatNumber(out.result.cleanMetric) +
              ", corrupted " + formatNumber(out.result.corruptedMetric);
  progress.setFraction(1.0);
  return out;
}

}  // namespace cs::gui
