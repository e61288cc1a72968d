// The explicit rules, applied backwards through activations stored by this file's own forward
// pass. Shapes follow models/transformer.cpp: B = 1, T positions, D width, H heads, E head width.
#include "analysis/relevance_explicit.h"

#include "core/torch_api.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/shape_text.h"
#include "models/layers.h"

namespace cs::analysis {

using models::NormKind;
using models::stabilize;

namespace {

// What the backward pass needs of one normalisation.
struct NormStep {
  at::Tensor input, centred, scaled, output;  // scaled: gamma * x_hat (before + beta)
};

struct AttentionStep {
  at::Tensor q, k, v;          // [T, H, E]
  at::Tensor rawScores;        // [H, T, T] Q K^T * scale, before masking
  at::Tensor scores, pattern;  // [H, T, T] masked scores, probabilities
  at::Tensor z;                // [T, H, E]
  at::Tensor out;              // [T, D] incl. b_O
};

struct MlpStep {
  at::Tensor gatePre, up;  // gated MLPs: x W_gate, x W_in + b_in
  at::Tensor pre, post;    // post = act(pre) (* up when gated)
  at::Tensor out;
};

struct BlockStep {
  at::Tensor residPre, mid, residPost;
  NormStep ln1, ln2;
  AttentionStep attn;
  MlpStep mlp;
  bool attention = false, mlpRuns = false;
};

class ExplicitLrp {
 public:
  ExplicitLrp(models::Transformer& model, const models::RelevanceRules& rules, double eps)
      : m_model(model), m_c(model.config()), m_w(model.weights()), m_rules(rules), m_eps(eps) {}

  RelevanceResult run(const models::ModelInput& input, const RelevanceOptions& options);

 private:
  // epsilon rule on a sum o = a + b: each addend keeps its own share.
  at::Tensor shareOfSum(const at::Tensor& part, const at::Tensor& sum, const at::Tensor& r) const {
    return part * r / stabilize(sum, m_eps);
  }
  at::Tensor linearRule(int layer, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                        const at::Tensor& r) const {
    const double gamma = m_rules.gammaFor(layer);
    return models::gammaRule(x, w, b, r, gamma, gamma > 0.0 ? m_rules.epsilon : m_eps);
  }
  NormStep normForward(const at::Tensor& x, const models::NormWeights& w) const;
  at::Tensor normRule(const NormStep& s, const models::NormWeights& w, const at::Tensor& r) const;
  void attentionForward(int layer, const at::Tensor& x, BlockStep& s) const;
  at::Tensor attentionRule(int layer, const BlockStep& s, const at::Tensor& rOut,
                           at::Tensor& rZ) const;
  void mlpForward(int layer, const at::Tensor& x, BlockStep& s) const;
  at::Tensor mlpRule(int layer, const BlockStep& s, const at::Tensor& rOut,
                     at::Tensor& rPost) const;

