// HookRegistry: fire passes through untouched when idle, hooks run in attach order and chain
// replacements, handles detach on destruction and survive their registry.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "core/error.h"
#include "hooks/hook_registry.h"

namespace cs::hooks {
namespace {

TEST(HookRegistry, IdlePointReturnsTheSameTensor) {
  HookRegistry registry(2);
  const auto x = torch::ones({2, 3});
  const auto y = registry.fire(HookKind::ResidPre, 1, x);
  EXPECT_TRUE(y.is_same(x));
  EXPECT_FALSE(registry.active(HookKind::ResidPre, 1));
}

TEST(HookRegistry, HooksChainInAttachOrder) {
  HookRegistry registry(1);
  std::vector<int> order;
  auto a = registry.add({HookKind::MlpPost, 0},
                        [&](const at::Tensor& x, const HookPoint&) -> std::optional<at::Tensor> {
                          order.push_back(1);
                          return x + 1;
                        });
  auto b = registry.add({HookKind::MlpPost, 0},
                        [&](const at::Tensor& x, const HookPoint& p) -> std::optional<at::Tensor> {
                          order.push_back(2);
                          EXPECT_EQ(p.kind, HookKind::MlpPost);
                          EXPECT_EQ(p.layer, 0);
                          return x * 10;
                        });
  const auto y = registry.fire(HookKind::MlpPost, 0, torch::zeros({2}));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_TRUE(torch::equal(y, torch::full({2}, 10.0)));
  EXPECT_FALSE(registry.active(HookKind::MlpPost, -1 + 2));  // other slot untouched
}

TEST(HookRegistry, HandlesDetachOnDestructionAndMove) {
  HookRegistry registry(3);
  {
    auto h = registry.observe({HookKind::Pattern, 2}, [](const at::Tensor&, const HookPoint&) {});
    EXPECT_TRUE(h.attached());
    HookHandle moved = std::move(h);
    EXPECT_FALSE(h.attached());
    EXPECT_TRUE(moved.attached());
    EXPECT_EQ(registry.attachedCount(), 1u);
  }
  EXPECT_EQ(registry.attachedCount(), 0u);
}

TEST(HookRegistry, HandleOutlivingTheRegistryIsHarmless) {
  HookHandle handle;
  {
    HookRegistry registry(1);
    handle = registry.observe({HookKind::Logits, -1}, [](const at::Tensor&, const HookPoint&) {});
  }
  EXPECT_FALSE(handle.attached());
  handle.reset();
}

TEST(HookRegistry, AHookMayDetachItselfWhileRunning) {
  HookRegistry registry(1);
  HookHandle self;
  int calls = 0;
  self = registry.observe({HookKind::ResidPost, 0}, [&](const at::Tensor&, const HookPoint&) {
    ++calls;
    self.reset();
  });
  registry.fire(HookKind::ResidPost, 0, torch::zeros({1}));
  registry.fire(HookKind::ResidPost, 0, torch::zeros({1}));
  EXPECT_EQ(calls, 1);
}

TEST(HookRegistry, OutOfRangeLayersAreRefused) {
  HookRegistry registry(2);
  EXPECT_THROW((void)registry.add({HookKind::ResidPre, 2}, nullptr), ConfigError);
  EXPECT_THROW((void)registry.add({HookKind::ResidPre, -1}, nullptr), ConfigError);
  EXPECT_THROW((void)registry.add({HookKind::Logits, 0}, nullptr), ConfigError);
}

}  // namespace
}  // namespace cs::hooks
