// Bias-folded sections of a Transformer for the Local Interaction Basis.
#include "analysis/lib_sections.h"

#include "core/torch_api.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/shape_text.h"
#include "models/attention_core.h"
#include "models/layers.h"

namespace cs::analysis {

using hooks::HookKind;

namespace {

at::Tensor wide(const at::Tensor& t) { return t.defined() ? t.to(at::kCPU, at::kDouble) : t; }

models::NormWeights wide(const models::NormWeights& n) { return {wide(n.weight), wide(n.bias)}; }

// b * c, or nothing for an absent bias.
at::Tensor scaledBias(const at::Tensor& b, const at::Tensor& c) {
  return b.defined() ? c * b : at::Tensor();
}

at::Tensor plus(const at::Tensor& x, const at::Tensor& y) { return y.defined() ? x + y : x; }

}  // namespace

NodeLayer parseNodeLayer(const std::string& name, int nLayers) {
  if (name == "output") return {HookKind::Logits, -1};
  int layer = -1;
  char kind[16] = {0};
  int used = 0;
  if (std::sscanf(name.c_str(), "blocks.%d.hook_resid_%15[a-z]%n", &layer, kind, &used) == 2 &&
      used == static_cast<int>(name.size()) && layer >= 0 && layer < nLayers) {
    const std::string k = kind;
    if (k == "pre") return {HookKind::ResidPre, layer};
    if (k == "mid") return {HookKind::ResidMid, layer};
    if (k == "post") return {HookKind::ResidPost, layer};
  }
  throw ConfigError("node layer \"" + name +
                    "\" is not blocks.L.hook_resid_pre, _mid or _post of a block in [0, " +
                    std::to_string(nLayers) + "), or \"output\"");
}

std::string nodeLayerName(const NodeLayer& node) {
  if (node.kind == HookKind::Logits) return "output";
  return hooks::hookName(node.kind, node.layer);
}

double activationRoot(models::Activation activation) {
  if (activation == models::Activation::Relu) return 1.0;
  torch::AutoGradMode gradients(true);
  double r = 1.0;
  for (int i = 0; i < 60; ++i) {
    const auto x = at::tensor({r}, at::TensorOptions().dtype(at::kDouble)).requires_grad_(true);
    const auto y = models::applyActivation(x, activation);
    const auto g = torch::autograd::grad({y.sum()}, {x})[0];
    const double step = (y.item<double>() - 1.0) / g.item<double>();
    r -= step;
    if (std::abs(step) < 1e-15) break;
  }
  return r;
}

FoldedSections::FoldedSections(const models::Transformer& model, std::int64_t outputPosition)
    : m_config(model.config()),
      m_nLayers(model.config().nLayers),
      m_outputPosition(outputPosition) {
  const auto& w = model.weights();
  m_w.W_E = wide(w.W_E);
  m_w.W_pos = wide(w.W_pos);
  m_w.lnFinal = wide(w.lnFinal);
  m_w.W_U = wide(w.W_U);
  m_w.b_U = wide(w.b_U);
  for (const auto& b : w.blocks) {
    models::BlockWeights c;
    c.ln1 = wide(b.ln1);
    c.ln2 = wide(b.ln2);
    c.attn.nHeads = b.attn.nHeads;
    c.attn.nKvHeads = b.attn.nKvHeads;
    c.attn.dHead = b.attn.dHead;
    c.attn.W_QKV = wide(b.attn.W_QKV);
    c.attn.b_QKV = wide(b.attn.b_QKV);
    c.attn.W_O = wide(b.attn.W_O);
    c.attn.b_O = wide(b.attn.b_O);
    c.mlp.W_in = wide(b.mlp.W_in);
    c.mlp.b_in = wide(b.mlp.b_in);
    c.mlp.W_gate = wide(b.mlp.W_gate);
    c.mlp.W_out = wide(b.mlp.W_out);
    c.mlp.b_out = wide(b.mlp.b_out);
    m_w.blocks.push_back(std::move(c));
  }
  m_root = activationRoot(m_config.activation);
  if (m_config.positions == models::PositionKind::Rotary) {
    m_invFreq = models::rotaryInverseFrequencies(m_config.rope, m_config.dHead);
  }
}

int FoldedSections::streamIndex(const NodeLayer& node) const {
  if (node.kind == HookKind::Logits) return outputIndex();
  if (node.layer < 0 || node.layer >= m_nLayers) {
    throw ConfigError("node layer " + nodeLayerName(node) + " is outside the model's " +
                      std::to_string(m_nLayers) + " blocks");
  }
  switch (node.kind) {
    case HookKind::ResidPre:
      return 2 * node.layer;
    case HookKind::ResidMid:
      return 2 * node.layer + 1;
    case HookKind::ResidPost:
      return 2 * node.layer + 2;
    default:
      throw ConfigError("node layers are residual-stream points or the output");
  }
}

std::int64_t FoldedSections::width(int streamIndex) const {
  return streamIndex == outputIndex() ? m_config.dOutput() : m_config.dModel + 1;
}

at::Tensor FoldedSections::embed(models::Transformer& model,
                                 const models::ModelInput& input) const {
  if (input.attentionMask.defined() && input.attentionMask.eq(0).any().item<bool>()) {
    throw ShapeError("the Local Interaction Basis needs rows of one length: no padding");
  }
  at::Tensor h;
  {
    torch::NoGradGuard noGrad;
    hooks::ScopedHooks scoped(model.hooks());
    scoped.observe({HookKind::ResidPre, 0},
                   [&h](const at::Tensor& x, const hooks::HookPoint&) { h = x.detach(); });
    model.forward(input);
  }
  if (!h.defined()) throw ConfigError("the model has no block to take the embedding from");
  h = h.to(at::kCPU, at::kDouble);
  return at::cat({h, at::ones({h.size(0), h.size(1), 1}, h.options())}, -1);
}

at::Tensor FoldedSections::norm(const at::Tensor& h, const at::Tensor& c,
                                const models::NormWeights& w) const {
  if (m_config.norm == models::NormKind::None) return h;
  at::Tensor x;
  if (m_config.norm == models::NormKind::LayerNorm) {
    const auto centred = h - h.mean(-1, true);
    x = centred * at::rsqrt(centred.pow(2).mean(-1, true) + m_config.normEps);
  } else {
    x = h * at::rsqrt(h.pow(2).mean(-1, true) + m_config.normEps);
  }
  if (w.weight.defined()) x = x * w.weight;
  return plus(x, scaledBias(w.bias, c));
}

at::Tensor FoldedSections::attention(int layer, const at::Tensor& u) const {
  const int64_t D = m_config.dModel;
  const auto h = u.narrow(-1, 0, D);
  const auto c = u.narrow(-1, D, 1);
  if (m_config.skipsAttention(layer)) return u;
  const auto& w = m_w.blocks[layer].attn;
  const int64_t B = u.size(0), T = u.size(1), H = w.nHeads, Hkv = w.nKvHeads, E = w.dHead;
  at::Tensor out;
  if (H == 0) {
    out = at::zeros_like(h);
  } else {
    const auto x = norm(h, c, m_w.blocks[layer].ln1);
    const auto qkv = plus(models::project(x, w.W_QKV), scaledBias(w.b_QKV, c));
    auto q = qkv.narrow(2, 0, H * E).reshape({B, T, H, E});
    auto k = qkv.narrow(2, H * E, Hkv * E).reshape({B, T, Hkv, E});
    const auto v = qkv.narrow(2, (H + Hkv) * E, Hkv * E).reshape({B, T, Hkv, E});
    if (m_invFreq.defined()) {
      const auto positions = at::arange(T, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
      const auto [cos, sin] = models::rotaryTables(positions, m_invFreq, at::kDouble);
      q = models::applyRotary(q, cos, sin);
      k = models::applyRotary(k, cos, sin);
    }
    double scale = 1.0 / std::sqrt(static_cast<double>(E));
    if (m_config.scaleAttnByInverseLayer) scale /= (layer + 1);
    static const std::vector<int> kEven;
    const auto& map = m_config.kvHeadOfQuery.empty() ? kEven : m_config.kvHeadOfQuery[layer];
    auto scores = models::attentionScores(q, k, scale, map);
    if (m_config.causal) {
      auto hidden = at::ones({T, T}, at::TensorOptions().dtype(at::kBool)).triu(1);
      if (m_config.slidingWindow > 0) {
        hidden =
            hidden.logical_or(at::ones({T, T}, hidden.options()).tril(-m_config.slidingWindow));
      }
      scores = scores.masked_fill(hidden, std::numeric_limits<float>::lowest());
    }
    const auto z = models::attentionMix(at::softmax(scores, -1), v, map);
    out = models::project(z.reshape({B, T, H * E}), w.W_O.reshape({H * E, D}));
  }
  out = plus(out, scaledBias(m_w.blocks[layer].attn.b_O, c));
  return at::cat({h + out, c}, -1);
}

at::Tensor FoldedSections::mlp(int layer, const at::Tensor& u) const {
  const int64_t D = m_config.dModel;
  const auto h = u.narrow(-1, 0, D);
  const auto c = u.narrow(-1, D, 1);
  if (m_config.skipsMlp(layer)) return u;
  const auto& w = m_w.blocks[layer].mlp;
  const auto x = norm(h, c, m_w.blocks[layer].ln2);
  at::Tensor out = at::zeros_like(h);
  if (w.W_out.size(0) > 0) {
    const auto up = plus(models::project(x, w.W_in), scaledBias(w.b_in, c));
    const auto post =
        m_config.gatedMlp
            ? models::applyActivation(models::project(x, w.W_gate), m_config.activation) * up
            : models::applyActivation(up, m_config.activation);
    out = models::project(post, w.W_out);
  }
  if (w.b_out.defined()) {
    // The folded constant unit: pre-activation r c, act(r c) = 1 on real data.
    out = out + models::applyActivation(m_root * c, m_config.activation) * w.b_out;
  }
  return at::cat({h + out, c}, -1);
}

at::Tensor FoldedSections::unembed(const at::Tensor& u) const {
  const int64_t D = m_config.dModel;
  auto h = u.narrow(-1, 0, D);
  auto c = u.narrow(-1, D, 1);
  if (m_config.head == models::HeadKind::Classifier) {
    const bool pooled = m_config.input == models::InputKind::Patches && !m_config.classToken;
    if (pooled) {
      h = h.mean(1, true);
      c = c.mean(1, true);
    } else {
      h = h.narrow(1, 0, 1);
      c = c.narrow(1, 0, 1);
    }
  } else {
    const auto T = u.size(1);
    const auto p = m_outputPosition < 0 ? T - 1 : m_outputPosition;
    if (p >= T) {
      throw ConfigError("output position " + std::to_string(p) + " is outside the input's " +
                        std::to_string(T) + " positions");
    }
    h = h.narrow(1, p, 1);
    c = c.narrow(1, p, 1);
  }
  const auto x = norm(h, c, m_w.lnFinal);
  return plus(models::project(x, m_w.W_U), scaledBias(m_w.b_U, c));
}

bool FoldedSections::positionwise(int from, int to) const {
  for (int i = from; i < to; ++i) {
    if (i < 2 * m_nLayers && i % 2 == 0 && !m_config.skipsAttention(i / 2)) return false;
  }
  return true;
}

at::Tensor FoldedSections::run(int from, int to, const at::Tensor& u) const {
  if (from < 0 || to > outputIndex() || from > to) {
    throw ConfigError("section from " + std::to_string(from) + " to " + std::to_string(to) +
                      " does not run forward along the model");
  }
  if (u.dim() != 3 || u.size(2) != width(from)) {
    throw ShapeError("node layer activations: expected [N, P, " + std::to_string(width(from)) +
                     "], got " + shapeText(u.sizes()));
  }
  auto x = u;
  for (int i = from; i < to; ++i) {
    if (i == 2 * m_nLayers) {
      x = unembed(x);
    } else if (i % 2 == 0) {
      x = attention(i / 2, x);
    } else {
      x = mlp(i / 2, x);
    }
  }
  return x;
}

}  // namespace cs::analysis
