// Hook points: the TransformerLens names, produced by one builder and parsed back by one parser.
// A point is (kind, layer); model-level points have layer -1.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs::hooks {

enum class HookKind : int {
  Embed,              // hook_embed                  [B, T, D] token (or patch + class) embeddings
  PosEmbed,           // hook_pos_embed              [B, T, D]
  ResidPre,           // blocks.L.hook_resid_pre     [B, T, D]
  Ln1Normalized,      // blocks.L.ln1.hook_normalized [B, T, D] (after gamma/beta)
  Q,                  // blocks.L.attn.hook_q        [B, T, H, E] (before rotary)
  K,                  // blocks.L.attn.hook_k        [B, T, Hkv, E]
  V,                  // blocks.L.attn.hook_v        [B, T, Hkv, E]
  AttnScores,         // blocks.L.attn.hook_attn_scores [B, H, Tq, Tk] (scaled, masked)
  Pattern,            // blocks.L.attn.hook_pattern  [B, H, Tq, Tk]
  Z,                  // blocks.L.attn.hook_z        [B, T, H, E]
  Result,             // blocks.L.attn.hook_result   [B, T, H, D] (only computed when hooked)
  AttnOut,            // blocks.L.hook_attn_out      [B, T, D]
  ResidMid,           // blocks.L.hook_resid_mid     [B, T, D]
  Ln2Normalized,      // blocks.L.ln2.hook_normalized [B, T, D]
  MlpPre,             // blocks.L.mlp.hook_pre       [B, T, F] (gate pre-activation if gated)
  MlpPost,            // blocks.L.mlp.hook_post      [B, T, F]
  MlpOut,             // blocks.L.hook_mlp_out       [B, T, D]
  ResidPost,          // blocks.L.hook_resid_post    [B, T, D]
  LnFinalNormalized,  // ln_final.hook_normalized    [B, T, D]
  Logits,             // hook_logits                 [B, T, V] or [B, C]
};

inline constexpr int kHookKindCount = static_cast<int>(HookKind::Logits) + 1;

struct HookPoint {
  HookKind kind = HookKind::Embed;
  int layer = -1;  ///< block index, -1 for model-level points
  bool operator==(const HookPoint&) const = default;
};

/// True for kinds that exist once per block.
bool isPerLayer(HookKind kind);

/// The exact TransformerLens name, e.g. hookName(HookKind::Pattern, 3) ==
/// "blocks.3.attn.hook_pattern". Throws ConfigError for a layer that does not fit the kind.
std::string hookName(HookKind kind, int layer = -1);
inline std::string hookName(const HookPoint& p) { return hookName(p.kind, p.layer); }

/// Parses a name produced by hookName; nothing if it is not a hook name.
std::optional<HookPoint> parseHookName(std::string_view name);

/// Comma-separated axis names of the activation, e.g. "batch,pos,head,d_head".
std::string_view hookAxes(HookKind kind);

/// Every hook point of a model with nLayers blocks, in forward order.
std::vector<HookPoint> allHookPoints(int nLayers);

/// Glob match ('*' any run of characters, '?' one character) of a whole name.
bool globMatch(std::string_view pattern, std::string_view text);

/// The points whose names match any of the patterns, in forward order. A pattern matching
/// nothing is a ConfigError that lists a few valid names.
std::vector<HookPoint> matchHookPoints(const std::vector<HookPoint>& points,
                                       const std::vector<std::string>& patterns);

}  // namespace cs::hooks