  models::Transformer& m_model;
  const models::TransformerConfig& m_c;
  const models::TransformerWeights& m_w;
  models::RelevanceRules m_rules;
  double m_eps;
  at::Tensor m_keyMask;  // [1, T, T] true = hidden, or undefined
};

NormStep ExplicitLrp::normForward(const at::Tensor& x, const models::NormWeights& w) const {
  NormStep s;
  s.input = x;
  if (m_c.norm == NormKind::None) {
    s.centred = s.scaled = s.output = x;
    return s;
  }
  if (m_c.norm == NormKind::LayerNorm) {
    s.centred = x - x.mean(-1, true);
    const auto inv = at::rsqrt(s.centred.pow(2).mean(-1, true) + m_c.normEps);
    s.scaled = s.centred * inv * w.weight;
    s.output = w.bias.defined() ? s.scaled + w.bias : s.scaled;
  } else {
    s.centred = x;
    s.scaled = w.weight * (x * at::rsqrt(x.pow(2).mean(-1, true) + m_c.normEps));
    s.output = s.scaled;
  }
  return s;
}

at::Tensor ExplicitLrp::normRule(const NormStep& s, const models::NormWeights& w,
                                 const at::Tensor& r) const {
  if (m_c.norm == NormKind::None) return r;
  // epsilon rule on + beta, identity on gamma * and on 1 / sigma.
  const auto rScaled = w.bias.defined() ? shareOfSum(s.scaled, s.output, r) : r;
  if (m_c.norm == NormKind::RmsNorm) return rScaled;
  // epsilon rule on the mean subtraction x_c = (I - 1/D) x.
  const auto q = rScaled / stabilize(s.centred, m_eps);
  return s.input * (q - q.mean(-1, true));
}

void ExplicitLrp::attentionForward(int layer, const at::Tensor& x, BlockStep& s) const {
  const auto& w = m_w.blocks[layer].attn;
  const int64_t T = x.size(0), H = w.nHeads, E = w.dHead;
  auto& a = s.attn;
  const auto qkv = models::project(x, w.W_QKV, w.b_QKV);
  a.q = qkv.narrow(1, 0, H * E).view({T, H, E});
  a.k = qkv.narrow(1, H * E, H * E).view({T, H, E});
  a.v = qkv.narrow(1, 2 * H * E, H * E).view({T, H, E});
  double scale = 1.0 / std::sqrt(static_cast<double>(E));
  if (m_c.scaleAttnByInverseLayer) scale /= (layer + 1);
  a.rawScores = at::einsum("the,she->hts", {a.q, a.k}) * scale;
  a.scores = a.rawScores;
  if (m_keyMask.defined()) {
    a.scores = a.rawScores.masked_fill(m_keyMask, std::numeric_limits<float>::lowest());
  }
  a.pattern = at::softmax(a.scores, -1);
  a.z = at::einsum("hts,she->the", {a.pattern, a.v});
  a.out = models::project(a.z.reshape({T, H * E}), w.W_O.view({H * E, m_c.dModel}), w.b_O);
}

at::Tensor ExplicitLrp::attentionRule(int layer, const BlockStep& s, const at::Tensor& rOut,
                                      at::Tensor& rZ) const {
  const auto& w = m_w.blocks[layer].attn;
  const auto& a = s.attn;
  const int64_t T = a.z.size(0), H = w.nHeads, E = w.dHead;
  rZ = linearRule(layer, a.z.reshape({T, H * E}), w.W_O.view({H * E, m_c.dModel}), w.b_O, rOut)
           .view({T, H, E});
  at::Tensor rQ, rK, rV;
  if (m_rules.attention == models::AttentionRule::CpLrp) {
    // The pattern is a constant: z = pattern V is linear in V (epsilon rule).
    const auto share = rZ / stabilize(a.z, m_eps);
    rV = a.v * at::einsum("hts,the->she", {a.pattern, share});
    rQ = at::zeros_like(a.q);
    rK = at::zeros_like(a.k);
  } else {
    // Uniform rule on z = pattern V, then the softmax rule, then the uniform rule on Q K^T.
    const auto share = rZ / stabilize(2.0 * a.z, m_eps);  // [T, H, E]
    const auto rPattern = a.pattern * at::einsum("the,she->hts", {share, a.v});
    rV = a.v * at::einsum("hts,the->she", {a.pattern, share});
    const auto logits = m_keyMask.defined() ? a.scores.masked_fill(m_keyMask, 0.0) : a.scores;
    const auto rScores = logits * (rPattern - a.pattern * rPattern.sum(-1, true));
    double scale = 1.0 / std::sqrt(static_cast<double>(E));
    if (m_c.scaleAttnByInverseLayer) scale /= (layer + 1);
    const auto p = rScores / stabilize(2.0 * a.rawScores, m_eps) * scale;  // [H, T, S]
    rQ = a.q * at::einsum("hts,she->the", {p, a.k});
    rK = a.k * at::einsum("hts,the->she", {p, a.q});
  }
  const auto rQkv =
      at::cat({rQ.reshape({T, H * E}), rK.reshape({T, H * E}), rV.reshape({T, H * E})}, 1);
  return linearRule(layer, s.ln1.output, w.W_QKV, w.b_QKV, rQkv);
}

void ExplicitLrp::mlpForward(int layer, const at::Tensor& x, BlockStep& s) const {
  const auto& w = m_w.blocks[layer].mlp;
  auto& m = s.mlp;
  if (m_c.gatedMlp) {
    m.pre = models::project(x, w.W_gate);
    m.up = models::project(x, w.W_in, w.b_in);
    m.gatePre = models::applyActivation(m.pre, m_c.activation);
    m.post = m.gatePre * m.up;
  } else {
    m.pre = models::project(x, w.W_in, w.b_in);
    m.post = models::applyActivation(m.pre, m_c.activation);
  }
  m.out = models::project(m.post, w.W_out, w.b_out);
}

at::Tensor ExplicitLrp::mlpRule(int layer, const BlockStep& s, const at::Tensor& rOut,
                                at::Tensor& rPost) const {
  const auto& w = m_w.blocks[layer].mlp;
  const auto& m = s.mlp;
  rPost = linearRule(layer, m.post, w.W_out, w.b_out, rOut);
  const auto& x = s.ln2.output;
  if (!m_c.gatedMlp) return linearRule(layer, x, w.W_in, w.b_in, rPost);  // identity on act
  // Uniform rule on act(gate) * up; identity rule through act.
  const auto half = m.gatePre * m.up * rPost / stabilize(2.0 * m.post, m_eps);
  return linearRule(layer, x, w.W_gate, at::Tensor(), half) +
         linearRule(layer, x, w.W_in, w.b_in, half);
}

RelevanceResult ExplicitLrp::run(const models::ModelInput& input, const RelevanceOptions& options) {
  const auto& c = m_c;
  if (c.positions == models::PositionKind::Rotary) {
    throw ConfigError(
        "explicit relevance rules do not support rotary positions; use the "
        "gradient form (computeRelevance)");
  }
  for (int l = 0; l < c.nLayers; ++l) {
    if (c.nKvHeads[l] != c.nHeads[l] || !c.kvHeadOfQuery.empty()) {
      throw ConfigError("explicit relevance rules do not support grouped-query attention");
    }
  }
  if (m_model.hooks().attachedCount() > 0) {
    throw ConfigError("explicit relevance rules ignore hooks; detach them first");
  }
  torch::NoGradGuard noGrad;
  const auto dev = m_model.device();
  const auto dtype = m_model.dtype();
  const bool classifier = c.head == models::HeadKind::Classifier;

  // Embedding.
  at::Tensor embed, flatPatches, patchTokens;  // [T, D]
  at::Tensor pos;
  int64_t rows = 0, cols = 0;
  if (c.input == models::InputKind::Patches) {
    if (!input.pixels.defined() || input.pixels.dim() != 4 || input.pixels.size(0) != 1) {
      throw ShapeError("explicit relevance: pass one image [1, C, H, W]");
    }
    const auto px = input.pixels.to(dev, dtype)[0];
    const int64_t C = c.nChannels, S = c.patchSize;
    rows = px.size(1) / S;
    cols = px.size(2) / S;
    flatPatches = px.narrow(1, 0, rows * S)
                      .narrow(2, 0, cols * S)
                      .reshape({C, rows, S, cols, S})
                      .permute({1, 3, 0, 2, 4})
                      .reshape({rows * cols, C * S * S});
    patchTokens =
        models::project(flatPatches, m_w.W_patch.reshape({c.dModel, C * S * S}).t(), m_w.b_patch);
    embed = c.classToken ? at::cat({m_w.classToken.view({1, -1}), patchTokens}, 0) : patchTokens;
  } else if (input.embeddings.defined()) {
    if (input.embeddings.dim() != 3 || input.embeddings.size(0) != 1) {
      throw ShapeError("explicit relevance: pass one example of embeddings [1, T, D]");
    }
    embed = input.embeddings.to(dev, dtype)[0];
  } else {
    if (!input.tokens.defined() || input.tokens.dim() != 2 || input.tokens.size(0) != 1) {
      throw ShapeError("explicit relevance: pass one row of token ids [1, T]");
    }
    embed = at::embedding(m_w.W_E, input.tokens.to(dev, at::kLong)[0]);
  }
  const int64_t T = embed.size(0);
  at::Tensor positions = at::arange(T, at::TensorOptions(dev).dtype(at::kLong));
  if (input.attentionMask.defined() && c.input == models::InputKind::Tokens) {
    const auto valid = input.attentionMask.to(dev)[0].ne(0);
    positions = (valid.to(at::kLong).cumsum(0) - 1).clamp_min(0);
    m_keyMask = valid.logical_not().view({1, 1, T}).expand({1, T, T});
  }
  if (c.causal) {
    auto hidden = at::ones({T, T}, at::TensorOptions(dev).dtype(at::kBool)).triu(1);
    if (c.slidingWindow > 0) {
      hidden = hidden.logical_or(at::ones({T, T}, hidden.options()).tril(-c.slidingWindow));
    }
    hidden = hidden.unsqueeze(0);
    m_keyMask = m_keyMask.defined() ? m_keyMask.logical_or(hidden) : hidden;
  }
  at::Tensor h = embed;
  if (c.positions == models::PositionKind::Learned) {
    pos = c.input == models::InputKind::Patches ? m_w.W_pos : at::embedding(m_w.W_pos, positions);
    h = embed + pos;
  }

  // Forward, keeping what the rules need.
  std::vector<BlockStep> steps(c.nLayers);
  for (int l = 0; l < c.nLayers; ++l) {
    auto& s = steps[l];
    s.residPre = h;
    s.attention = !c.skipsAttention(l) && c.nHeads[l] > 0;
    s.mid = h;
    if (s.attention) {
      s.ln1 = normForward(h, m_w.blocks[l].ln1);
      attentionForward(l, s.ln1.output, s);
      s.mid = h + s.attn.out;
    }
    s.mlpRuns = !c.skipsMlp(l) && m_w.blocks[l].mlp.W_out.size(0) > 0;
    s.residPost = s.mid;
    if (s.mlpRuns) {
      s.ln2 = normForward(s.mid, m_w.blocks[l].ln2);
      mlpForward(l, s.ln2.output, s);
      s.residPost = s.mid + s.mlp.out;
    }
    h = s.residPost;
  }
  const auto finalNorm = normForward(h, m_w.lnFinal);
  int64_t position = -1;
  at::Tensor readIn;  // [D] what the unembedding reads
  if (classifier) {
    const bool pooled = c.input == models::InputKind::Patches && !c.classToken;
    readIn = pooled ? finalNorm.output.mean(0) : finalNorm.output[0];
  } else {
    position = options.position;
    if (position < -1 || position >= T) {
      throw ConfigError("relevance: position " + std::to_string(position) +
                        " is outside the input's " + std::to_string(T) + " positions");
    }
    if (position < 0) {
      position = T - 1;
      if (input.attentionMask.defined()) {
        const auto real = input.attentionMask[0].nonzero();
        position = real[real.size(0) - 1][0].item<int64_t>();
      }
    }
    readIn = finalNorm.output[position];
  }
  const auto logits = models::project(readIn.unsqueeze(0), m_w.W_U, m_w.b_U)[0];
  int64_t answer = options.target;
  if (answer < -1 || answer >= logits.size(0)) {
    throw ConfigError("relevance: target " + std::to_string(answer) + " is outside [0, " +
                      std::to_string(logits.size(0)) + ")");
  }
  if (answer < 0) answer = logits.argmax().item<int64_t>();

  // Backward with the rules.
  RelevanceResult r;
  r.rules = m_rules.describe() + " (explicit rules)";
  r.answer = answer;
  r.position = position;
  r.target = "logit[" + std::to_string(answer) + "]";
  if (!classifier) r.target += " at position " + std::to_string(position);
  r.targetLogit = logits[answer].item<double>();
  auto rLogits = at::zeros_like(logits);
  rLogits[answer] = logits[answer];
  const auto rReadIn =
      linearRule(-1, readIn.unsqueeze(0), m_w.W_U, m_w.b_U, rLogits.unsqueeze(0))[0];
  auto rFinal = at::zeros_like(finalNorm.output);
  if (classifier && c.input == models::InputKind::Patches && !c.classToken) {
    // The mean is linear: each position keeps its own share (epsilon rule).
    rFinal = finalNorm.output / static_cast<double>(T) * (rReadIn / stabilize(readIn, m_eps));
  } else {
    rFinal[classifier ? 0 : position] = rReadIn;
  }
  auto rH = normRule(finalNorm, m_w.lnFinal, rFinal);

  int maxF = 0, maxH = 0;
  for (int l = 0; l < c.nLayers; ++l) {
    maxF = std::max(maxF, c.dMlp[l]);
    maxH = std::max(maxH, c.nHeads[l]);
  }
  r.neurons = Eigen::MatrixXd::Constant(c.nLayers, maxF, std::numeric_limits<double>::quiet_NaN());
  r.heads = Eigen::MatrixXd::Constant(c.nLayers, maxH, std::numeric_limits<double>::quiet_NaN());
  r.residual.resize(c.nLayers > 0 ? c.nLayers + 1 : 0, T);
  const auto perPosition = [](const at::Tensor& t) {
    const auto v = t.sum(-1).to(at::kCPU, at::kDouble).contiguous();
    return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(v.data_ptr<double>(), v.numel()));
  };
  const auto toRow = [](const at::Tensor& t) {
    const auto v = t.to(at::kCPU, at::kDouble).contiguous();
    return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(v.data_ptr<double>(), v.numel()));
  };
  if (c.nLayers > 0) r.residual.row(c.nLayers) = perPosition(rH).transpose();
  for (int l = c.nLayers - 1; l >= 0; --l) {
    const auto& s = steps[l];
    auto rMid = rH;
    if (s.mlpRuns) {
      const auto rOut = shareOfSum(s.mlp.out, s.residPost, rH);
      rMid = shareOfSum(s.mid, s.residPost, rH);
      at::Tensor rPost;
      const auto rNormed = mlpRule(l, s, rOut, rPost);
      rMid = rMid + normRule(s.ln2, m_w.blocks[l].ln2, rNormed);
      const auto row = toRow(rPost.sum(0));
      r.neurons.row(l).head(row.size()) = row.transpose();
    }
    rH = rMid;
    if (s.attention) {
      const auto rOut = shareOfSum(s.attn.out, s.mid, rMid);
      rH = shareOfSum(s.residPre, s.mid, rMid);
      at::Tensor rZ;
      const auto rNormed = attentionRule(l, s, rOut, rZ);
      rH = rH + normRule(s.ln1, m_w.blocks[l].ln1, rNormed);
      const auto row = toRow(rZ.sum(at::IntArrayRef{0, 2}));
      r.heads.row(l).head(row.size()) = row.transpose();
    }
    r.residual.row(l) = perPosition(rH).transpose();
  }
  r.residualTotals = r.residual.rowwise().sum();

