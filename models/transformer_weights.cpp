// Per-head views of the fused QKV storage, and the weights' inventory.
#include "models/transformer_weights.h"

#include "core/torch_api.h"

namespace cs::models {

namespace {
// Columns [first, first + heads * E) of W_QKV as [heads, D, E].
at::Tensor headView(const at::Tensor& fused, int first, int heads, int dHead) {
  return fused.narrow(1, first, static_cast<int64_t>(heads) * dHead)
      .view({fused.size(0), heads, dHead})
      .permute({1, 0, 2});
}
at::Tensor biasView(const at::Tensor& fused, int first, int heads, int dHead) {
  if (!fused.defined()) return {};
  return fused.narrow(0, first, static_cast<int64_t>(heads) * dHead).view({heads, dHead});
}
}  // namespace

at::Tensor AttentionWeights::W_Q() const { return headView(W_QKV, 0, nHeads, dHead); }
at::Tensor AttentionWeights::W_K() const {
  return headView(W_QKV, nHeads * dHead, nKvHeads, dHead);
}
at::Tensor AttentionWeights::W_V() const {
  return headView(W_QKV, (nHeads + nKvHeads) * dHead, nKvHeads, dHead);
}
at::Tensor AttentionWeights::b_Q() const { return biasView(b_QKV, 0, nHeads, dHead); }
at::Tensor AttentionWeights::b_K() const {
  return biasView(b_QKV, nHeads * dHead, nKvHeads, dHead);
}
at::Tensor AttentionWeights::b_V() const {
  return biasView(b_QKV, (nHeads + nKvHeads) * dHead, nKvHeads, dHead);
}

std::vector<std::pair<std::string, at::Tensor>> TransformerWeights::namedTensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  auto add = [&out](const std::string& name, const at::Tensor& t) {
    if (t.defined()) out.emplace_back(name, t);
  };
  add("embed.W_E", W_E);
  add("pos_embed.W_pos", W_pos);
  add("embed.W_patch", W_patch);
  add("embed.b_patch", b_patch);
  add("embed.class_token", classToken);
  for (std::size_t l = 0; l < blocks.size(); ++l) {
    const auto& b = blocks[l];
    const std::string p = "blocks." + std::to_string(l) + ".";
    add(p + "ln1.w", b.ln1.weight);
    add(p + "ln1.b", b.ln1.bias);
    add(p + "attn.W_QKV", b.attn.W_QKV);
    add(p + "attn.b_QKV", b.attn.b_QKV);
    add(p + "attn.W_O", b.attn.W_O);
    add(p + "attn.b_O", b.attn.b_O);
    add(p + "ln2.w", b.ln2.weight);
    add(p + "ln2.b", b.ln2.bias);
    add(p + "mlp.W_in", b.mlp.W_in);
    add(p + "mlp.b_in", b.mlp.b_in);
    add(p + "mlp.W_gate", b.mlp.W_gate);
    add(p + "mlp.W_out", b.mlp.W_out);
    add(p + "mlp.b_out", b.mlp.b_out);
  }
  add("ln_final.w", lnFinal.weight);
  add("ln_final.b", lnFinal.bias);
  // A tied W_U shares W_E's storage; list it only when it is its own matrix.
  if (W_U.defined() && !(W_E.defined() && W_U.is_alias_of(W_E))) add("unembed.W_U", W_U);
  add("unembed.b_U", b_U);
  return out;
}

std::int64_t TransformerWeights::parameterCount() const {
  std::int64_t n = 0;
  for (const auto& [name, t] : namedTensors()) n += t.numel();
  return n;
}

}  // namespace cs::models
