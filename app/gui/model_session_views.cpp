// What the viewers show, computed for the window: one layer's attention patterns and a score per
// head. Results are plain std and Eigen data (app/gui/model_session.h).
#include "core/torch_api.h"

#include <cmath>
#include <limits>

#include "analysis/ablation_means.h"
#include "analysis/cka.h"
#include "analysis/head_ablation.h"
#include "analysis/integrated_gradients.h"
#include "analysis/layer_similarity.h"
#include "app/gui/model_session.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/tokenizer.h"
#include "hooks/activation_cache.h"
#include "models/cache_run.h"
#include "models/mask_application.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {

using hooks::HookKind;

Eigen::MatrixXd toMatrix(const at::Tensor& t) {  // [rows, columns] -> Eigen, via float64 on CPU
  const auto c = t.to(at::kDouble).cpu().contiguous();
  Eigen::MatrixXd m(c.size(0), c.size(1));
  const auto* p = c.data_ptr<double>();
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index k = 0; k < m.cols(); ++k) m(r, k) = p[r * m.cols() + k];
  }
  return m;
}

}  // namespace

std::string ModelSession::tokenLabel(std::int64_t id) const {
  if (m_tokenizer) {
    try {
      return m_tokenizer->displayToken(id);
    } catch (const std::exception&) {
      // An id the tokenizer has no text for still gets a label: its number.
    }
  }
  return std::to_string(id);
}

std::vector<std::int64_t> ModelSession::encode(const std::string& text) const {
  if (!m_tokenizer) {
    throw ConfigError("this model folder has no tokenizer; type token ids instead");
  }
  data::requireValidUtf8(text);
  auto ids = m_tokenizer->encode(text);
  if (const auto prefix = m_tokenizer->prefixTokenId()) ids.insert(ids.begin(), *prefix);
  return ids;
}

LayerAttention ModelSession::attention(const std::vector<std::int64_t>& ids, int layer,
                                       const hooks::MaskSet& masks, Progress& progress) {
  const auto& c = m_model->config();
  if (layer < 0 || layer >= c.nLayers) {
    throw ConfigError("layer " + std::to_string(layer) + " is outside 0.." +
                      std::to_string(c.nLayers - 1));
  }
  if (c.skipsAttention(layer)) {
    throw ConfigError("block " + std::to_string(layer) + " has no attention (it is skipped)");
  }
  LayerAttention out;
  out.layer = layer;
  models::ModelInput input;
  if (c.input == models::InputKind::Patches) {
    // Image models: the current image, labelled by patch.
    input = currentImage();
    out.tokens.push_back("CLS");
    for (int p = 0; p < c.nPatches(); ++p) out.tokens.push_back("p" + std::to_string(p));
  } else {
    checkIds(ids);
    input.tokens = torch::tensor(ids, torch::kLong).unsqueeze(0);
    for (const auto id : ids) out.tokens.push_back(tokenLabel(id));
  }
  const auto* means = meansFor(masks, progress);
  progress.setStage("attention of block " + std::to_string(layer));
  c10::InferenceMode guard;
  models::AppliedMasks applied(*m_model, masks, means);
  hooks::ActivationCache cache;
  models::runWithCache(*m_model, input, {hooks::hookName(HookKind::Pattern, layer)}, cache);
  const auto pattern = cache.at(HookKind::Pattern, layer)[0];  // [H, Q, K]
  for (int64_t h = 0; h < pattern.size(0); ++h) out.heads.push_back(toMatrix(pattern[h]));
  if (out.tokens.size() != static_cast<std::size_t>(pattern.size(1))) {
    // A model that prepends positions of its own (a class token without patches): number them.
    out.tokens.clear();
    for (int64_t p = 0; p < pattern.size(1); ++p) out.tokens.push_back(std::to_string(p));
  }
  progress.setFraction(1.0);
  return out;
}

