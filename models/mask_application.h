// Applies a MaskSet to a Transformer for as long as the returned object lives: heads and neurons
// through hooks on hook_z and mlp.hook_post, sublayers and blocks by skipping them (zero) or
// through hooks on their outputs (mean, scale, resample). Destroying it restores the model.
#pragma once

#include <memory>
#include <vector>

#include "hooks/ablation_means.h"
#include "hooks/hook_registry.h"
#include "hooks/mask_set.h"
#include "models/transformer.h"

namespace cs::models {

/// Throws ConfigError when an entry does not fit the model (layer or index out of range, a
/// scale that is not finite, an index on a component that takes none) or needs means that are
/// missing or shaped for another model. Called by AppliedMasks and by mask import.
void validateMasks(const TransformerConfig& config, const hooks::MaskSet& masks,
                   const hooks::AblationMeans* means = nullptr);

class AppliedMasks {
 public:
  /// `means` is needed when some entry uses mean ablation; it must outlive this object.
  AppliedMasks(Transformer& model, const hooks::MaskSet& masks,
               const hooks::AblationMeans* means = nullptr);
  ~AppliedMasks();
  AppliedMasks(const AppliedMasks&) = delete;
  AppliedMasks& operator=(const AppliedMasks&) = delete;

 private:
  Transformer& m_model;
  std::vector<bool> m_savedAttnSkipped;
  std::vector<bool> m_savedMlpSkipped;
  hooks::ScopedHooks m_hooks;
};

}  // namespace cs::models
