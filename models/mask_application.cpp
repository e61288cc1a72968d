// Mask hooks. Each hook point gets one hook that edits every masked index there at once, with
// index operations (index_fill for zeros), so a zeroed head is exactly 0 and the others are
// bit-identical to the unmasked run.
#include "models/mask_application.h"

#include "core/torch_api.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/shape_text.h"

namespace cs::models {

using hooks::AblationMode;
using hooks::HookKind;
using hooks::MaskComponent;
using hooks::MaskEntry;

namespace {

at::Tensor indexTensor(const std::vector<int64_t>& indices, const at::Tensor& like) {
  return at::tensor(indices, at::TensorOptions(like.device()).dtype(at::kLong));
}

// The value from the next example of the batch, cyclically.
at::Tensor resampled(const at::Tensor& x, const std::string& where) {
  if (x.size(0) < 2) {
    throw ShapeError("resample ablation of " + where +
                     " takes each example's value from another example of the batch; this "
                     "batch has one example: use a batch size of at least 2");
  }
  return x.roll(-1, 0);
}

// Every masked index of one axis at one hook point (heads of hook_z, neurons of hook_post).
struct IndexedEdit {
  std::string where;  // for messages, e.g. "blocks.3.attn.hook_z"
  std::vector<int64_t> zero, scale, mean, resample;
  std::vector<double> factors;  // one per `scale` index
  at::Tensor means;             // [n, ...] the means of all indices (hook_z: [H, E])

