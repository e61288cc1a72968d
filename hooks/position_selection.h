// Which sequence positions a recording keeps: all of them, the last real token of each example,
// or a fixed list. Applied to the "pos" axis of a hook, or to the query axis of attention
// scores and patterns (their key axis is kept whole).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hooks/hook_point.h"

namespace cs::hooks {

class PositionSelection {
 public:
  enum class Kind { All, Last, List };

  /// "all", "last" or a comma-separated list of non-negative positions ("0,5,7");
  /// ConfigError otherwise.
  static PositionSelection parse(const std::string& text);

  Kind kind() const { return m_kind; }
  /// The text parse() accepts, normalised ("all", "last", "0,5,7").
  std::string text() const;

  /// The positions of each example, [B, P] int64, for a batch of `tokens` positions whose
  /// attention mask (optional, 1 = real token) says where each example ends; undefined for
  /// All. ConfigError for a listed position at or beyond `tokens`.
  at::Tensor indexFor(std::int64_t batch, std::int64_t tokens,
                      const at::Tensor& attentionMask) const;

 private:
  Kind m_kind = Kind::All;
  std::vector<std::int64_t> m_list;
};

/// The axis of a hook's activation that positions select: 1 for [batch, pos, ...], 2 for
/// [batch, head, query_pos, key_pos]; -1 when the hook has no position axis (or `rank` does
/// not match its usual axes, e.g. a classifier's [batch, classes] logits).
int positionAxis(HookKind kind, std::int64_t rank);

/// `x` with only the positions in `index` ([B, P]) kept along `axis`.
at::Tensor selectPositions(const at::Tensor& x, int axis, const at::Tensor& index);

/// The axes of a stored activation, "example,..." (the hook's axes with batch renamed, or
/// generic names when the rank differs from the hook's usual axes).
std::string storedAxes(HookKind kind, std::int64_t rank);

}  // namespace cs::hooks
