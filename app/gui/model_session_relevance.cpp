// The window's relevance analyses: layer-wise relevance propagation of one example, relevance-based
// pruning curves over the evaluation set, and the influential neuron path of one example. Results
// are plain std and Eigen data (app/gui/model_session.h), so the Qt side never sees libtorch.
#include "core/torch_api.h"

#include <algorithm>
#include <cstdio>

#include "analysis/neuron_paths.h"
#include "analysis/relevance.h"
#include "analysis/relevance_pruning.h"
#include "app/gui/model_session.h"
#include "app/gui/number_text.h"
#include "core/error.h"
#include "data/dataset.h"
#include "models/mask_application.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {

models::RelevanceRules rulesOf(const RelevanceRuleSettings& s) {
  models::RelevanceRules rules;
  rules.attention = s.cpLrp ? models::AttentionRule::CpLrp : models::AttentionRule::AttnLrp;
  rules.epsilon = s.epsilon;
  rules.gammaLinear = s.gammaLinear;
  rules.gammaPatch = s.gammaPatch;
  return rules;
}

// Rates 0, step, 2 step, ... up to `last` (inclusive up to rounding), as the curves take them.
std::vector<double> ratesOf(double step, double last) {
  if (!(step > 0.0) || !(last >= 0.0) || last > 1.0) {
    throw ConfigError("pruning rates need a step above 0 and a largest rate in [0, 1]");
  }
  std::vector<double> rates;
  for (int i = 0;; ++i) {
    const double rate = i * step;
    if (rate > last + 1e-9) break;
    rates.push_back(std::min(rate, 1.0));
  }
  return rates;
}

analysis::PruneComponent componentOf(PruneUnit unit) {
  return unit == PruneUnit::Neurons ? analysis::PruneComponent::Neurons
                                    : analysis::PruneComponent::Heads;
}

}  // namespace

models::ModelInput ModelSession::singleInput(const std::vector<std::int64_t>& ids) const {
  models::ModelInput input;
  if (m_model->config().input == models::InputKind::Patches) {
    input = currentImage();
  } else {
    checkIds(ids);
    input.tokens = torch::tensor(ids, torch::kLong).unsqueeze(0);
  }
  return input;
}

RelevanceRuleSettings ModelSession::defaultRelevanceRules() const {
  const auto rules = analysis::relevanceRulesFor(*m_model, {});
  RelevanceRuleSettings out;
  out.cpLrp = rules.attention == models::AttentionRule::CpLrp;
  out.epsilon = rules.epsilon;
  out.gammaLinear = rules.gammaLinear;
  out.gammaPatch = rules.gammaPatch;
  return out;
}

InputRelevance ModelSession::relevance(const std::vector<std::int64_t>& ids,
                                       const hooks::MaskSet& masks, Progress& progress,
                                       const std::optional<RelevanceRuleSettings>& rules) {
  const auto& c = m_model->config();
  analysis::RelevanceOptions options;
  if (rules) {
    options.rules = rulesOf(*rules);
    options.rules->validate(c.nLayers);
  }
  const auto input = singleInput(ids);
  const auto* means = meansFor(masks, progress);
  progress.setStage("relevance (LRP)");
  models::AppliedMasks applied(*m_model, masks, means);
  const auto r = analysis::computeRelevance(*m_model, input, options, progress);

  InputRelevance out;
  out.rules = r.rules;
  out.targetLogit = r.targetLogit;
  const bool classifier = c.head == models::HeadKind::Classifier;
  const auto answer = classifier && r.answer < static_cast<std::int64_t>(c.classLabels.size())
                          ? "class " + c.classLabels[static_cast<std::size_t>(r.answer)]
                          : "token " + tokenLabel(r.answer);
  out.target = r.target + " (" + answer + ")";
  out.title = "LRP relevance of " + out.target;
  out.details = out.target + " = " + formatNumber(r.targetLogit) + ", explained with " + r.rules +
                "; relevance reaching the input: " + formatNumber(r.inputTotal);
  out.residualTotals.assign(r.residualTotals.data(),
                            r.residualTotals.data() + r.residualTotals.size());
  out.inputTotal = r.inputTotal;
  out.heads = r.heads;
  out.neurons = r.neurons;
  if (input.pixels.defined()) {
    out.pixelScores = r.pixels;
    displayImage(input, out.imageWidth, out.imageHeight, out.rgb);
    out.details += "; image: " + imageName();
  } else {
    // What enters at each position: its token embedding and its position embedding, so that
    // the chips add up to the conservation chart's input total.
    Eigen::VectorXd perPosition = r.input;
    if (r.positions.size() == perPosition.size()) perPosition += r.positions;
    out.tokenScores.assign(perPosition.data(), perPosition.data() + perPosition.size());
    for (const auto id : ids) out.tokens.push_back(tokenLabel(id));
  }
  progress.setFraction(1.0);
  return out;
}