  // x [B, T, n, ...]: the axis is 2.
  at::Tensor apply(const at::Tensor& x) const {
    auto out = x.clone();
    if (!zero.empty()) out.index_fill_(2, indexTensor(zero, x), 0.0);
    if (!scale.empty()) {
      const auto idx = indexTensor(scale, x);
      auto f = at::tensor(factors, x.options().dtype(at::kDouble)).to(x.scalar_type());
      std::vector<int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
      shape[2] = static_cast<int64_t>(scale.size());
      out.index_copy_(2, idx, x.index_select(2, idx) * f.view(shape));
    }
    if (!mean.empty()) {
      const auto idx = indexTensor(mean, x);
      auto values = means.to(x.device(), x.scalar_type()).index_select(0, idx);  // [m, ...]
      std::vector<int64_t> shape = x.sizes().vec();
      shape[2] = static_cast<int64_t>(mean.size());
      out.index_copy_(2, idx, values.unsqueeze(0).unsqueeze(0).expand(shape));
    }
    if (!resample.empty()) {
      const auto idx = indexTensor(resample, x);
      out.index_copy_(2, idx, resampled(x, where).index_select(2, idx));
    }
    return out;
  }
};

// A whole sublayer output [B, T, D] under a non-zero mode.
at::Tensor editWhole(const at::Tensor& x, const MaskEntry& e, const at::Tensor& mean,
                     const std::string& where) {
  switch (e.mode) {
    case AblationMode::Mean:
      return mean.to(x.device(), x.scalar_type()).expand(x.sizes()).clone();
    case AblationMode::Scale:
      return x * e.value;
    case AblationMode::Resample:
      return resampled(x, where);
    case AblationMode::Zero:
      break;
  }
  return at::zeros_like(x);
}

void expectMean(const at::Tensor& t, std::vector<int64_t> shape, const std::string& what) {
  if (!t.defined()) {
    throw ConfigError("mean ablation of " + what +
                      " needs reference means, and none were computed for it; compute them "
                      "on a reference dataset first");
  }
  if (t.sizes() != at::IntArrayRef(shape)) {
    throw ConfigError("the reference means of " + what + " have shape " + shapeText(t.sizes()) +
                      ", the model needs " + shapeText(shape) +
                      "; they were computed for another model");
  }
}

}  // namespace

void validateMasks(const TransformerConfig& config, const hooks::MaskSet& masks,
                   const hooks::AblationMeans* means) {
  for (const auto& e : masks.entries()) {
    const auto what = describeTarget(e);
    if (e.layer < 0 || e.layer >= config.nLayers) {
      throw ConfigError("mask entry " + what + ": the model has layers 0 to " +
                        std::to_string(config.nLayers - 1));
    }
    if (hooks::componentHasIndex(e.component)) {
      const int n =
          e.component == MaskComponent::Head ? config.nHeads[e.layer] : config.dMlp[e.layer];
      if (e.index < 0 || e.index >= n) {
        throw ConfigError("mask entry " + what + ": layer " + std::to_string(e.layer) + " has " +
                          std::to_string(n) +
                          (e.component == MaskComponent::Head ? " heads" : " MLP neurons"));
      }
    } else if (e.index != -1) {
      throw ConfigError("mask entry " + what + " takes no index");
    }
    if (e.mode == AblationMode::Scale && !std::isfinite(e.value)) {
      throw ConfigError("mask entry " + what + ": the scale factor must be a finite number");
    }
    if (e.mode != AblationMode::Mean) continue;
    if (!means) {
      throw ConfigError("mask entry " + what +
                        " uses mean ablation, which needs means over a reference dataset; "
                        "give one (e.g. --mean-dataset)");
    }
    if (static_cast<int>(means->layers.size()) != config.nLayers) {
      throw ConfigError("the reference means cover " + std::to_string(means->layers.size()) +
                        " layers, the model has " + std::to_string(config.nLayers));
    }
    const auto& m = means->layers[e.layer];
    const int64_t D = config.dModel;
    switch (e.component) {
      case MaskComponent::Head:
        expectMean(m.z, {config.nHeads[e.layer], config.dHead}, what);
        break;
      case MaskComponent::Neuron:
        expectMean(m.mlpPost, {config.dMlp[e.layer]}, what);
        break;
      case MaskComponent::AttnSublayer:
        expectMean(m.attnOut, {D}, what);
        break;
      case MaskComponent::MlpSublayer:
        expectMean(m.mlpOut, {D}, what);
        break;
      case MaskComponent::Block:
        expectMean(m.blockDelta, {D}, what);
        break;
    }
  }
}

AppliedMasks::AppliedMasks(Transformer& model, const hooks::MaskSet& masks,
                           const hooks::AblationMeans* means)
    : m_model(model),
      m_savedAttnSkipped(model.config().attnSkipped),
      m_savedMlpSkipped(model.config().mlpSkipped),
      m_hooks(model.hooks()) {
  const auto& config = model.config();
  validateMasks(config, masks, means);
  std::map<std::pair<HookKind, int>, IndexedEdit> edits;
  for (const auto& e : masks.entries()) {
    const int l = e.layer;
    const hooks::LayerMeans* layerMeans = means ? &means->layers[l] : nullptr;
    switch (e.component) {
      case MaskComponent::Head:
      case MaskComponent::Neuron: {
        const auto kind = e.component == MaskComponent::Head ? HookKind::Z : HookKind::MlpPost;
        auto& edit = edits[{kind, l}];
        edit.where = hooks::hookName(kind, l);
        const int64_t i = e.index;
        switch (e.mode) {
          case AblationMode::Zero:
            edit.zero.push_back(i);
            break;
          case AblationMode::Scale:
            edit.scale.push_back(i);
            edit.factors.push_back(e.value);
            break;
          case AblationMode::Mean:
            edit.mean.push_back(i);
            edit.means = kind == HookKind::Z ? layerMeans->z : layerMeans->mlpPost;
            break;
          case AblationMode::Resample:
            edit.resample.push_back(i);
            break;
        }
        break;
      }
      case MaskComponent::AttnSublayer:
      case MaskComponent::MlpSublayer: {
        const bool attn = e.component == MaskComponent::AttnSublayer;
        if (e.mode == AblationMode::Zero) {
          model.setSkipped(l, attn ? Sublayer::Attention : Sublayer::Mlp, true);
          break;
        }
        const auto kind = attn ? HookKind::AttnOut : HookKind::MlpOut;
        at::Tensor mean;
        if (layerMeans) mean = attn ? layerMeans->attnOut : layerMeans->mlpOut;
        m_hooks.add({kind, l}, [e, mean, where = hooks::hookName(kind, l)](
                                   const at::Tensor& x, const hooks::HookPoint&) {
          return std::optional<at::Tensor>(editWhole(x, e, mean, where));
        });
        break;
      }
      case MaskComponent::Block: {
        if (e.mode == AblationMode::Zero) {
          model.setSkipped(l, Sublayer::Attention, true);
          model.setSkipped(l, Sublayer::Mlp, true);
          break;
        }
        // The block's update (resid_post - resid_pre) is what the mode replaces.
        auto pre = std::make_shared<at::Tensor>();
        m_hooks.observe({HookKind::ResidPre, l},
                        [pre](const at::Tensor& x, const hooks::HookPoint&) { *pre = x; });
        at::Tensor mean;
        if (layerMeans) mean = layerMeans->blockDelta;
        m_hooks.add({HookKind::ResidPost, l}, [pre, e, mean, where = "block " + std::to_string(l)](
                                                  const at::Tensor& x, const hooks::HookPoint&) {
          auto out = *pre + editWhole(x - *pre, e, mean, where);
          pre->reset();
          return std::optional<at::Tensor>(std::move(out));
        });
        break;
      }
    }
  }
  for (auto& [point, edit] : edits) {
    m_hooks.add({point.first, point.second},
                [edit = std::move(edit)](const at::Tensor& x, const hooks::HookPoint&) {
                  return std::optional<at::Tensor>(edit.apply(x));
                });
  }
}

AppliedMasks::~AppliedMasks() {
  const int n = m_model.config().nLayers;
  for (int l = 0; l < n; ++l) {
    m_model.setSkipped(l, Sublayer::Attention,
                       !m_savedAttnSkipped.empty() && m_savedAttnSkipped[l]);
    m_model.setSkipped(l, Sublayer::Mlp, !m_savedMlpSkipped.empty() && m_savedMlpSkipped[l]);
  }
}

}  // namespace cs::models
