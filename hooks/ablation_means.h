// Reference-dataset means that mean ablation replaces activations with: one value per head,
// neuron, sublayer output and block update, averaged over examples and (real) positions.
// Plain tensors; analysis/ablation_means.h computes them by running a model over a dataset.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cs::hooks {

struct LayerMeans {
  at::Tensor z;           // [H, E]  blocks.L.attn.hook_z
  at::Tensor mlpPost;     // [F]     blocks.L.mlp.hook_post
  at::Tensor attnOut;     // [D]     blocks.L.hook_attn_out
  at::Tensor mlpOut;      // [D]     blocks.L.hook_mlp_out
  at::Tensor blockDelta;  // [D]     blocks.L.hook_resid_post - blocks.L.hook_resid_pre
};

struct AblationMeans {
  std::string source;          ///< the reference dataset's description
  std::int64_t rows = 0;       ///< examples averaged
  std::int64_t positions = 0;  ///< (example, position) pairs averaged
  std::vector<LayerMeans> layers;
};

}  // namespace cs::hooks
