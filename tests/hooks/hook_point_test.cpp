// Hook names are data that users type and that saved files are keyed by: every kind must give
// the exact TransformerLens string, parse back to the same point, and glob-match as expected.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "hooks/hook_point.h"

namespace cs::hooks {
namespace {

struct ExpectedName {
  HookKind kind;
  int layer;
  const char* name;
};

// Written out by hand from TransformerLens (HookedTransformer), not derived from the table in
// hook_point.cpp, so a typo there cannot hide behind the same typo here.
const std::vector<ExpectedName> kExpectedNames = {
    {HookKind::Embed, -1, "hook_embed"},
    {HookKind::PosEmbed, -1, "hook_pos_embed"},
    {HookKind::ResidPre, 0, "blocks.0.hook_resid_pre"},
    {HookKind::Ln1Normalized, 0, "blocks.0.ln1.hook_normalized"},
    {HookKind::Q, 1, "blocks.1.attn.hook_q"},
    {HookKind::K, 2, "blocks.2.attn.hook_k"},
    {HookKind::V, 2, "blocks.2.attn.hook_v"},
    {HookKind::AttnScores, 3, "blocks.3.attn.hook_attn_scores"},
    {HookKind::Pattern, 3, "blocks.3.attn.hook_pattern"},
    {HookKind::Z, 4, "blocks.4.attn.hook_z"},
    {HookKind::Result, 5, "blocks.5.attn.hook_result"},
    {HookKind::AttnOut, 6, "blocks.6.hook_attn_out"},
    {HookKind::ResidMid, 7, "blocks.7.hook_resid_mid"},
    {HookKind::Ln2Normalized, 8, "blocks.8.ln2.hook_normalized"},
    {HookKind::MlpPre, 9, "blocks.9.mlp.hook_pre"},
    {HookKind::MlpPost, 11, "blocks.11.mlp.hook_post"},
    {HookKind::MlpOut, 10, "blocks.10.hook_mlp_out"},
    {HookKind::ResidPost, 47, "blocks.47.hook_resid_post"},
    {HookKind::LnFinalNormalized, -1, "ln_final.hook_normalized"},
    {HookKind::Logits, -1, "hook_logits"},
};

TEST(HookName, EveryKindGivesTheTransformerLensName) {
  std::vector<bool> covered(kHookKindCount, false);
  for (const auto& e : kExpectedNames) {
    EXPECT_EQ(hookName(e.kind, e.layer), e.name);
    EXPECT_EQ(hookName(HookPoint{e.kind, e.layer}), e.name);
    EXPECT_EQ(isPerLayer(e.kind), e.layer >= 0) << e.name;
    covered[static_cast<int>(e.kind)] = true;
  }
  for (int k = 0; k < kHookKindCount; ++k) EXPECT_TRUE(covered[k]) << "kind " << k << " untested";
}

TEST(HookName, PerLayerKindWithoutLayerIsConfigError) {
  EXPECT_THROW(hookName(HookKind::ResidPre, -1), ConfigError);
  EXPECT_THROW(hookName(HookKind::Pattern), ConfigError);
}

TEST(HookName, ModelLevelKindWithLayerIsConfigError) {
  EXPECT_THROW(hookName(HookKind::Embed, 2), ConfigError);
  EXPECT_THROW(hookName(HookKind::Logits, 0), ConfigError);
}

TEST(ParseHookName, ParsesEveryExpectedName) {
  for (const auto& e : kExpectedNames) {
    const auto parsed = parseHookName(e.name);
    ASSERT_TRUE(parsed.has_value()) << e.name;
    EXPECT_EQ(*parsed, (HookPoint{e.kind, e.layer})) << e.name;
  }
}

TEST(ParseHookName, RoundTripsEveryPointOfATwelveLayerModel) {
  for (const auto& p : allHookPoints(12)) {
    const auto name = hookName(p);
    const auto parsed = parseHookName(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, p) << name;
  }
}

TEST(ParseHookName, RejectsNamesThatAreNotHookPoints) {
  for (const char* name :
       {"blocks.x.hook_resid_pre", "blocks.01.hook_resid_pre", "blocks.3.hook_nope", "",
        "hook_embed.extra", "blocks..hook_resid_pre", "blocks.3", "blocks.3.",
        "blocks.-1.hook_resid_pre", "blocks.3.hook_embed", "blocks.0.hook_logits", "hook_resid_pre",
        "Hook_embed", " hook_embed", "blocks.3.attn.hook_pattern.x"}) {
    EXPECT_FALSE(parseHookName(name).has_value()) << "'" << name << "'";
  }
}

TEST(HookAxes, NamesEachAxis) {
  EXPECT_EQ(hookAxes(HookKind::Z), "batch,pos,head,d_head");
  EXPECT_EQ(hookAxes(HookKind::K), "batch,pos,kv_head,d_head");
  EXPECT_EQ(hookAxes(HookKind::Pattern), "batch,head,query_pos,key_pos");
  EXPECT_EQ(hookAxes(HookKind::ResidPost), "batch,pos,d_model");
  EXPECT_EQ(hookAxes(HookKind::MlpPost), "batch,pos,d_mlp");
}

TEST(AllHookPoints, CountsModelLevelAndPerBlockPoints) {
  constexpr int kPerBlock = 16;
  EXPECT_EQ(allHookPoints(2).size(), 2u + kPerBlock * 2 + 2);
  EXPECT_EQ(allHookPoints(0).size(), 4u);
}

TEST(AllHookPoints, IsInForwardOrder) {
  const auto points = allHookPoints(2);
  EXPECT_EQ(points.front(), (HookPoint{HookKind::Embed, -1}));
  EXPECT_EQ(points[1], (HookPoint{HookKind::PosEmbed, -1}));
  EXPECT_EQ(points[2], (HookPoint{HookKind::ResidPre, 0}));
  EXPECT_EQ(points[17], (HookPoint{HookKind::ResidPost, 0}));
  EXPECT_EQ(points[18], (HookPoint{HookKind::ResidPre, 1}));
  EXPECT_EQ(points[points.size() - 2], (HookPoint{HookKind::LnFinalNormalized, -1}));
  EXPECT_EQ(points.back(), (HookPoint{HookKind::Logits, -1}));
}

TEST(GlobMatch, MatchesWholeNames) {
  EXPECT_TRUE(globMatch("hook_embed", "hook_embed"));
  EXPECT_FALSE(globMatch("hook_embed", "hook_embedx"));
  EXPECT_FALSE(globMatch("hook_embe", "hook_embed"));
}

TEST(GlobMatch, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "blocks.0.hook_resid_pre"));
  EXPECT_TRUE(globMatch("blocks.*.hook_resid_post", "blocks.11.hook_resid_post"));
  EXPECT_TRUE(globMatch("hook_*", "hook_"));
  // '*' crosses dots: one star covers "0.attn".
  EXPECT_TRUE(globMatch("blocks.*.hook_pattern", "blocks.0.attn.hook_pattern"));
}