RelevancePruningCurves ModelSession::relevancePruning(PruneUnit unit, Progress& progress,
                                                      const RelevancePruningSettings& settings) {
  if (settings.perClass <= 0 || settings.referenceRows <= 0) {
    throw ConfigError("relevance pruning needs at least one reference example");
  }
  const auto rates = ratesOf(settings.rateStep, settings.maxRate);
  const auto& dataset = requireDataset();
  const auto& c = m_model->config();
  bool any = false;
  for (int l = 0; l < c.nLayers; ++l) {
    any = any || (unit == PruneUnit::Neurons ? !c.skipsMlp(l) && c.dMlp[l] > 0
                                             : !c.skipsAttention(l) && c.nHeads[l] > 0);
  }
  if (!any) {
    throw ConfigError(m_summary.source + " has no " +
                      (unit == PruneUnit::Neurons ? "MLP neurons" : "attention heads") +
                      " to prune; try the other pruning curve");
  }
  // Checked here so the message can say what to do; scoreByRelevance would refuse it too.
  if (!dataset.batch(0, 1).targets.defined()) {
    throw ConfigError(
        "relevance pruning needs an evaluation set with targets (class labels or next-token "
        "targets at a scored position), and " +
        dataset.describe() +
        " scores every next token instead. Open one with File > Open dataset (e.g. a .jsonl "
        "prompt file, modadd or digits-test)");
  }
  const bool classes = c.head == models::HeadKind::Classifier;
  analysis::RelevanceScoreOptions so;
  so.perClass = classes ? settings.perClass : 0;
  // A limit also for class labels, so that the scan stops once every class has its examples.
  so.limit = classes ? settings.perClass * std::max(1, c.nClasses) : settings.referenceRows;
  if (settings.cpLrp) {
    models::RelevanceRules rules;
    rules.attention = models::AttentionRule::CpLrp;
    so.rules = rules;
  }
  so.batchSize = std::min<std::int64_t>(64, evalOptions().batchSize);
  const auto scores = analysis::scoreByRelevance(*m_model, dataset, so, progress);

  analysis::RelevancePruningOptions po;
  po.component = componentOf(unit);
  po.eval = evalOptions();
  po.rates = rates;
  po.randomBaseline = settings.randomBaseline;
  po.magnitudeBaseline = settings.magnitudeBaseline;
  RelevancePruningCurves out;
  out.unit = unit;
  out.result = analysis::relevancePruningCurves(*m_model, scores, dataset, po, progress);
  out.rules = scores.rules;
  out.referenceExamples = scores.examples;
  out.reference = std::to_string(scores.examples) + " examples of " + scores.dataset;
  out.scores = unit == PruneUnit::Neurons ? scores.neurons : scores.heads;
  out.bits = analysis::allocateBits(scores);
  return out;
}

hooks::MaskSet ModelSession::pruningMask(const RelevancePruningCurves& curves, double rate) {
  return analysis::pruningMask(curves.scores, componentOf(curves.unit), rate,
                               analysis::PruneOrder::LeastRelevantFirst);
}

NeuronPathSummary ModelSession::neuronPath(const std::vector<std::int64_t>& ids,
                                           const hooks::MaskSet& masks, Progress& progress,
                                           const NeuronPathSettings& settings) {
  const auto& c = m_model->config();
  analysis::NeuronPathOptions options;
  options.steps = settings.steps;
  options.topK = settings.topK;
  options.enhanceFactor = settings.enhance;
  if (settings.scoring == "paper" || settings.scoring == "reference") {
    options.scoring = settings.scoring == "paper" ? analysis::NeuronPathScoring::Paper
                                                  : analysis::NeuronPathScoring::Reference;
  } else {
    throw ConfigError("neuron path scoring is paper or reference, not \"" + settings.scoring +
                      "\"");
  }
  if (settings.objective == "probability" || settings.objective == "logit") {
    options.targetKind = settings.objective == "logit" ? analysis::NeuronPathTarget::Logit
                                                       : analysis::NeuronPathTarget::Probability;
  } else {
    throw ConfigError("the neuron path's objective is probability or logit, not \"" +
                      settings.objective + "\"");
  }
  for (int l = 0; l < c.nLayers; ++l) {
    if (!c.skipsMlp(l) && c.dMlp[l] > 0) options.layers.push_back(l);
  }
  if (options.layers.empty()) {
    throw ConfigError(m_summary.source +
                      " has no MLP neurons, and a neuron path runs through MLP layers; open a "
                      "model with MLPs (e.g. builtin:digits-vit or builtin:modadd)");
  }
  const auto input = singleInput(ids);
  const auto* means = meansFor(masks, progress);
  progress.setStage("neuron path");
  models::AppliedMasks applied(*m_model, masks, means);
  const auto r = analysis::findNeuronPath(*m_model, input, options, progress);

  NeuronPathSummary out;
  out.target = r.target;
  out.position = r.position;
  out.layers = r.layers;
  out.path = r.path;
  out.activationPath = r.activationPath;
  out.pathScore = r.pathScore.score;
  out.activationPathScore = r.activationPathScore.score;
  out.enhanceFactor = r.enhanceFactor;
  for (std::size_t i = 0; i < r.layers.size(); ++i) {
    const auto row = static_cast<Eigen::Index>(i);
    const auto width = std::min<Eigen::Index>(c.dMlp[r.layers[i]], r.candidateScores.cols());
    auto& scores = out.candidateScores.emplace_back();
    for (Eigen::Index n = 0; n < width; ++n) scores.push_back(r.candidateScores(row, n));
  }
  const auto& e = r.pathEffect;
  const auto& b = r.activationPathEffect;
  out.title = "neuron path for " + r.target;
  out.details = "JAS " + formatNumber(out.pathScore, 4) + " (activation path " +
                formatNumber(out.activationPathScore, 4) + "). p = " + formatNumber(e.clean) +
                "; with the path removed " + formatNumber(e.removed) + ", enhanced x" +
                formatNumber(r.enhanceFactor, 1) + " " + formatNumber(e.enhanced) +
                " (activation path: " + formatNumber(b.removed) + ", " + formatNumber(b.enhanced) +
                ").";
  if (input.pixels.defined()) out.details += " Image: " + imageName() + ".";
  progress.setFraction(1.0);
  return out;
}

}  // namespace cs::gui
