// Hook names: one table maps each kind to its TransformerLens suffix and axes.
#include "hooks/hook_point.h"

#include <array>

#include "core/error.h"

namespace cs::hooks {

namespace {
struct KindInfo {
  HookKind kind;
  bool perLayer;
  std::string_view suffix;  // after "blocks.L." for per-layer kinds; whole name otherwise
  std::string_view axes;
};

constexpr std::array<KindInfo, kHookKindCount> kKinds{{
    {HookKind::Embed, false, "hook_embed", "batch,pos,d_model"},
    {HookKind::PosEmbed, false, "hook_pos_embed", "batch,pos,d_model"},
    {HookKind::ResidPre, true, "hook_resid_pre", "batch,pos,d_model"},
    {HookKind::Ln1Normalized, true, "ln1.hook_normalized", "batch,pos,d_model"},
    {HookKind::Q, true, "attn.hook_q", "batch,pos,head,d_head"},
    {HookKind::K, true, "attn.hook_k", "batch,pos,kv_head,d_head"},
    {HookKind::V, true, "attn.hook_v", "batch,pos,kv_head,d_head"},
    {HookKind::AttnScores, true, "attn.hook_attn_scores", "batch,head,query_pos,key_pos"},
    {HookKind::Pattern, true, "attn.hook_pattern", "batch,head,query_pos,key_pos"},
    {HookKind::Z, true, "attn.hook_z", "batch,pos,head,d_head"},
    {HookKind::Result, true, "attn.hook_result", "batch,pos,head,d_model"},
    {HookKind::AttnOut, true, "hook_attn_out", "batch,pos,d_model"},
    {HookKind::ResidMid, true, "hook_resid_mid", "batch,pos,d_model"},
    {HookKind::Ln2Normalized, true, "ln2.hook_normalized", "batch,pos,d_model"},
    {HookKind::MlpPre, true, "mlp.hook_pre", "batch,pos,d_mlp"},
    {HookKind::MlpPost, true, "mlp.hook_post", "batch,pos,d_mlp"},
    {HookKind::MlpOut, true, "hook_mlp_out", "batch,pos,d_model"},
    {HookKind::ResidPost, true, "hook_resid_post", "batch,pos,d_model"},
    {HookKind::LnFinalNormalized, false, "ln_final.hook_normalized", "batch,pos,d_model"},
    {HookKind::Logits, false, "hook_logits", "batch,pos,d_vocab"},
}};

const KindInfo& info(HookKind kind) { return kKinds[static_cast<int>(kind)]; }
}  // namespace

bool isPerLayer(HookKind kind) { return info(kind).perLayer; }

std::string hookName(HookKind kind, int layer) {
  const auto& k = info(kind);
  if (k.perLayer) {
    if (layer < 0) {
      throw ConfigError("hook '" + std::string(k.suffix) + "' needs a block index");
    }
    return "blocks." + std::to_string(layer) + "." + std::string(k.suffix);
  }
  if (layer != -1) {
    throw ConfigError("hook '" + std::string(k.suffix) + "' is not per block");
  }
  return std::string(k.suffix);
}

std::optional<HookPoint> parseHookName(std::string_view name) {
  constexpr std::string_view kBlocks = "blocks.";
  if (name.substr(0, kBlocks.size()) == kBlocks) {
    std::string_view rest = name.substr(kBlocks.size());
    int layer = 0;
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9' && digits < 6) {
      layer = layer * 10 + (rest[digits] - '0');
      ++digits;
    }
    if (digits == 0 || digits >= rest.size() || rest[digits] != '.') return std::nullopt;
    if (digits > 1 && rest[0] == '0') return std::nullopt;
    rest = rest.substr(digits + 1);
    for (const auto& k : kKinds) {
      if (k.perLayer && k.suffix == rest) return HookPoint{k.kind, layer};
    }
    return std::nullopt;
  }
  for (const auto& k : kKinds) {
    if (!k.perLayer && k.suffix == name) return HookPoint{k.kind, -1};
  }
  return std::nullopt;
}

std::string_view hookAxes(HookKind kind) { return info(kind).axes; }

std::vector<HookPoint> allHookPoints(int nLayers) {
  std::vector<HookPoint> points{{HookKind::Embed, -1}, {HookKind::PosEmbed, -1}};
  for (int layer = 0; layer < nLayers; ++layer) {
    for (const auto& k : kKinds) {
      if (k.perLayer) points.push_back({k.kind, layer});
    }
  }
  points.push_back({HookKind::LnFinalNormalized, -1});
  points.push_back({HookKind::Logits, -1});
  return points;
}

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point for the last '*': linear in practice.
  std::size_t p = 0, t = 0, starP = std::string_view::npos, starT = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starT = t;
    } else if (starP != std::string_view::npos) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<HookPoint> matchHookPoints(const std::vector<HookPoint>& points,
                                       const std::vector<std::string>& patterns) {
  std::vector<bool> chosen(points.size(), false);
  for (const auto& pattern : patterns) {
    bool any = false;
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (globMatch(pattern, hookName(points[i]))) {
        chosen[i] = true;
        any = true;
      }
    }
    if (!any) {
      std::string examples;
      for (std::size_t i = 0; i < points.size() && i < 6; ++i) {
        examples += (i ? ", " : "") + hookName(points[i]);
      }
      throw ConfigError("hook pattern '" + pattern + "' matches no hook point of this model (" +
                        std::to_string(points.size()) + " points, e.g. " + examples +
                        "; run `info` to list them)");
    }
  }
  std::vector<HookPoint> result;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (chosen[i]) result.push_back(points[i]);
  }
  return result;
}

}  // namespace cs::hooks
