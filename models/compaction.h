// Structural pruning: a new, smaller Transformer without the heads, neurons and sublayers that a
// mask zero-ablates, so that its latency is real. Its outputs equal the masked model's.
#pragma once

#include <memory>

#include "hooks/mask_set.h"
#include "models/transformer.h"

namespace cs::models {

/// Builds the compacted model on the source model's device and dtype; the source is unchanged.
/// Zero-ablated heads lose their query columns and W_O rows (b_O stays); a key/value head goes
/// only when every query head reading it goes (kvHeadOfQuery keeps the others' mapping);
/// zero-ablated neurons lose their W_in/W_gate columns, b_in entries and W_out rows; zero-ablated
/// sublayers and blocks are marked skipped, and so is a sublayer left with no heads (neurons) and
/// no output bias, since it adds exactly zero. ConfigError when the mask holds other modes (mean,
/// scale, resample cannot be removed) or does not fit the model.
std::unique_ptr<Transformer> compactModel(const Transformer& model, const hooks::MaskSet& masks);

}  // namespace cs::models
