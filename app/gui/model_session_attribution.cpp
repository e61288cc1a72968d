// The window's attribution analyses of one input: direct logit attribution (per path, head and
// attention bias; docs/analyses.md, "analyze dla") and activation patching by head and by
// residual position between the current input and a corrupted one ("analyze patching"). Results
// are plain std and Eigen data (app/gui/model_session.h), so the Qt side never sees libtorch.
#include "core/torch_api.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "analysis/activation_patching.h"
#include "analysis/residual_decomposition.h"
#include "app/gui/model_session.h"
#include "app/gui/number_text.h"
#include "app/gui/session_patching.h"
#include "core/error.h"
#include "models/mask_application.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string logitName(std::int64_t index) { return "logit[" + std::to_string(index) + "]"; }

// u^T logits in words: "logit[58] - logit[12]" or "logit[58]".
std::string directionName(std::int64_t answer, std::int64_t foil) {
  return foil >= 0 ? logitName(answer) + " - " + logitName(foil) : logitName(answer);
}

}  // namespace

LogitAttribution ModelSession::logitAttribution(const std::vector<std::int64_t>& ids,
                                                const hooks::MaskSet& masks, Progress& progress,
                                                const DlaSettings& settings) {
  const auto& c = m_model->config();
  const auto input = singleInput(ids);
  const auto* means = meansFor(masks, progress);
  progress.setStage("direct logit attribution");
  models::AppliedMasks applied(*m_model, masks, means);
  analysis::DecompositionOptions options;
  if (settings.answer >= 0) options.answers = {settings.answer};
  options.answerOnly = !settings.foil;
  options.perHead = true;
  options.views = false;  // the dock shows DLA only; the views cost three readouts per path
  const auto r = analysis::analyseResidualDecomposition(*m_model, input, options, progress);

  LogitAttribution out;
  const auto answer = r.answers.at(0), foil = r.foils.at(0);
  out.direction = directionName(answer, foil);
  const bool classifier = c.head == models::HeadKind::Classifier;
  const auto label = [&](std::int64_t index) {
    return classifier && index < static_cast<std::int64_t>(c.classLabels.size())
               ? "class " + c.classLabels[static_cast<std::size_t>(index)]
               : "token " + tokenLabel(index);
  };
  std::string what = label(answer);
  if (foil >= 0) what += " against " + label(foil);
  const auto position = r.positions.at(0);
  out.title = "direct logit attribution of " + out.direction +
              (position >= 0 ? " at position " + std::to_string(position) : std::string()) + " (" +
              what + ")";
  if (input.pixels.defined()) out.title += " on " + imageName();
  out.directionLogit = r.directionLogit(0);
  out.constant = r.constant(0);
  out.completenessError = r.completenessError;
  out.attentionDla.assign(static_cast<std::size_t>(c.nLayers), 0.0);
  out.mlpDla.assign(static_cast<std::size_t>(c.nLayers), 0.0);
  for (std::size_t p = 0; p < r.paths.size(); ++p) {
    const auto& path = r.paths[p];
    const double dla = r.dla(0, static_cast<Eigen::Index>(p));
    out.paths.push_back(path.name);
    out.pathDla.push_back(dla);
    if (path.layer < 0 || path.layer >= c.nLayers) continue;
    // Depth 2l + 1 is the attention sublayer of block l, 2l + 2 its MLP.
    (path.depth % 2 == 1 ? out.attentionDla : out.mlpDla)[static_cast<std::size_t>(path.layer)] =
        dla;
  }
  if (!r.headDla.empty()) {
    out.heads = r.headDla.front();
  } else {
    out.heads = Eigen::MatrixXd::Constant(c.nLayers, 0, kNaN);
  }
  for (Eigen::Index l = 0; l < r.biasDla.cols(); ++l) out.biasDla.push_back(r.biasDla(0, l));
  progress.setFraction(1.0);
  return out;
}

void ModelSession::checkPatchingPair(const std::vector<std::int64_t>& clean,
                                     const std::vector<std::int64_t>& corrupted,
                                     const std::string& analysis, const std::string& command,
                                     bool sameLength) const {
  if (!isLanguageModel()) {
    throw ConfigError(analysis +
                      " in the window compares two token inputs; for an image model run "
                      "circuitscope-cli analyze " +
                      command + " with --clean-image and --corrupted-image");
  }
  checkIds(clean);
  if (corrupted.empty()) {
    throw ConfigError("type the corrupted input's token ids (as many as the input has)");
  }
  checkIds(corrupted);
  if (sameLength && corrupted.size() != clean.size()) {
    throw ConfigError("the corrupted input has " + std::to_string(corrupted.size()) +
                      " tokens and the input " + std::to_string(clean.size()) + "; " + analysis +
                      " compares positions one by one and needs one length: change tokens "
                      "rather than add or remove them");
  }
}

HeadPatching ModelSession::headPatching(const std::vector<std::int64_t>& clean,
                                        const hooks::MaskSet& masks,
                                        const PatchingSettings& settings, Progress& progress) {
  checkPatchingPair(clean, settings.corrupted, "activation patching", "patching", true);
  const auto& c = m_model->config();
  const auto* means = meansFor(masks, progress);
  models::AppliedMasks applied(*m_model, masks, means);

  const auto pairs = scoredPair(*m_model, clean, settings.corrupted);

  const auto direction =
      settings.noising ? analysis::PatchDirection::Noising : analysis::PatchDirection::Denoising;
  auto headOptions = analysis::patchingOptionsFor(analysis::PatchKind::Heads);
  headOptions.direction = direction;
  progress.setStage("patching every head");
  const auto heads = analysis::analyseActivationPatching(*m_model, pairs, headOptions, progress);

  HeadPatching out;
  out.metric = heads.metric;
  out.direction = heads.direction;
  out.cleanMetric = heads.cleanMetric;
  out.corruptedMetric = heads.corruptedMetric;
  out.scored = heads.scoredPairs > 0;
  out.heads = headGrid(heads, c);
  for (const auto id : clean) out.tokens.push_back(tokenLabel(id));
  if (settings.byPosition) {
    auto residOptions = analysis::patchingOptionsFor(analysis::PatchKind::ResidPre);
    residOptions.direction = direction;
    progress.setStage("patching the residual stream by position");
    const auto resid = analysis::analyseActivationPatching(*m_model, pairs, residOptions, progress);
    out.positions = positionGrid(resid, c, static_cast<Eigen::Index>(clean.size()));
  }
  out.title = "activation patching (" + out.direction + ") of " + out.metric + ": clean " +
              formatNumber(out.cleanMetric) + ", corrupted " + formatNumber(out.corruptedMetric);
  progress.setFraction(1.0);
  return out;
}

}  // namespace cs::gui
