// Numeric health: while a NumericHealthGuard lives, every hook point of a model checks its
// activation and the first NaN or Inf stops the forward pass with a NumericError that names the
// point, so a user sees where non-finite values start instead of NaN logits at the end.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "core/error.h"

#include "hooks/hook_point.h"
#include "hooks/hook_registry.h"
#include "models/model.h"

namespace cs::models {

/// NumericError naming `point`, the number of non-finite values, whether the first is NaN or
/// Inf and its batch row and position (query position for attention scores and patterns; no
/// position for classifier logits), unless every value of `x` is finite. Integer tensors pass.
/// Attention scores may hold -inf (masked keys in half precision): only NaN and +inf count there.
void requireFinite(const at::Tensor& x, const hooks::HookPoint& point);

/// Observes every hook point the model fires (except blocks.L.attn.hook_result, which is only
/// computed when hooked: a non-finite W_O shows at hook_attn_out instead) with requireFinite.
/// Observers only read, so a healthy forward pass gives bit-identical results; each point costs
/// one pass over its activation.
enum class NumericScope {
  EveryPoint,  ///< every hook point but hook_result
  Logits,      ///< hook_logits only: one pass over the output instead of one per point
};

class NumericHealthGuard {
 public:
  explicit NumericHealthGuard(Model& model, NumericScope scope = NumericScope::EveryPoint);
  NumericHealthGuard(const NumericHealthGuard&) = delete;
  NumericHealthGuard& operator=(const NumericHealthGuard&) = delete;

  /// Hook points being checked.
  std::size_t size() const { return m_hooks.size(); }

 private:
  hooks::ScopedHooks m_hooks;
};

/// Runs `f` (which runs `model`) with only the logits checked, and, when they are not finite,
/// once more with every point checked, so that the NumericError names where non-finite values
/// first appear. A healthy run thus pays for checking the logits alone; a failing one runs
/// twice. `f` must be safe to repeat (evaluations are).
template <typename F>
auto runCheckingNumerics(Model& model, F&& f) {
  std::string atTheOutput;
  try {
    NumericHealthGuard logits(model, NumericScope::Logits);
    return f();
  } catch (const NumericError& e) {
    atTheOutput = e.what();
  }
  {
    NumericHealthGuard everyPoint(model);
    (void)f();
  }
  throw NumericError(atTheOutput + " (a second run with every hook point checked found none)");
}

}  // namespace cs::models
