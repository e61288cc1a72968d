// MaskSet bookkeeping: one entry per target, insertion order kept, replace and remove by target,
// names round-trip, and building a mask of many entries stays fast (linear).
#include <gtest/gtest.h>

#include "hooks/mask_set.h"

namespace cs::hooks {
namespace {

TEST(MaskSet, OneEntryPerTargetInInsertionOrder) {
  MaskSet masks;
  masks.set({MaskComponent::Head, 1, 2});
  masks.set({MaskComponent::Neuron, 0, 7, AblationMode::Mean});
  masks.set({MaskComponent::Block, 3});
  masks.set({MaskComponent::Head, 1, 2, AblationMode::Scale, 2.0});  // replaces, keeps its place
  ASSERT_EQ(masks.size(), 3u);
  EXPECT_EQ(masks.entries()[0].mode, AblationMode::Scale);
  EXPECT_EQ(masks.entries()[0].value, 2.0);
  EXPECT_EQ(masks.entries()[1].component, MaskComponent::Neuron);
  EXPECT_FALSE(masks.onlyZeroAblations());
  EXPECT_TRUE(masks.needsMeans());
  // Head 1.2 and neuron 1.2 are different targets; so are attn 3 and block 3.
  EXPECT_FALSE(masks.find(MaskComponent::Neuron, 1, 2));
  EXPECT_FALSE(masks.find(MaskComponent::AttnSublayer, 3));
  EXPECT_TRUE(masks.find(MaskComponent::Block, 3));

  EXPECT_TRUE(masks.remove(MaskComponent::Head, 1, 2));
  EXPECT_FALSE(masks.remove(MaskComponent::Head, 1, 2));
  ASSERT_EQ(masks.size(), 2u);
  EXPECT_EQ(masks.find(MaskComponent::Block, 3)->layer, 3);  // positions follow the removal
  masks.set({MaskComponent::Head, 1, 2});
  EXPECT_EQ(masks.entries().back().component, MaskComponent::Head);
  masks.clear();
  EXPECT_TRUE(masks.empty());
  EXPECT_FALSE(masks.find(MaskComponent::Block, 3));
}

TEST(MaskSet, NamesRoundTrip) {
  for (auto c : {MaskComponent::Head, MaskComponent::Neuron, MaskComponent::AttnSublayer,
                 MaskComponent::MlpSublayer, MaskComponent::Block}) {
    EXPECT_EQ(parseComponent(componentName(c)), c);
  }
  for (auto m :
       {AblationMode::Zero, AblationMode::Mean, AblationMode::Resample, AblationMode::Scale}) {
    EXPECT_EQ(parseMode(modeName(m)), m);
  }
  EXPECT_FALSE(parseComponent("heads"));
  EXPECT_FALSE(parseMode("Zero"));
  EXPECT_EQ(describeTarget({MaskComponent::Neuron, 0, 117}), "neuron 0.117");
  EXPECT_EQ(describeTarget({MaskComponent::AttnSublayer, 2}), "attn 2");
}

TEST(MaskSet, ManyEntriesBuildInLinearTime) {
  // Every neuron of a large model: a quadratic set() would take minutes here.
  MaskSet masks;
  for (int l = 0; l < 32; ++l) {
    for (int i = 0; i < 11008; ++i) masks.set({MaskComponent::Neuron, l, i});
  }
  EXPECT_EQ(masks.size(), 32u * 11008u);
  EXPECT_TRUE(masks.find(MaskComponent::Neuron, 31, 11007));
  EXPECT_TRUE(masks.onlyZeroAblations());
}

}  // namespace
}  // namespace cs::hooks
