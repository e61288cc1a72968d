// Random checkpoints: what make-random writes loads back with the configured shape, per-head
// weight views index the fused storage, and seeds are deterministic.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "data/safetensors.h"
#include "models/loaders/hf_loader.h"
#include "models/random_checkpoint.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

TEST(RandomCheckpoint, EveryFamilyLoadsBackWithItsShape) {
  for (const std::string family : {"gpt2", "llama", "vit"}) {
    SCOPED_TRACE(family);
    test::TempDir dir;
    ModelShape shape;
    shape.family = family;
    shape.nLayers = 3;
    shape.dModel = 48;
    shape.nHeads = 6;
    shape.nKvHeads = family == "llama" ? 2 : 0;
    shape.dMlp = 80;
    const auto config = configForShape(shape);
    writeRandomCheckpoint(config, dir.path(), 7);
    auto model = loadHfModel(dir.path());
    const auto& c = model->config();
    EXPECT_EQ(c.nLayers, 3);
    EXPECT_EQ(c.dModel, 48);
    EXPECT_EQ(c.nHeads, std::vector<int>(3, 6));
    EXPECT_EQ(c.nKvHeads, std::vector<int>(3, family == "llama" ? 2 : 6));
    EXPECT_EQ(c.dMlp, std::vector<int>(3, 80));
    ModelInput input;
    if (family == "vit") {
      input.pixels = torch::randn({1, 3, 32, 32});
    } else {
      input.tokens = torch::tensor({{1, 2, 3}}, torch::kLong);
    }
    const auto logits = model->forward(input);
    EXPECT_FALSE(logits.isnan().any().item<bool>());
  }
}

TEST(RandomCheckpoint, SameSeedSameBytesOtherSeedOtherWeights) {
  test::TempDir a, b, c;
  const auto config = configForShape(ModelShape{});
  writeRandomCheckpoint(config, a.path(), 1);
  writeRandomCheckpoint(config, b.path(), 1);
  writeRandomCheckpoint(config, c.path(), 2);
  const auto fa = data::SafetensorsFile::open(a / "model.safetensors");
  const auto fb = data::SafetensorsFile::open(b / "model.safetensors");
  const auto fc = data::SafetensorsFile::open(c / "model.safetensors");
  const std::string name = "transformer.h.0.attn.c_attn.weight";
  EXPECT_TRUE(torch::equal(fa.tensor(name), fb.tensor(name)));
  EXPECT_FALSE(torch::equal(fa.tensor(name), fc.tensor(name)));
}

TEST(RandomCheckpoint, PerHeadViewsShareTheFusedStorage) {
  test::TempDir dir;
  ModelShape shape;
  shape.family = "llama";
  shape.nHeads = 4;
  shape.nKvHeads = 2;
  writeRandomCheckpoint(configForShape(shape), dir.path());
  auto model = loadHfModel(dir.path());
  auto& attn = model->weights().blocks[0].attn;
  const int D = model->config().dModel, E = model->config().dHead;
  EXPECT_EQ(attn.W_Q().sizes(), (std::vector<int64_t>{4, D, E}));
  EXPECT_EQ(attn.W_K().sizes(), (std::vector<int64_t>{2, D, E}));
  EXPECT_EQ(attn.W_V().sizes(), (std::vector<int64_t>{2, D, E}));
  // Head h of W_Q is columns [h E, (h + 1) E) of the fused matrix.
  EXPECT_TRUE(torch::equal(attn.W_Q()[3], attn.W_QKV.narrow(1, 3 * E, E)));
  EXPECT_TRUE(torch::equal(attn.W_V()[1], attn.W_QKV.narrow(1, (4 + 2 + 1) * E, E)));
  attn.W_K()[1].fill_(0.5);
  EXPECT_TRUE(attn.W_QKV.narrow(1, (4 + 1) * E, E).eq(0.5).all().item<bool>());
}

}  // namespace
}  // namespace cs::models