  at::Tensor rEmbed = rH;
  if (pos.defined()) {
    rEmbed = shareOfSum(embed, embed + pos, rH);
    r.positions = perPosition(shareOfSum(pos, embed + pos, rH));
  }
  r.input = perPosition(rEmbed);
  r.inputTotal = r.input.sum() + (r.positions.size() > 0 ? r.positions.sum() : 0.0);
  if (flatPatches.defined()) {
    const auto rTokens = c.classToken ? rEmbed.narrow(0, 1, rows * cols) : rEmbed;
    const auto rFlat = models::gammaRule(flatPatches, m_w.W_patch.reshape({c.dModel, -1}).t(),
                                         m_w.b_patch, rTokens, m_rules.gammaPatch,
                                         m_rules.gammaPatch > 0.0 ? m_rules.epsilon : m_eps);
    const int64_t C = c.nChannels, S = c.patchSize;
    const auto image = rFlat.view({rows, cols, C, S, S})
                           .permute({2, 0, 3, 1, 4})
                           .reshape({C, rows * S, cols * S})
                           .sum(0)
                           .to(at::kCPU, at::kDouble)
                           .contiguous();
    Eigen::MatrixXd pixels = Eigen::MatrixXd::Zero(input.pixels.size(2), input.pixels.size(3));
    pixels.topLeftCorner(rows * S, cols * S) =
        Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
            image.data_ptr<double>(), rows * S, cols * S);
    r.pixels = pixels;
  }
  return r;
}

}  // namespace

RelevanceResult explicitRelevance(models::Transformer& model, const models::ModelInput& input,
                                  const RelevanceOptions& options, double epsilon) {
  const auto rules = relevanceRulesFor(model, options);
  rules.validate(model.config().nLayers);
  if (!(epsilon > 0.0)) throw ConfigError("explicit relevance: epsilon must be > 0");
  ExplicitLrp lrp(model, rules, epsilon);
  return lrp.run(input, options);
}

}  // namespace cs::analysis
