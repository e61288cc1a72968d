// Transformer forward pass. Each step fires its hook point; with nothing attached a point costs
// one branch. hook_result is computed only when something is attached to it.
#include "models/transformer.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/shape_text.h"
#include "core/threads.h"
#include "models/attention_core.h"
#include "models/forward_memory.h"
#include "models/layers.h"

namespace cs::models {

using hooks::HookKind;

namespace {

void expectShape(const at::Tensor& t, const std::vector<int64_t>& shape, const std::string& name,
                 bool optional = false) {
  if (!t.defined()) {
    if (optional) return;
    throw ShapeError("weight " + name + " is missing; expected " + shapeText(shape));
  }
  if (t.sizes() != at::IntArrayRef(shape)) {
    throw ShapeError("weight " + name + ": expected " + shapeText(shape) + ", got " +
                     shapeText(t.sizes()));
  }
}
// The value hidden keys get: float32's lowest finite value, or the dtype's own where float32's
// does not fit (float16, bfloat16), since filling a half tensor with it overflows.
double maskedScore(at::ScalarType type) {
  double lowest = 0.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, type, "maskedScore", [&] {
    lowest = static_cast<double>(std::numeric_limits<scalar_t>::lowest());
  });
  return std::max(lowest, static_cast<double>(std::numeric_limits<float>::lowest()));
}

}  // namespace

struct Transformer::Context {
  int64_t batch = 0;
  int64_t tokens = 0;
  at::Tensor keyMask;   // [B or 1, 1, T, T] bool, true = hidden; undefined if nothing hidden
  at::Tensor cos, sin;  // [B, T, 1, E] rotary tables
};

Transformer::Transformer(TransformerConfig config, TransformerWeights weights)
    : m_config(std::move(config)), m_weights(std::move(weights)), m_hooks(m_config.nLayers) {
  ensureThreadsConfigured();
  m_config.validate();
  checkShapes();
  if (m_config.positions == PositionKind::Rotary) {
    m_invFreq = rotaryInverseFrequencies(m_config.rope, m_config.dHead).to(device());
  }
}

void Transformer::checkShapes() const {
  const auto& c = m_config;
  const auto& w = m_weights;
  const int64_t D = c.dModel, E = c.dHead;
  if (c.input == InputKind::Tokens) {
    expectShape(w.W_E, {c.dVocab, D}, "embed.W_E");
  } else {
    expectShape(w.W_patch, {D, c.nChannels, c.patchSize, c.patchSize}, "embed.W_patch");
    expectShape(w.b_patch, {D}, "embed.b_patch");
    if (c.classToken) expectShape(w.classToken, {D}, "embed.class_token");
  }
  if (c.positions == PositionKind::Learned) {
    const int64_t P = c.input == InputKind::Patches ? c.nImageTokens() : c.nCtx;
    expectShape(w.W_pos, {P, D}, "pos_embed.W_pos");
  }
  if (static_cast<int>(w.blocks.size()) != c.nLayers) {
    throw ShapeError("weights hold " + std::to_string(w.blocks.size()) + " blocks, config says " +
                     std::to_string(c.nLayers));
  }
  // NormKind::None has no weights at all; RMSNorm has no biases.
  const bool normed = c.hasNormWeights();
  const bool ln = c.norm == NormKind::LayerNorm;
  for (int l = 0; l < c.nLayers; ++l) {
    const auto& b = w.blocks[l];
    const std::string p = "blocks." + std::to_string(l) + ".";
    const int64_t H = c.nHeads[l], Hkv = c.nKvHeads[l], F = c.dMlp[l];
    if (b.attn.nHeads != H || b.attn.nKvHeads != Hkv || b.attn.dHead != E) {
      throw ShapeError(p + "attn: head counts differ from the config");
    }
    if (normed) expectShape(b.ln1.weight, {D}, p + "ln1.w");
    if (ln) expectShape(b.ln1.bias, {D}, p + "ln1.b");
    expectShape(b.attn.W_QKV, {D, (H + 2 * Hkv) * E}, p + "attn.W_QKV");
    if (c.qkvBias) expectShape(b.attn.b_QKV, {(H + 2 * Hkv) * E}, p + "attn.b_QKV");
    expectShape(b.attn.W_O, {H, E, D}, p + "attn.W_O");
    if (c.attnOutBias) expectShape(b.attn.b_O, {D}, p + "attn.b_O");
    if (normed) expectShape(b.ln2.weight, {D}, p + "ln2.w");
    if (ln) expectShape(b.ln2.bias, {D}, p + "ln2.b");
    expectShape(b.mlp.W_in, {D, F}, p + "mlp.W_in");
    if (c.mlpBias) expectShape(b.mlp.b_in, {F}, p + "mlp.b_in");
    if (c.gatedMlp) expectShape(b.mlp.W_gate, {D, F}, p + "mlp.W_gate");
    expectShape(b.mlp.W_out, {F, D}, p + "mlp.W_out");
    if (c.mlpBias) expectShape(b.mlp.b_out, {D}, p + "mlp.b_out");
  }
  if (normed) expectShape(w.lnFinal.weight, {D}, "ln_final.w");
  if (ln) expectShape(w.lnFinal.bias, {D}, "ln_final.b");
  expectShape(w.W_U, {D, c.dOutput()}, "unembed.W_U");
  if (c.unembedBias) expectShape(w.b_U, {c.dOutput()}, "unembed.b_U");
}

