// Relevance propagation in gradient-times-input form: the rules live in the model's forward
// (models/relevance_rules.h); this file runs the pass, reads t * grad at hook points and
// assembles the per-layer, per-neuron and per-head views.
#include "analysis/relevance.h"

#include "core/torch_api.h"

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/shape_text.h"

namespace cs::analysis {

using hooks::HookKind;
using hooks::HookPoint;

namespace {

// Sets the rules for the scope of one pass and restores what was set before, also on error.
class RulesScope {
 public:
  RulesScope(models::Transformer& model, const models::RelevanceRules& rules)
      : m_model(model), m_previous(model.relevanceRules()) {
    model.setRelevanceRules(rules);
  }
  ~RulesScope() { m_model.setRelevanceRules(m_previous); }
  RulesScope(const RulesScope&) = delete;
  RulesScope& operator=(const RulesScope&) = delete;

 private:
  models::Transformer& m_model;
  std::optional<models::RelevanceRules> m_previous;
};

Eigen::VectorXd toVector(const at::Tensor& t) {
  const auto c = t.detach().to(at::kCPU, at::kDouble).contiguous();
  return Eigen::Map<const Eigen::VectorXd>(c.data_ptr<double>(), c.numel());
}

Eigen::MatrixXd nanMatrix(Eigen::Index rows, Eigen::Index cols) {
  return Eigen::MatrixXd::Constant(rows, cols, std::numeric_limits<double>::quiet_NaN());
}

std::int64_t resolvePosition(const models::ModelInput& input, std::int64_t requested,
                             std::int64_t tokens) {
  if (requested >= tokens || requested < -1) {
    throw ConfigError("relevance: position " + std::to_string(requested) +
                      " is outside the input's " + std::to_string(tokens) + " positions");
  }
  if (requested >= 0) return requested;
  if (input.attentionMask.defined()) {
    const auto real = input.attentionMask[0].nonzero();
    if (real.size(0) == 0) throw ConfigError("relevance: the attention mask hides every token");
    return real[real.size(0) - 1][0].item<std::int64_t>();
  }
  return tokens - 1;
}

}  // namespace

models::RelevanceRules relevanceRulesFor(const models::Transformer& model,
                                         const RelevanceOptions& options) {
  if (options.rules) return *options.rules;
  return model.config().input == models::InputKind::Patches ? models::visionRelevanceRules()
                                                            : models::languageModelRelevanceRules();
}

RelevancePass runRelevancePass(models::Transformer& model, const models::ModelInput& input,
                               const models::RelevanceRules& rules,
                               const std::vector<HookPoint>& points,
                               const std::function<at::Tensor(const at::Tensor&)>& objective) {
  RulesScope scope(model, rules);
  torch::AutoGradMode gradients(true);
  auto run = input;
  const bool image = model.config().input == models::InputKind::Patches;
  if (image && input.pixels.defined()) {
    run.pixels = input.pixels.to(model.device(), model.dtype()).detach().requires_grad_(true);
  }
  std::vector<at::Tensor> captured(points.size());
  hooks::ScopedHooks hooks(model.hooks());
  // The embeddings and position embeddings come from weights that need no gradient: made
  // leaves, they start the graph, and their t * grad is the input's relevance. Image models
  // keep the graph from the pixels.
  for (const auto kind : {HookKind::Embed, HookKind::PosEmbed}) {
    if (image && kind == HookKind::Embed) continue;
    hooks.add({kind, -1}, [](const at::Tensor& x, const HookPoint&) -> std::optional<at::Tensor> {
      return x.detach().requires_grad_(true);
    });
  }
  for (std::size_t i = 0; i < points.size(); ++i) {
    hooks.observe(points[i],
                  [&captured, i](const at::Tensor& x, const HookPoint&) { captured[i] = x; });
  }
  const auto logits = model.forward(run);
  const auto scalar = objective(logits);
  if (scalar.numel() != 1) throw ConfigError("relevance: the objective must be one number");

  std::vector<at::Tensor> inputs;
  for (const auto& t : captured) {
    if (t.defined() && t.requires_grad()) inputs.push_back(t);
  }
  if (run.pixels.defined()) inputs.push_back(run.pixels);
  std::vector<at::Tensor> grads;
  if (!inputs.empty()) {
    grads = torch::autograd::grad({scalar}, inputs, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                  /*create_graph=*/false, /*allow_unused=*/true);
  }

  RelevancePass pass;
  pass.logits = logits.detach();
  std::size_t next = 0;
  const auto relevanceOf = [&](const at::Tensor& t) {
    const auto& g = grads[next++];
    return g.defined() ? t.detach() * g : at::zeros_like(t.detach());
  };
  for (const auto& t : captured) {
    if (!t.defined()) {
      pass.relevance.emplace_back();
    } else if (!t.requires_grad()) {
      pass.relevance.push_back(at::zeros_like(t));  // nothing reaches it (e.g. CP-LRP's pattern)
    } else {
      pass.relevance.push_back(relevanceOf(t));
    }
  }
  if (run.pixels.defined()) pass.pixels = relevanceOf(run.pixels);
  return pass;
}

RelevanceResult computeRelevance(models::Transformer& model, const models::ModelInput& input,
                                 const RelevanceOptions& options, Progress& progress) {
  const auto& c = model.config();
  const bool classifier = c.head == models::HeadKind::Classifier;
  const auto rules = relevanceRulesFor(model, options);
  rules.validate(c.nLayers);
  const auto& first = input.pixels.defined()       ? input.pixels
                      : input.embeddings.defined() ? input.embeddings
                                                   : input.tokens;
  if (!first.defined() || first.dim() < 2 || first.size(0) != 1) {
    throw ShapeError("relevance explains one example: pass a batch of 1" +
                     (first.defined() ? ", got " + shapeText(first.sizes()) : std::string()));
  }
  progress.setStage("relevance: forward and backward pass");
  progress.check();

  RelevanceResult r;
  r.rules = rules.describe();
  const int L = c.nLayers;
  std::vector<HookPoint> points{{HookKind::Embed, -1}};
  const bool learnedPositions = c.positions == models::PositionKind::Learned;
  if (learnedPositions) points.push_back({HookKind::PosEmbed, -1});
  for (int l = 0; l < L; ++l) points.push_back({HookKind::ResidPre, l});
  if (L > 0) points.push_back({HookKind::ResidPost, L - 1});
  std::vector<int> mlpSlot(L, -1), headSlot(L, -1);
  for (int l = 0; l < L; ++l) {
    if (!c.skipsMlp(l)) {
      mlpSlot[l] = static_cast<int>(points.size());
      points.push_back({HookKind::MlpPost, l});
    }
    if (!c.skipsAttention(l) && c.nHeads[l] > 0) {
      headSlot[l] = static_cast<int>(points.size());
      points.push_back({HookKind::Z, l});
    }
  }

  std::int64_t answer = options.target;
  std::int64_t position = -1;
  const auto pick = [&](const at::Tensor& logits) {
    at::Tensor row = logits[0];
    if (!classifier) {
      position = resolvePosition(input, options.position, logits.size(1));
      row = row[position];
    }
    if (answer < -1 || answer >= row.size(0)) {
      throw ConfigError("relevance: target " + std::to_string(answer) + " is outside [0, " +
                        std::to_string(row.size(0)) + ")");
    }
    if (answer < 0) answer = row.detach().argmax().item<std::int64_t>();
    return row[answer];
  };
  const auto pass = runRelevancePass(model, input, rules, points, pick);

  r.answer = answer;
  r.position = position;
  r.target = "logit[" + std::to_string(answer) + "]";
  if (!classifier) r.target += " at position " + std::to_string(position);
  r.targetLogit =
      (classifier ? pass.logits[0][answer] : pass.logits[0][position][answer]).item<double>();

  const auto perPosition = [](const at::Tensor& t) { return toVector(t[0].sum(-1)); };
  std::size_t slot = 0;
  r.input = perPosition(pass.relevance[slot++]);
  r.inputTotal = r.input.sum();
  if (learnedPositions) {
    r.positions = perPosition(pass.relevance[slot++]);
    r.inputTotal += r.positions.sum();
  }
  const auto T = r.input.size();
  r.residual.resize(L > 0 ? L + 1 : 0, T);
  for (int l = 0; l <= L && L > 0; ++l)
    r.residual.row(l) = perPosition(pass.relevance[slot++]).transpose();
  r.residualTotals = r.residual.rowwise().sum();

  int maxF = 0, maxH = 0;
  for (int l = 0; l < L; ++l) {
    maxF = std::max(maxF, c.dMlp[l]);
    maxH = std::max(maxH, c.nHeads[l]);
  }
  r.neurons = nanMatrix(L, maxF);
  r.heads = nanMatrix(L, maxH);
  for (int l = 0; l < L; ++l) {
    if (mlpSlot[l] >= 0) {
      const auto v = toVector(pass.relevance[mlpSlot[l]][0].sum(0));
      r.neurons.row(l).head(v.size()) = v.transpose();
    }
    if (headSlot[l] >= 0) {
      const auto v =
          toVector(pass.relevance[headSlot[l]][0].sum(at::IntArrayRef{0, 2}));  // z [T, H, E]
      r.heads.row(l).head(v.size()) = v.transpose();
    }
  }
  if (pass.pixels.defined()) {
    const auto p = pass.pixels[0].sum(0).to(at::kCPU, at::kDouble).contiguous();  // [H, W]
    r.pixels =
        Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
            p.data_ptr<double>(), p.size(0), p.size(1));
  }
  progress.setFraction(1.0);
  return r;
}

}  // namespace cs::analysis
