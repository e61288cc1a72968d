// What one forward pass holds in memory, so that a batch far too large for the machine is
// refused before anything is allocated (the kernel would otherwise kill the process, or an
// allocation would fail deep inside libtorch).
#pragma once

#include <cstdint>

#include "models/transformer_config.h"

namespace cs::models {

/// Peak bytes of the activations a forward pass over [batch, tokens] holds at once without
/// autograd, for the widest layer: residual stream and its normalised and updated copies, q, k,
/// v and the head outputs, attention scores and pattern, the MLP hidden (three arrays when
/// gated), and the logits. An estimate to within a small factor, not a measurement.
std::int64_t forwardActivationBytes(const TransformerConfig& config, std::int64_t batch,
                                    std::int64_t tokens, std::int64_t elementBytes);

/// MemoryError naming the batch when forwardActivationBytes exceeds the available memory
/// (core/memory_budget.h). Estimates under 256 MiB are not checked (nothing to read per pass).
void requireForwardMemory(const TransformerConfig& config, std::int64_t batch, std::int64_t tokens,
                          std::int64_t elementBytes);

}  // namespace cs::models