std::vector<hooks::HookPoint> Transformer::hookPoints() const {
  auto points = hooks::allHookPoints(m_config.nLayers);
  // Only the points a forward pass fires: a skipped sublayer fires none of its own.
  std::erase_if(points, [&](const hooks::HookPoint& p) {
    switch (p.kind) {
      case HookKind::PosEmbed:
        return m_config.positions != PositionKind::Learned;
      case HookKind::Ln1Normalized:
      case HookKind::Q:
      case HookKind::K:
      case HookKind::V:
      case HookKind::AttnScores:
      case HookKind::Pattern:
      case HookKind::Z:
      case HookKind::Result:
      case HookKind::AttnOut:
        return m_config.skipsAttention(p.layer);
      case HookKind::Ln2Normalized:
      case HookKind::MlpPre:
      case HookKind::MlpPost:
      case HookKind::MlpOut:
        return m_config.skipsMlp(p.layer);
      default:
        return false;
    }
  });
  return points;
}

// W_U exists in every model (a view of W_E when tied); the norms may have no weights.
c10::Device Transformer::device() const { return m_weights.W_U.device(); }
at::ScalarType Transformer::dtype() const { return m_weights.W_U.scalar_type(); }

void Transformer::to(c10::Device device, at::ScalarType dtype) {
  const bool tied = m_weights.W_U.defined() && m_weights.W_E.defined() &&
                    m_weights.W_U.is_alias_of(m_weights.W_E);
  auto move = [&](at::Tensor& t) {
    if (t.defined()) t = t.to(device, dtype);
  };
  auto& w = m_weights;
  for (auto* t : {&w.W_E, &w.W_pos, &w.W_patch, &w.b_patch, &w.classToken, &w.lnFinal.weight,
                  &w.lnFinal.bias, &w.b_U}) {
    move(*t);
  }
  for (auto& b : w.blocks) {
    for (auto* t : {&b.ln1.weight, &b.ln1.bias, &b.attn.W_QKV, &b.attn.b_QKV, &b.attn.W_O,
                    &b.attn.b_O, &b.ln2.weight, &b.ln2.bias, &b.mlp.W_in, &b.mlp.b_in,
                    &b.mlp.W_gate, &b.mlp.W_out, &b.mlp.b_out}) {
      move(*t);
    }
  }
  if (tied) {
    w.W_U = w.W_E.t();
  } else {
    move(w.W_U);
  }
  if (m_invFreq.defined()) m_invFreq = m_invFreq.to(device);
}

at::Tensor Transformer::forward(const ModelInput& input) {
  if (device().is_cpu()) {
    // A batch far too large for the machine: refused before anything is allocated.
    const bool image = m_config.input == InputKind::Patches;
    const auto& rows = image ? input.pixels : input.tokens;
    if (rows.defined() && rows.dim() >= 2)
      requireForwardMemory(m_config, rows.size(0), image ? m_config.nImageTokens() : rows.size(1),
                           static_cast<std::int64_t>(c10::elementSize(dtype())));
  }
  Context ctx;
  auto x = embed(input, ctx);  // [B, T, D]
  for (int layer = 0; layer < m_config.nLayers; ++layer) x = block(layer, std::move(x), ctx);
  x = norm(x, m_weights.lnFinal);
  x = m_hooks.fire(HookKind::LnFinalNormalized, -1, std::move(x));
  return m_hooks.fire(HookKind::Logits, -1, unembed(std::move(x)));
}

