#include "models/numeric_health.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"

namespace cs::models {

using hooks::HookKind;

namespace {

/// The coordinates of element `flat` of a contiguous tensor of `sizes`.
std::vector<std::int64_t> unravel(std::int64_t flat, at::IntArrayRef sizes) {
  std::vector<std::int64_t> coords(sizes.size());
  for (std::size_t d = sizes.size(); d-- > 0;) {
    coords[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return coords;
}

/// The axis of the position a person would look at: the query for [B, H, Tq, Tk] tensors,
/// none (-1) for classifier logits [B, C].
int positionAxis(HookKind kind, std::int64_t dims) {
  if (kind == HookKind::AttnScores || kind == HookKind::Pattern) return 2;
  return dims >= 3 ? 1 : -1;
}

}  // namespace

void requireFinite(const at::Tensor& x, const hooks::HookPoint& point) {
  if (!x.defined() || !x.is_floating_point()) return;
  const auto bad =
      point.kind == HookKind::AttnScores ? at::isnan(x).logical_or(at::isposinf(x)) : ~x.isfinite();
  if (!bad.any().item<bool>()) return;
  const auto count = bad.sum().item<std::int64_t>();
  const auto first = bad.reshape(-1).nonzero().select(0, 0).item<std::int64_t>();
  const auto value = x.reshape(-1).select(0, first).item<double>();
  const auto coords = unravel(first, x.sizes());
  std::string where = "batch row " + std::to_string(coords.at(0));
  const int axis = positionAxis(point.kind, x.dim());
  if (axis >= 0 && axis < x.dim()) where += ", position " + std::to_string(coords[axis]);
  throw NumericError("non-finite values first appear at " + hooks::hookName(point) + ": " +
                     std::to_string(count) + " of " + std::to_string(x.numel()) +
                     " values are NaN or Inf, the first (" + (std::isnan(value) ? "NaN" : "Inf") +
                     ") at " + where +
                     "; check the weights that feed this point and the input of that row");
}

NumericHealthGuard::NumericHealthGuard(Model& model, NumericScope scope) : m_hooks(model.hooks()) {
  for (const auto& point : model.hookPoints()) {
    if (point.kind == HookKind::Result) continue;
    if (scope == NumericScope::Logits && point.kind != HookKind::Logits) continue;
    m_hooks.observe(point,
                    [](const at::Tensor& x, const hooks::HookPoint& p) { requireFinite(x, p); });
  }
}

}  // namespace cs::models