TEST(GlobMatch, QuestionMarkMatchesExactlyOneCharacter) {
  EXPECT_TRUE(globMatch("blocks.?.hook_z", "blocks.3.hook_z"));
  EXPECT_FALSE(globMatch("blocks.?.hook_z", "blocks.10.hook_z"));
  EXPECT_FALSE(globMatch("?", ""));
}

TEST(GlobMatch, SeveralStarsBacktrack) {
  EXPECT_TRUE(globMatch("*.attn.*", "blocks.3.attn.hook_q"));
  EXPECT_TRUE(globMatch("*hook*hook*", "hook_hook"));
  EXPECT_TRUE(globMatch("b*s.*.*_post", "blocks.2.mlp.hook_post"));
  EXPECT_TRUE(globMatch("**a**", "a"));
  EXPECT_FALSE(globMatch("*.attn.*", "blocks.3.hook_attn_out"));
  EXPECT_FALSE(globMatch("*hook*hook*", "hook_embed"));
}

TEST(GlobMatch, NoMatchAndEmptyPattern) {
  EXPECT_FALSE(globMatch("blocks.*.hook_resid_post", "blocks.0.hook_resid_pre"));
  EXPECT_TRUE(globMatch("", ""));
  EXPECT_FALSE(globMatch("", "hook_embed"));
}

TEST(MatchHookPoints, OnePatternPerBlockGivesPointsInOrder) {
  const auto points = matchHookPoints(allHookPoints(3), {"blocks.*.hook_resid_post"});
  ASSERT_EQ(points.size(), 3u);
  for (int layer = 0; layer < 3; ++layer) {
    EXPECT_EQ(points[layer], (HookPoint{HookKind::ResidPost, layer}));
  }
}

TEST(MatchHookPoints, SeveralPatternsGiveForwardOrderWithoutDuplicates) {
  // Pattern order does not matter and overlapping patterns do not repeat a point.
  const auto points = matchHookPoints(
      allHookPoints(2), {"hook_logits", "blocks.1.*", "*.hook_resid_pre", "hook_embed"});
  ASSERT_EQ(points.size(), 1u + 1 + 16 + 1);
  EXPECT_EQ(points[0], (HookPoint{HookKind::Embed, -1}));
  EXPECT_EQ(points[1], (HookPoint{HookKind::ResidPre, 0}));
  EXPECT_EQ(points[2], (HookPoint{HookKind::ResidPre, 1}));
  EXPECT_EQ(points[17], (HookPoint{HookKind::ResidPost, 1}));
  EXPECT_EQ(points.back(), (HookPoint{HookKind::Logits, -1}));
}

TEST(MatchHookPoints, PatternMatchingNothingIsConfigErrorNamingIt) {
  const std::string pattern = "blocks.*.hook_nothing";
  try {
    matchHookPoints(allHookPoints(3), {"hook_embed", pattern});
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(pattern), std::string::npos) << message;
    // The user is shown a valid name to copy.
    EXPECT_NE(message.find("hook_embed"), std::string::npos) << message;
  }
}

TEST(MatchHookPoints, LayerBeyondTheModelMatchesNothing) {
  EXPECT_THROW(matchHookPoints(allHookPoints(2), {"blocks.2.hook_resid_post"}), ConfigError);
}

}  // namespace
}  // namespace cs::hooks