at::Tensor Transformer::embed(const ModelInput& input, Context& ctx) {
  const auto& c = m_config;
  const auto dev = device();
  at::Tensor x;  // [B, T, D]
  if (c.input == InputKind::Patches) {
    if (!input.pixels.defined()) {
      throw ShapeError(input.tokens.defined()
                           ? "this is an image model: it takes pixel values, not token ids"
                           : "this is an image model: pass pixel values");
    }
    const auto& px = input.pixels;
    if (px.dim() != 4 || px.size(1) != c.nChannels || px.size(2) != c.imageSize ||
        px.size(3) != c.imageSize) {
      throw ShapeError("pixel values: expected [batch, " + std::to_string(c.nChannels) + ", " +
                       std::to_string(c.imageSize) + ", " + std::to_string(c.imageSize) +
                       "], got " + shapeText(px.sizes()));
    }
    const auto pixels = px.to(dev, dtype());
    const auto tokens = embedPatches(pixels);  // [B, N, D]
    if (c.classToken) {
      const auto cls = m_weights.classToken.view({1, 1, -1}).expand({pixels.size(0), 1, c.dModel});
      x = at::cat({cls, tokens}, 1);
    } else {
      x = tokens;
    }
  } else if (input.embeddings.defined()) {
    const auto& e = input.embeddings;
    if (e.dim() != 3 || e.size(2) != c.dModel) {
      throw ShapeError("input embeddings: expected [batch, pos, " + std::to_string(c.dModel) +
                       "], got " + shapeText(e.sizes()));
    }
    x = e.to(dev, dtype());
  } else {
    if (!input.tokens.defined()) {
      throw ShapeError(input.pixels.defined()
                           ? "this is a language model: it takes token ids, not images"
                           : "this is a language model: pass token ids");
    }
    const auto& ids = input.tokens;
    if (ids.dim() != 2 || ids.size(1) == 0) {
      throw ShapeError("token ids: expected [batch, pos] with pos > 0, got " +
                       shapeText(ids.sizes()));
    }
    if (at::isFloatingType(ids.scalar_type())) throw ShapeError("token ids must be integers");
    const auto ids64 = ids.to(dev, at::kLong);
    if (ids64.numel() > 0) {
      // One reduction (and one device sync) for both bounds.
      const auto [minimum, maximum] = at::aminmax(ids64);
      const auto lo = minimum.item<int64_t>(), hi = maximum.item<int64_t>();
      if (lo < 0 || hi >= c.dVocab) {
        throw ShapeError("token id " + std::to_string(lo < 0 ? lo : hi) +
                         " is outside the vocabulary [0, " + std::to_string(c.dVocab) + ")");
      }
    }
    x = at::embedding(m_weights.W_E, ids64);
  }
  const auto positions = prepareContext(input, x.size(0), x.size(1), ctx);
  x = m_hooks.fire(HookKind::Embed, -1, std::move(x));
  if (c.positions == PositionKind::Learned) {
    at::Tensor pos;  // [B or 1, T, D]
    if (c.input == InputKind::Patches) {
      pos = m_weights.W_pos.unsqueeze(0);
    } else {
      pos = at::embedding(m_weights.W_pos, positions);
    }
    pos = pos.expand({ctx.batch, ctx.tokens, c.dModel});
    pos = m_hooks.fire(HookKind::PosEmbed, -1, std::move(pos));
    x = x + pos;
  }
  return x;
}