InputAttribution ModelSession::integratedGradients(const std::vector<std::int64_t>& ids,
                                                   const hooks::MaskSet& masks, Progress& progress,
                                                   const IgSettings& settings) {
  const auto& c = m_model->config();
  analysis::IntegratedGradientsOptions options;
  const auto rule = analysis::parseRule(settings.rule);
  if (!rule) {
    throw ConfigError(
        "integrated gradients take the rule gauss-legendre, trapezoid, left-riemann "
        "or gradient, not \"" +
        settings.rule + "\"");
  }
  options.rule = *rule;
  options.steps = settings.steps;
  models::ModelInput input;
  InputAttribution out;
  if (c.input == models::InputKind::Patches) {
    input = currentImage();
  } else {
    checkIds(ids);
    input.tokens = torch::tensor(ids, torch::kLong).unsqueeze(0);
    for (const auto id : ids) out.tokens.push_back(tokenLabel(id));
  }
  const auto* means = meansFor(masks, progress);
  models::AppliedMasks applied(*m_model, masks, means);
  const auto r = analysis::analyseIntegratedGradients(*m_model, input, options, progress);
  out.title = "integrated gradients of " + r.target + " (" + settings.rule + ", " +
              std::to_string(settings.steps) + " steps, " + r.baseline + " baseline; " +
              "completeness error " + std::to_string(r.relativeError * 100.0) + "%)";
  if (c.input == models::InputKind::Patches) {
    out.title += " on " + imageName();
    out.pixelScores = r.perPixel;
    displayImage(input, out.imageWidth, out.imageHeight, out.rgb);
  } else {
    out.tokenScores.assign(r.perToken.data(), r.perToken.data() + r.perToken.size());
  }
  return out;
}

analysis::LayerSimilarityResult ModelSession::layerImportance(
    Progress& progress, const LayerImportanceSettings& settings) {
  const auto& dataset = requireDataset();
  if (settings.rows <= 0 || settings.dropN <= 0) {
    throw ConfigError("layer importance needs at least one row and one module to drop");
  }
  analysis::LayerSimilarityOptions options;
  options.batchSize = evalOptions().batchSize;
  options.limit = settings.rows;
  options.target = analysis::parseDropTarget(settings.target);
  // At most what the target has, so that the curve's last point is a real drop.
  const int modules = options.target == analysis::DropTarget::Sublayers
                          ? 2 * m_model->config().nLayers
                          : m_model->config().nLayers;
  options.dropN = std::min(settings.dropN, modules);
  options.curve = true;
  options.eval = evalOptions();
  return analysis::analyseLayerSimilarity(*m_model, dataset, options, progress);
}

analysis::CkaResult ModelSession::residualCka(Progress& progress, const CkaSettings& settings) {
  const auto& dataset = requireDataset();
  analysis::CkaOptions options;
  options.position = m_model->config().input == models::InputKind::Patches
                         ? analysis::CkaPosition::Cls
                         : analysis::CkaPosition::Last;
  options.batchSize = evalOptions().batchSize;
  if (settings.rows < 2) throw ConfigError("CKA needs at least two rows");
  options.limit = settings.rows;
  return analysis::analyseCka(*m_model, dataset, options, progress);
}

HeadScores ModelSession::headAblation(const hooks::MaskSet& masks, Progress& progress,
                                      const HeadAblationSettings& settings) {
  const auto& dataset = requireDataset();
  const auto* means = meansFor(masks, progress);
  analysis::HeadAblationOptions options;
  options.eval = evalOptions();
  const hooks::AblationMeans* headMeans = nullptr;
  if (settings.mean) {
    options.mode = hooks::AblationMode::Mean;
    // The same means the live metrics use (one pass over the evaluation slice, kept).
    headMeans =
        &m_means->get(*m_model, dataset, {options.eval.batchSize, options.eval.limit}, progress);
  }
  // Each head is ablated on top of what is masked already: the scores answer "what else
  // matters now".
  models::AppliedMasks applied(*m_model, masks, means);
  const auto r = analysis::ablateEachHead(*m_model, dataset, options, headMeans, progress);
  HeadScores scores;
  scores.title = settings.mean ? "accuracy drop when one more head is mean-ablated"
                               : "accuracy drop when one more head is zero-ablated";
  scores.metric = "accuracy drop";
  scores.values = Eigen::MatrixXd::Constant(r.accuracy.rows(), r.accuracy.cols(),
                                            std::numeric_limits<double>::quiet_NaN());
  for (Eigen::Index l = 0; l < r.accuracy.rows(); ++l) {
    for (Eigen::Index h = 0; h < r.accuracy.cols(); ++h) {
      if (std::isfinite(r.accuracy(l, h))) {
        scores.values(l, h) = r.baseline.accuracy - r.accuracy(l, h);
      }
    }
  }
  return scores;
}

}  // namespace cs::gui
