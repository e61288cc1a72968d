// A forward pass that records the activations whose hook names match glob patterns.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "hooks/activation_cache.h"
#include "models/model.h"

namespace cs::models {

/// Runs the model once with observers at every matching point (ConfigError for a pattern that
/// matches nothing) and returns the logits; the observers are gone afterwards.
at::Tensor runWithCache(Model& model, const ModelInput& input,
                        const std::vector<std::string>& patterns, hooks::ActivationCache& cache);

}  // namespace cs::models
