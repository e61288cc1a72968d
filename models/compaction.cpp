// Structural pruning: copies the kept rows and columns of every weight into a new Transformer.
// Removing a zero-ablated head or neuron drops exactly the terms that were multiplied by zero, so
// the compacted model equals the masked one up to the order of float sums.
// Legend: D model width, H query heads, Hkv key/value heads, E head width, F MLP width.
#include "models/compaction.h"

#include "core/torch_api.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/mask_application.h"

namespace cs::models {

using hooks::AblationMode;
using hooks::MaskComponent;

namespace {

// What the mask removes from one layer.
struct LayerRemoval {
  std::vector<bool> heads;    // [H] true: removed
  std::vector<bool> neurons;  // [F] true: removed
  bool attention = false;     // the whole sublayer
  bool mlp = false;
};

// An owned, contiguous copy (undefined stays undefined).
at::Tensor fresh(const at::Tensor& t) {
  return t.defined() ? t.detach().clone(at::MemoryFormat::Contiguous) : at::Tensor();
}

at::Tensor indexTensor(const std::vector<int64_t>& indices, const at::Tensor& like) {
  return at::tensor(indices, at::TensorOptions(like.device()).dtype(at::kLong));
}

// index_select returns a new contiguous tensor, never a view of the source.
at::Tensor keep(const at::Tensor& t, int64_t dim, const std::vector<int64_t>& indices) {
  if (!t.defined()) return {};
  return t.detach().index_select(dim, indexTensor(indices, t)).contiguous();
}

std::vector<int64_t> keptIndices(const std::vector<bool>& removed, bool removeAll) {
  std::vector<int64_t> kept;
  if (removeAll) return kept;
  for (std::size_t i = 0; i < removed.size(); ++i) {
    if (!removed[i]) kept.push_back(static_cast<int64_t>(i));
  }
  return kept;
}

// True when query head i of `map` reads key/value head i / (H / Hkv): no map is needed.
bool evenlyGrouped(const std::vector<int>& map, int kvHeads) {
  const int heads = static_cast<int>(map.size());
  if (kvHeads == 0) return heads == 0;
  if (heads % kvHeads != 0) return false;
  const int group = heads / kvHeads;
  for (int i = 0; i < heads; ++i) {
    if (map[i] != i / group) return false;
  }
  return true;
}

struct CompactedAttention {
  AttentionWeights weights;
  std::vector<int> kvHeadOfQuery;  // empty when the kept heads are evenly grouped
};

// Keeps the query heads not removed and the key/value heads that some kept query head reads.
CompactedAttention compactAttention(const TransformerConfig& config, int layer,
                                    const AttentionWeights& w, const std::vector<bool>& removed,
                                    bool removeAll) {
  const int H = w.nHeads, Hkv = w.nKvHeads;
  const int64_t E = w.dHead;
  const auto keptQ = keptIndices(removed, removeAll);

  std::map<int, int> newKv;  // old key/value head -> new index, in the old order
  for (const auto h : keptQ) newKv.emplace(config.kvHeadOf(layer, static_cast<int>(h)), 0);
  std::vector<int64_t> keptKv;
  for (auto& [old, index] : newKv) {
    index = static_cast<int>(keptKv.size());
    keptKv.push_back(old);
  }
  std::vector<int> map;
  for (const auto h : keptQ) map.push_back(newKv.at(config.kvHeadOf(layer, static_cast<int>(h))));

  // W_QKV columns: the kept query heads, then the kept key heads, then the kept value heads.
  std::vector<int64_t> columns;
  auto addHead = [&](int64_t first) {
    for (int64_t e = 0; e < E; ++e) columns.push_back(first * E + e);
  };
  for (const auto h : keptQ) addHead(h);
  for (const auto g : keptKv) addHead(H + g);
  for (const auto g : keptKv) addHead(H + Hkv + g);

  CompactedAttention out;
  auto& a = out.weights;
  a.nHeads = static_cast<int>(keptQ.size());
  a.nKvHeads = static_cast<int>(keptKv.size());
  a.dHead = w.dHead;
  a.W_QKV = keep(w.W_QKV, 1, columns);  // [D, (H' + 2 Hkv') E]
  a.b_QKV = keep(w.b_QKV, 0, columns);  // [(H' + 2 Hkv') E]
  a.W_O = keep(w.W_O, 0, keptQ);        // [H', E, D]
  a.b_O = fresh(w.b_O);                 // [D]: no head owns it
  if (!evenlyGrouped(map, a.nKvHeads)) out.kvHeadOfQuery = std::move(map);
  return out;
}

MlpWeights compactMlp(const MlpWeights& w, const std::vector<bool>& removed, bool removeAll) {
  const auto kept = keptIndices(removed, removeAll);
  MlpWeights m;
  m.W_in = keep(w.W_in, 1, kept);      // [D, F']
  m.b_in = keep(w.b_in, 0, kept);      // [F']
  m.W_gate = keep(w.W_gate, 1, kept);  // [D, F']
  m.W_out = keep(w.W_out, 0, kept);    // [F', D]
  m.b_out = fresh(w.b_out);            // [D]
  return m;
}

std::vector<LayerRemoval> removalsOf(const TransformerConfig& config, const hooks::MaskSet& masks) {
  // The mode comes first: validateMasks would ask for reference means for a mean entry, which
  // is beside the point here.
  for (const auto& e : masks.entries()) {
    if (e.mode != AblationMode::Zero) {
      throw ConfigError("mask entry " + hooks::describeTarget(e) + " uses " +
                        std::string(hooks::modeName(e.mode)) +
                        " ablation; only zero ablations can be removed by compaction (the "
                        "others change values instead of removing them): drop the entry or "
                        "make it a zero ablation");
    }
  }
  validateMasks(config, masks);
  std::vector<LayerRemoval> removals(static_cast<std::size_t>(config.nLayers));
  for (int l = 0; l < config.nLayers; ++l) {
    removals[l].heads.assign(static_cast<std::size_t>(config.nHeads[l]), false);
    removals[l].neurons.assign(static_cast<std::size_t>(config.dMlp[l]), false);
  }
  for (const auto& e : masks.entries()) {
    auto& r = removals[e.layer];
    switch (e.component) {
      case MaskComponent::Head:
        r.heads[e.index] = true;
        break;
      case MaskComponent::Neuron:
        r.neurons[e.index] = true;
        break;
      case MaskComponent::AttnSublayer:
        r.attention = true;
        break;
      case MaskComponent::MlpSublayer:
        r.mlp = true;
        break;
      case MaskComponent::Block:
        r.attention = r.mlp = true;
        break;
    }
  }
  return removals;
}

}  // namespace

std::unique_ptr<Transformer> compactModel(const Transformer& model, const hooks::MaskSet& masks) {
  const auto& source = model.config();
  const auto removals = removalsOf(source, masks);
  const auto& sw = model.weights();
  at::NoGradGuard noGrad;

  TransformerConfig config = source;
  const auto n = static_cast<std::size_t>(source.nLayers);
  config.attnSkipped.assign(n, false);
  config.mlpSkipped.assign(n, false);
  std::vector<std::vector<int>> kvMaps(n);

  TransformerWeights w;
  w.W_E = fresh(sw.W_E);
  w.W_pos = fresh(sw.W_pos);
  w.W_patch = fresh(sw.W_patch);
  w.b_patch = fresh(sw.b_patch);
  w.classToken = fresh(sw.classToken);
  w.lnFinal = {fresh(sw.lnFinal.weight), fresh(sw.lnFinal.bias)};
  const bool tied = sw.W_U.defined() && sw.W_E.defined() && sw.W_U.is_alias_of(sw.W_E);
  w.W_U = tied ? w.W_E.t() : fresh(sw.W_U);
  w.b_U = fresh(sw.b_U);

  for (int l = 0; l < source.nLayers; ++l) {
    const auto& r = removals[l];
    const auto& b = sw.blocks[l];
    // A skipped sublayer computes nothing, so none of its weights need to stay.
    const bool dropAttention = r.attention || source.skipsAttention(l);
    const bool dropMlp = r.mlp || source.skipsMlp(l);
    BlockWeights nb;
    nb.ln1 = {fresh(b.ln1.weight), fresh(b.ln1.bias)};
    nb.ln2 = {fresh(b.ln2.weight), fresh(b.ln2.bias)};
    auto attention = compactAttention(source, l, b.attn, r.heads, dropAttention);
    nb.attn = std::move(attention.weights);
    kvMaps[l] = std::move(attention.kvHeadOfQuery);
    nb.mlp = compactMlp(b.mlp, r.neurons, dropMlp);

    config.nHeads[l] = nb.attn.nHeads;
    config.nKvHeads[l] = nb.attn.nKvHeads;
    config.dMlp[l] = static_cast<int>(nb.mlp.W_out.size(0));
    // With nothing left and no bias the sublayer adds exactly zero: skip it (saves the norm).
    config.attnSkipped[l] = dropAttention || (nb.attn.nHeads == 0 && !nb.attn.b_O.defined());
    config.mlpSkipped[l] = dropMlp || (config.dMlp[l] == 0 && !nb.mlp.b_out.defined());
    w.blocks.push_back(std::move(nb));
  }
  // Empty flags mean "none skipped", as in freshly loaded models.
  auto noneSet = [](const std::vector<bool>& f) {
    return std::find(f.begin(), f.end(), true) == f.end();
  };
  if (noneSet(config.attnSkipped)) config.attnSkipped.clear();
  if (noneSet(config.mlpSkipped)) config.mlpSkipped.clear();
  // Maps only where some layer needs one (the attention core then reads them per layer).
  const bool mapped = std::any_of(kvMaps.begin(), kvMaps.end(),
                                  [](const std::vector<int>& map) { return !map.empty(); });
  config.kvHeadOfQuery = mapped ? std::move(kvMaps) : std::vector<std::vector<int>>{};
  return std::make_unique<Transformer>(std::move(config), std::move(w));
}

}  // namespace cs::models