at::Tensor Transformer::prepareContext(const ModelInput& input, int64_t batch, int64_t tokens,
                                       Context& ctx) const {
  const auto& c = m_config;
  const auto dev = device();
  ctx.batch = batch;
  ctx.tokens = tokens;
  at::Tensor positions;  // [B, T] int64, for learned or rotary positions
  if (c.input == InputKind::Tokens && input.attentionMask.defined()) {
    const auto& m = input.attentionMask;
    if (m.sizes() != at::IntArrayRef({batch, tokens})) {
      throw ShapeError("attention mask: expected " + shapeText({batch, tokens}) + ", got " +
                       shapeText(m.sizes()));
    }
    const auto valid = m.to(dev).ne(0);  // [B, T]
    // Positions count real tokens only, so a left-padded row sees the same positions as
    // the unpadded row.
    positions = (valid.to(at::kLong).cumsum(1) - 1).clamp_min(0);
    ctx.keyMask = valid.logical_not().view({batch, 1, 1, tokens});
  }
  if (!positions.defined())
    positions = at::arange(tokens, at::TensorOptions(dev).dtype(at::kLong)).unsqueeze(0);
  if (c.causal) {
    const int64_t T = tokens;
    auto hidden = at::ones({T, T}, at::TensorOptions(dev).dtype(at::kBool)).triu(1);
    if (c.slidingWindow > 0) {
      hidden = hidden.logical_or(at::ones({T, T}, hidden.options()).tril(-c.slidingWindow));
    }
    hidden = hidden.view({1, 1, T, T});
    ctx.keyMask = ctx.keyMask.defined() ? ctx.keyMask.logical_or(hidden) : hidden;
  }
  if (c.positions == PositionKind::Learned) {
    const int64_t limit = m_weights.W_pos.size(0);
    if (tokens > limit) {
      throw ShapeError("input has " + std::to_string(tokens) + " positions but the model knows " +
                       std::to_string(limit) + "; shorten the input");
    }
  } else if (c.positions == PositionKind::Rotary) {
    std::tie(ctx.cos, ctx.sin) = rotaryTables(positions, m_invFreq, dtype());
  }
  return positions;
}

at::Tensor Transformer::forwardFrom(int firstLayer, const at::Tensor& residual,
                                    const ModelInput& input) {
  auto x = runBlocks(firstLayer, residual, input);
  x = norm(x, m_weights.lnFinal);
  x = m_hooks.fire(HookKind::LnFinalNormalized, -1, std::move(x));
  return m_hooks.fire(HookKind::Logits, -1, unembed(std::move(x)));
}

at::Tensor Transformer::runBlocks(int firstLayer, const at::Tensor& residual,
                                  const ModelInput& input) {
  if (firstLayer < 0 || firstLayer > m_config.nLayers) {
    throw ConfigError("layer " + std::to_string(firstLayer) + " does not exist; the model has " +
                      std::to_string(m_config.nLayers) + " layers");
  }
  if (residual.dim() != 3 || residual.size(2) != m_config.dModel) {
    throw ShapeError("residual stream: expected [batch, pos, " + std::to_string(m_config.dModel) +
                     "], got " + shapeText(residual.sizes()));
  }
  Context ctx;
  prepareContext(input, residual.size(0), residual.size(1), ctx);
  auto x = residual.to(device(), dtype());
  for (int layer = firstLayer; layer < m_config.nLayers; ++layer) {
    x = block(layer, std::move(x), ctx);
  }
  return x;
}

at::Tensor Transformer::block(int layer, at::Tensor x, const Context& ctx) {
  const auto& w = m_weights.blocks[layer];
  x = m_hooks.fire(HookKind::ResidPre, layer, std::move(x));
  // A skipped sublayer is not computed and fires none of its own hook points: the residual
  // stream passes through it unchanged.
  at::Tensor mid;  // [B, T, D]
  if (m_config.skipsAttention(layer)) {
    mid = m_hooks.fire(HookKind::ResidMid, layer, std::move(x));
  } else {
    auto normed = m_hooks.fire(HookKind::Ln1Normalized, layer, norm(x, w.ln1));
    auto attnOut = m_hooks.fire(HookKind::AttnOut, layer, attention(layer, normed, ctx));
    mid = m_hooks.fire(HookKind::ResidMid, layer, x + attnOut);
  }
  if (m_config.skipsMlp(layer)) return m_hooks.fire(HookKind::ResidPost, layer, std::move(mid));
  auto normed = m_hooks.fire(HookKind::Ln2Normalized, layer, norm(mid, w.ln2));
  auto mlpOut = m_hooks.fire(HookKind::MlpOut, layer, mlp(layer, normed));
  return m_hooks.fire(HookKind::ResidPost, layer, mid + mlpOut);
}

at::Tensor Transformer::readout(const at::Tensor& finalResidual) const {
  if (finalResidual.dim() != 3 || finalResidual.size(2) != m_config.dModel) {
    throw ShapeError("final residual: expected [batch, pos, " + std::to_string(m_config.dModel) +
                     "], got " + shapeText(finalResidual.sizes()));
  }
  return unembed(norm(finalResidual, m_weights.lnFinal));
}

void Transformer::setSkipped(int layer, Sublayer sublayer, bool skipped) {
  if (layer < 0 || layer >= m_config.nLayers) {
    throw ConfigError("layer " + std::to_string(layer) + " does not exist; the model has " +
                      std::to_string(m_config.nLayers) + " layers");
  }
  auto& flags = sublayer == Sublayer::Attention ? m_config.attnSkipped : m_config.mlpSkipped;
  if (flags.empty()) flags.assign(m_config.nLayers, false);
  flags[layer] = skipped;
  // Nothing skipped is stored as empty, so a drop and its undo leave the config equal to the
  // original (configs are compared, e.g. by mask fingerprints and compaction).
  if (std::none_of(flags.begin(), flags.end(), [](bool f) { return f; })) flags.clear();
}

at::Tensor Transformer::attention(int layer, const at::Tensor& x, const Context& ctx) {
  const auto& w = m_weights.blocks[layer].attn;
  const int64_t B = ctx.batch, T = ctx.tokens, H = w.nHeads, Hkv = w.nKvHeads, E = w.dHead;
  const int64_t D = m_config.dModel;
  if (H == 0) {
    auto out = at::zeros({B, T, D}, x.options());
    return w.b_O.defined() ? out + w.b_O : out;
  }
  const auto qkv = linear(layer, x, w.W_QKV, w.b_QKV);  // [B, T, (H + 2 Hkv) E]
  auto q = m_hooks.fire(HookKind::Q, layer, qkv.narrow(2, 0, H * E).view({B, T, H, E}));
  auto k = m_hooks.fire(HookKind::K, layer, qkv.narrow(2, H * E, Hkv * E).view({B, T, Hkv, E}));
  auto v =
      m_hooks.fire(HookKind::V, layer, qkv.narrow(2, (H + Hkv) * E, Hkv * E).view({B, T, Hkv, E}));
  if (m_config.positions == PositionKind::Rotary) {
    q = applyRotary(q, ctx.cos, ctx.sin);
    k = applyRotary(k, ctx.cos, ctx.sin);
  }
  double scale = 1.0 / std::sqrt(static_cast<double>(E));
  if (m_config.scaleAttnByInverseLayer) scale /= (layer + 1);
  static const std::vector<int> kEvenGrouping;
  const auto& kvMap =
      m_config.kvHeadOfQuery.empty() ? kEvenGrouping : m_config.kvHeadOfQuery[layer];
  if (m_rules && m_rules->attention == AttentionRule::AttnLrp) {
    // The uniform rule on Q K^T: each factor takes half the scores' relevance.
    q = scaleGradient(q, 0.5);
    k = scaleGradient(k, 0.5);
  }
  auto scores = attentionScores(q, k, scale, kvMap);  // [B, H, T, T]
  if (ctx.keyMask.defined()) {
    // The lowest finite value, not -inf: a row with every key hidden (a padding query) then
    // gives a uniform pattern instead of NaN.
    scores.masked_fill_(ctx.keyMask, maskedScore(scores.scalar_type()));
  }
  scores = m_hooks.fire(HookKind::AttnScores, layer, std::move(scores));
  auto pattern = m_hooks.fire(HookKind::Pattern, layer, at::softmax(scores, -1));
  if (m_rules) {
    if (m_rules->attention == AttentionRule::AttnLrp) {
      pattern = scaleGradient(pattern, 0.5);  // the uniform rule on pattern V
      v = scaleGradient(v, 0.5);
    } else {
      pattern = pattern.detach();  // CP-LRP: the pattern is a constant of the mix
    }
  }
  auto z = m_hooks.fire(HookKind::Z, layer, attentionMix(pattern, v, kvMap));  // [B, T, H, E]
  auto out = linear(layer, z.reshape({B, T, H * E}), w.W_O.view({H * E, D}), w.b_O);  // [B, T, D]
  if (m_hooks.active(HookKind::Result, layer)) {
    const auto result = at::einsum("bthe,hed->bthd", {z, w.W_O});  // [B, T, H, D]
    const auto fired = m_hooks.fire(HookKind::Result, layer, result);
    // Observers leave the tensor as it was: keep the one-GEMM output so that observing
    // hook_result changes no bit of the forward pass.
    if (!fired.is_same(result)) {
      out = fired.sum(2);
      if (w.b_O.defined()) out = out + w.b_O;
    }
  }
  return out;
}

at::Tensor Transformer::mlp(int layer, const at::Tensor& x) {
  const auto& w = m_weights.blocks[layer].mlp;
  if (w.W_out.size(0) == 0) {
    // No neurons left (a compacted model): only the output bias remains. The products below
    // cannot run with F == 0 (a [B T, 0] reshape is ambiguous).
    auto out = at::zeros_like(x);
    return w.b_out.defined() ? out + w.b_out : out;
  }
  at::Tensor post;  // [B, T, F]
  if (m_config.gatedMlp) {
    auto pre = m_hooks.fire(HookKind::MlpPre, layer, linear(layer, x, w.W_gate));
    auto up = linear(layer, x, w.W_in, w.b_in);
    auto gate = activate(pre);
    if (m_rules) {
      // The uniform rule: each factor of the gated product takes half its relevance.
      gate = scaleGradient(gate, 0.5);
      up = scaleGradient(up, 0.5);
    }
    post = gate * up;
  } else {
    auto pre = m_hooks.fire(HookKind::MlpPre, layer, linear(layer, x, w.W_in, w.b_in));
    post = activate(pre);
  }
  post = m_hooks.fire(HookKind::MlpPost, layer, std::move(post));
  return linear(layer, post, w.W_out, w.b_out);
}

at::Tensor Transformer::embedPatches(const at::Tensor& pixels) const {
  const auto& c = m_config;
  if (m_rules && m_rules->gammaPatch > 0.0) {
    // Non-overlapping patches make the convolution a linear layer on flattened patches, which
    // the gamma rule's backward handles: [B, C, h S, w S] -> [B, h w, C S S].
    const int64_t B = pixels.size(0), C = c.nChannels, S = c.patchSize;
    const int64_t rows = pixels.size(2) / S, cols = pixels.size(3) / S;
    const auto flat = pixels.narrow(2, 0, rows * S)
                          .narrow(3, 0, cols * S)
                          .reshape({B, C, rows, S, cols, S})
                          .permute({0, 2, 4, 1, 3, 5})
                          .reshape({B, rows * cols, C * S * S});
    const auto w = m_weights.W_patch.reshape({c.dModel, C * S * S}).t();
    return gammaLinear(flat, w, m_weights.b_patch, m_rules->gammaPatch, m_rules->epsilon);
  }
  const auto patches =
      at::conv2d(pixels, m_weights.W_patch, m_weights.b_patch, {c.patchSize, c.patchSize});
  return patches.flatten(2).transpose(1, 2);  // [B, N, D]
}

at::Tensor Transformer::linear(int layer, const at::Tensor& x, const at::Tensor& w,
                               const at::Tensor& b) const {
  if (m_rules) {
    const double gamma = m_rules->gammaFor(layer);
    if (gamma > 0.0) return gammaLinear(x, w, b, gamma, m_rules->epsilon);
  }
  return project(x, w, b);
}

at::Tensor Transformer::norm(const at::Tensor& x, const NormWeights& w) const {
  if (m_rules) return normWithConstantScale(x, w, m_config.norm, m_config.normEps);
  return applyNorm(x, w, m_config.norm, m_config.normEps);
}

at::Tensor Transformer::activate(const at::Tensor& pre) const {
  auto post = applyActivation(pre, m_config.activation);
  return m_rules ? identityRule(pre, post) : post;
}

void Transformer::setRelevanceRules(std::optional<RelevanceRules> rules) {
  if (rules) rules->validate(m_config.nLayers);
  m_rules = std::move(rules);
}

at::Tensor Transformer::unembed(at::Tensor x) const {
  if (m_config.head == HeadKind::Classifier) {
    // The class token [B, D], or the mean over the patches when the model has none.
    const bool pooled = m_config.input == InputKind::Patches && !m_config.classToken;
    x = pooled ? x.mean(1) : x.select(1, 0);
  }
  return linear(-1, x, m_weights.W_U, m_weights.b_U);
}

}  // namespace cs::models
