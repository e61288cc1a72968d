// Compaction: the compacted model computes what the masked model computes (seeded random masks
// mixing heads, neurons, sublayers and blocks; grouped-query edge cases), it really is smaller,
// masks it cannot honour are refused, and the native checkpoint it is exported in loads back
// bit-exactly and refuses malformed configs naming the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "hooks/mask_set.h"
#include "models/compaction.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_application.h"
#include "models/native_checkpoint.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

namespace fs = std::filesystem;
using hooks::AblationMode;
using hooks::MaskComponent;
using hooks::MaskEntry;
using hooks::MaskSet;
using ::testing::HasSubstr;

// Compacted and masked outputs differ only by the order of float sums.
constexpr double kTolerance = 1e-5;

ModelInput inputFor(const TransformerConfig& c) {
  ModelInput input;
  if (c.input == InputKind::Patches) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
    input.pixels = at::randn({2, c.nChannels, c.imageSize, c.imageSize}, generator,
                             at::TensorOptions().dtype(at::kFloat));
  } else {
    input.tokens =
        torch::tensor({{5, 17, 3, 99, 42, 7, 64, 1}, {1, 2, 3, 4, 5, 6, 120, 77}}, torch::kLong);
  }
  return input;
}

at::Tensor run(Transformer& model, const ModelInput& input) {
  c10::InferenceMode guard;
  return model.forward(input);
}

at::Tensor runMasked(Transformer& model, const MaskSet& masks, const ModelInput& input) {
  AppliedMasks guard(model, masks);
  return run(model, input);
}

MaskEntry entry(MaskComponent component, int layer, int index = -1,
                AblationMode mode = AblationMode::Zero) {
  MaskEntry e;
  e.component = component;
  e.layer = layer;
  e.index = index;
  e.mode = mode;
  if (mode == AblationMode::Scale) e.value = 2.0;
  return e;
}

MaskSet heads(int layer, const std::vector<int>& indices) {
  MaskSet m;
  for (int h : indices) m.set(entry(MaskComponent::Head, layer, h));
  return m;
}

std::string describe(const MaskSet& masks) {
  std::string s;
  for (const auto& e : masks.entries()) s += (s.empty() ? "" : ", ") + describeTarget(e);
  return s.empty() ? "(empty mask)" : s;
}

// A mask for `seed`: densities vary with the seed; sublayers and blocks appear now and then.
MaskSet randomMask(const TransformerConfig& c, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double pHead = 0.15 + 0.2 * (seed % 4);
  const double pNeuron = 0.1 + 0.25 * (seed % 3);
  MaskSet m;
  for (int l = 0; l < c.nLayers; ++l) {
    if (u(rng) < 0.15) m.set(entry(MaskComponent::Block, l));
    if (u(rng) < 0.25) m.set(entry(MaskComponent::AttnSublayer, l));
    if (u(rng) < 0.25) m.set(entry(MaskComponent::MlpSublayer, l));
    for (int h = 0; h < c.nHeads[l]; ++h) {
      if (u(rng) < pHead) m.set(entry(MaskComponent::Head, l, h));
    }
    for (int i = 0; i < c.dMlp[l]; ++i) {
      if (u(rng) < pNeuron) m.set(entry(MaskComponent::Neuron, l, i));
    }
  }
  return m;
}

class CompactionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model = loadHfModel(test::dataPath("hf/" + GetParam()));
    input = inputFor(model->config());
  }

  // Compacts, checks against the masked source, returns the difference.
  double compareWithMasked(const MaskSet& masks) {
    const auto masked = runMasked(*model, masks, input);
    const auto compacted = compactModel(*model, masks);
    const double diff = test::maxAbsDiff(masked, run(*compacted, input));
    EXPECT_LE(diff, kTolerance) << GetParam() << ", mask: " << describe(masks);
    return diff;
  }

  std::unique_ptr<Transformer> model;
  ModelInput input;
};

TEST_P(CompactionTest, RandomMasksMatchTheMaskedModel) {
  const auto plain = run(*model, input);
  double largest = 0;
  int sublayers = 0, blocks = 0, changed = 0;
  constexpr int kMasks = 8;
  for (std::uint32_t seed = 1; seed <= kMasks; ++seed) {
    const auto masks = randomMask(model->config(), seed);
    for (const auto& e : masks.entries()) {
      sublayers +=
          e.component == MaskComponent::AttnSublayer || e.component == MaskComponent::MlpSublayer;
      blocks += e.component == MaskComponent::Block;
    }
    if (test::maxAbsDiff(plain, runMasked(*model, masks, input)) > 1e-4) ++changed;
    largest = std::max(largest, compareWithMasked(masks));
  }
  std::printf("[ compaction ] %s: largest |compacted - masked| over %d random masks = %.3g\n",
              GetParam().c_str(), kMasks, largest);
  // The masks must mix every kind of entry and matter, or the comparison means little.
  EXPECT_GT(sublayers, 0);
  EXPECT_GT(blocks, 0);
  EXPECT_GE(changed, kMasks - 1);
  // The source model is left as it was.
  EXPECT_TRUE(torch::equal(plain, run(*model, input)));
}

TEST_P(CompactionTest, EmptyMaskKeepsEverything) {
  const auto compacted = compactModel(*model, MaskSet{});
  EXPECT_EQ(compacted->weights().parameterCount(), model->weights().parameterCount());
  EXPECT_LE(test::maxAbsDiff(run(*model, input), run(*compacted, input)), kTolerance);
}

TEST_P(CompactionTest, AllHeadsOfALayer) {
  const int heads = model->config().nHeads[0];
  MaskSet masks;
  for (int h = 0; h < heads; ++h) masks.set(entry(MaskComponent::Head, 0, h));
  masks.set(entry(MaskComponent::Neuron, 1, 3));
  compareWithMasked(masks);
  const auto compacted = compactModel(*model, masks);
  const auto& c = compacted->config();
  EXPECT_EQ(c.nHeads[0], 0);
  EXPECT_EQ(c.nKvHeads[0], 0);
  const auto& attn = compacted->weights().blocks[0].attn;
  EXPECT_EQ(attn.W_QKV.sizes(), (at::IntArrayRef{c.dModel, 0}));
  EXPECT_EQ(attn.W_O.sizes(), (at::IntArrayRef{0, c.dHead, c.dModel}));
  // With an output bias the sublayer still adds b_O (the H == 0 path); without one it adds
  // nothing and is skipped.
  EXPECT_EQ(c.skipsAttention(0), !attn.b_O.defined());
  EXPECT_FALSE(c.skipsAttention(1));
}

TEST_P(CompactionTest, AllNeuronsOfALayer) {
  const int width = model->config().dMlp[1];
  MaskSet masks;
  for (int i = 0; i < width; ++i) masks.set(entry(MaskComponent::Neuron, 1, i));
  masks.set(entry(MaskComponent::Head, 0, 1));
  compareWithMasked(masks);
  const auto compacted = compactModel(*model, masks);
  const auto& c = compacted->config();
  EXPECT_EQ(c.dMlp[1], 0);
  const auto& mlp = compacted->weights().blocks[1].mlp;
  EXPECT_EQ(mlp.W_in.sizes(), (at::IntArrayRef{c.dModel, 0}));
  EXPECT_EQ(mlp.W_out.sizes(), (at::IntArrayRef{0, c.dModel}));
  EXPECT_EQ(c.skipsMlp(1), !mlp.b_out.defined());
}

TEST_P(CompactionTest, EverythingRemoved) {
  MaskSet masks;
  for (int l = 0; l < model->config().nLayers; ++l) masks.set(entry(MaskComponent::Block, l));
  compareWithMasked(masks);
  const auto compacted = compactModel(*model, masks);
  for (int l = 0; l < model->config().nLayers; ++l) {
    EXPECT_TRUE(compacted->config().skipsAttention(l));
    EXPECT_TRUE(compacted->config().skipsMlp(l));
    EXPECT_EQ(compacted->config().nHeads[l], 0);
    EXPECT_EQ(compacted->config().dMlp[l], 0);
  }
}

TEST_P(CompactionTest, SkipFlagsOfTheSourceAreKept) {
  model->setSkipped(1, Sublayer::Mlp, true);
  const auto masks = heads(0, {2});
  compareWithMasked(masks);
  const auto compacted = compactModel(*model, masks);
  EXPECT_TRUE(compacted->config().skipsMlp(1));
  EXPECT_EQ(compacted->config().dMlp[1], 0);
  EXPECT_FALSE(compacted->config().skipsAttention(1));
}

TEST_P(CompactionTest, IsSmallerAndOwnsFreshWeights) {
  const auto& source = model->config();
  const int64_t D = source.dModel, E = source.dHead;
  MaskSet masks = heads(0, {0, 2});
  for (int i : {1, 5, 7}) masks.set(entry(MaskComponent::Neuron, 1, i));
  masks.set(entry(MaskComponent::AttnSublayer, 1));
  const auto compacted = compactModel(*model, masks);
  const auto& c = compacted->config();

  // Query heads 0 and 2 of layer 0 go. With grouped queries (llama-tiny: heads 0, 1 read kv 0
  // and 2, 3 read kv 1) both key/value heads are still read; otherwise each head's own go too.
  const bool grouped = source.nKvHeads[0] != source.nHeads[0];
  const int64_t keptKv = grouped ? source.nKvHeads[0] : source.nKvHeads[0] - 2;
  EXPECT_EQ(c.nHeads, (std::vector<int>{source.nHeads[0] - 2, 0}));
  EXPECT_EQ(c.nKvHeads, (std::vector<int>{static_cast<int>(keptKv), 0}));
  EXPECT_EQ(c.dMlp, (std::vector<int>{source.dMlp[0], source.dMlp[1] - 3}));
  EXPECT_EQ(c.attnSkipped, (std::vector<bool>{false, true}));
  const auto& b0 = compacted->weights().blocks[0];
  EXPECT_EQ(b0.attn.W_QKV.sizes(), (at::IntArrayRef{D, (source.nHeads[0] - 2 + 2 * keptKv) * E}));
  EXPECT_EQ(b0.attn.W_O.sizes(), (at::IntArrayRef{source.nHeads[0] - 2, E, D}));
  EXPECT_EQ(compacted->weights().blocks[1].mlp.W_out.size(0), source.dMlp[1] - 3);

  // Parameter count: each removed query head takes its W_QKV columns (and biases) and its W_O
  // rows; each removed key/value head its K and V columns; each neuron its W_in (W_gate) column,
  // b_in entry and W_out row; the skipped attention sublayer all of its heads.
  const int64_t qkvBias = source.qkvBias ? 1 : 0;
  const int64_t perQuery = D * E + qkvBias * E + E * D;
  const int64_t perKv = 2 * (D * E + qkvBias * E);
  const int64_t perNeuron = D * (source.gatedMlp ? 2 : 1) + (source.mlpBias ? 1 : 0) + D;
  const int64_t removed = 2 * perQuery + (source.nKvHeads[0] - keptKv) * perKv + 3 * perNeuron +
                          source.nHeads[1] * perQuery + source.nKvHeads[1] * perKv;
  EXPECT_EQ(compacted->weights().parameterCount(), model->weights().parameterCount() - removed);

  // Fresh, contiguous tensors: nothing views the source.
  const auto sourceTensors = model->weights().namedTensors();
  for (const auto& [name, t] : compacted->weights().namedTensors()) {
    EXPECT_TRUE(t.is_contiguous()) << name;
    EXPECT_EQ(t.device(), model->device()) << name;
    EXPECT_EQ(t.scalar_type(), model->dtype()) << name;
    for (const auto& [sourceName, s] : sourceTensors) {
      EXPECT_FALSE(t.numel() > 0 && t.is_alias_of(s)) << name << " views " << sourceName;
    }
  }
  const auto& w = compacted->weights();
  if (source.tiedEmbeddings) {
    EXPECT_TRUE(w.W_U.is_alias_of(w.W_E));
  }
}

INSTANTIATE_TEST_SUITE_P(Compaction, CompactionTest,
                         ::testing::Values("gpt2-tiny", "llama-tiny", "vit-tiny"),
                         [](const auto& info) { return test::folderParamName(info.param); });

// ---- grouped-query attention (llama-tiny: 4 query heads, 2 key/value heads) ----------------

class CompactionGqa : public ::testing::Test {
 protected:
  void SetUp() override {
    model = loadHfModel(test::dataPath("hf/llama-tiny"));
    ASSERT_EQ(model->config().nHeads[0], 4);
    ASSERT_EQ(model->config().nKvHeads[0], 2);
    input = inputFor(model->config());
  }
  std::unique_ptr<Transformer> compactChecked(const MaskSet& masks) {
    auto compacted = compactModel(*model, masks);
    const double diff = test::maxAbsDiff(runMasked(*model, masks, input), run(*compacted, input));
    EXPECT_LE(diff, kTolerance) << describe(masks);
    return compacted;
  }
  std::unique_ptr<Transformer> model;
  ModelInput input;
};

TEST_F(CompactionGqa, AWholeKeyValueGroupGoes) {
  const auto compacted = compactChecked(heads(0, {0, 1}));
  const auto& c = compacted->config();
  EXPECT_EQ(c.nHeads[0], 2);
  EXPECT_EQ(c.nKvHeads[0], 1);
  EXPECT_TRUE(c.kvHeadOfQuery.empty()) << "two heads on one key/value head are evenly grouped";
  // The kept key/value head is the old head 1.
  EXPECT_TRUE(torch::equal(compacted->weights().blocks[0].attn.W_K()[0],
                           model->weights().blocks[0].attn.W_K()[1]));
}

TEST_F(CompactionGqa, UnevenGroupsGetAMap) {
  const auto compacted = compactChecked(heads(0, {1}));
  const auto& c = compacted->config();
  EXPECT_EQ(c.nHeads[0], 3);
  EXPECT_EQ(c.nKvHeads[0], 2);
  ASSERT_EQ(c.kvHeadOfQuery.size(), 2u);
  EXPECT_EQ(c.kvHeadOfQuery[0], (std::vector<int>{0, 1, 1}));
  EXPECT_TRUE(c.kvHeadOfQuery[1].empty());
}

TEST_F(CompactionGqa, OneHeadPerGroupIsEven) {
  for (const auto& kept : {std::vector<int>{1, 2}, std::vector<int>{0, 3}}) {
    std::vector<int> removed;
    for (int h = 0; h < 4; ++h) {
      if (std::find(kept.begin(), kept.end(), h) == kept.end()) removed.push_back(h);
    }
    const auto compacted = compactChecked(heads(0, removed));
    EXPECT_EQ(compacted->config().nKvHeads[0], 2);
    EXPECT_TRUE(compacted->config().kvHeadOfQuery.empty());
  }
}

TEST_F(CompactionGqa, MixedLayersAndACompactedModelCompactsAgain) {
  MaskSet masks = heads(0, {1});
  masks.set(entry(MaskComponent::Head, 1, 0));
  masks.set(entry(MaskComponent::Head, 1, 1));
  masks.set(entry(MaskComponent::Head, 1, 3));
  masks.set(entry(MaskComponent::Neuron, 0, 10));
  auto once = compactChecked(masks);
  EXPECT_EQ(once->config().nKvHeads, (std::vector<int>{2, 1}));
  ASSERT_FALSE(once->config().kvHeadOfQuery.empty());
  EXPECT_EQ(once->config().kvHeadOfQuery[0], (std::vector<int>{0, 1, 1}));

  // Removing the new head 0 (the old head 0) leaves two heads on one key/value head: even.
  const auto again = heads(0, {0});
  const auto masked = runMasked(*once, again, input);
  const auto twice = compactModel(*once, again);
  EXPECT_LE(test::maxAbsDiff(masked, run(*twice, input)), kTolerance);
  EXPECT_EQ(twice->config().nHeads[0], 2);
  EXPECT_EQ(twice->config().nKvHeads[0], 1);
  EXPECT_TRUE(twice->config().kvHeadOfQuery.empty());
}

TEST_F(CompactionGqa, RandomHeadSubsets) {
  // Every subset of layer 0's heads, with a random subset of layer 1's.
  std::mt19937 rng(11);
  double largest = 0;
  for (int subset = 0; subset < 16; ++subset) {
    MaskSet masks;
    for (int h = 0; h < 4; ++h) {
      if (subset & (1 << h)) masks.set(entry(MaskComponent::Head, 0, h));
      if (rng() % 2) masks.set(entry(MaskComponent::Head, 1, h));
    }
    const auto compacted = compactModel(*model, masks);
    const double diff = test::maxAbsDiff(runMasked(*model, masks, input), run(*compacted, input));
    EXPECT_LE(diff, kTolerance) << describe(masks);
    largest = std::max(largest, diff);
  }
  std::printf("[ compaction ] llama-tiny head subsets: largest |compacted - masked| = %.3g\n",
              largest);
}

// ---- refusals -------------------------------------------------------------------------------

TEST(CompactionErrors, OnlyZeroAblationsAreRemoved) {
  const auto model = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  for (auto mode : {AblationMode::Mean, AblationMode::Scale, AblationMode::Resample}) {
    MaskSet masks = heads(0, {0});
    masks.set(entry(MaskComponent::Head, 1, 2, mode));
    const auto message = test::messageOf<ConfigError>([&] { (void)compactModel(*model, masks); });
    EXPECT_THAT(message, HasSubstr("head 1.2"));
    EXPECT_THAT(message, HasSubstr(std::string(hooks::modeName(mode))));
    EXPECT_THAT(message, HasSubstr("only zero ablations can be removed"));
  }
  MaskSet block;
  block.set(entry(MaskComponent::Block, 0, -1, AblationMode::Mean));
  EXPECT_THAT(test::messageOf<ConfigError>([&] { (void)compactModel(*model, block); }),
              HasSubstr("block 0"));
}

TEST(CompactionErrors, EntriesOutsideTheModelAreRefused) {
  const auto model = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  EXPECT_THAT(test::messageOf<ConfigError>([&] { (void)compactModel(*model, heads(0, {4})); }),
              HasSubstr("head 0.4"));
  MaskSet neuron;
  neuron.set(entry(MaskComponent::Neuron, 1, 256));
  EXPECT_THAT(test::messageOf<ConfigError>([&] { (void)compactModel(*model, neuron); }),
              HasSubstr("neuron 1.256"));
  MaskSet layer;
  layer.set(entry(MaskComponent::MlpSublayer, 2));
  EXPECT_THAT(test::messageOf<ConfigError>([&] { (void)compactModel(*model, layer); }),
              HasSubstr("layers 0 to 1"));
}

// ---- export: the native checkpoint ------------------------------------------------------------

class CompactionExport : public ::testing::TestWithParam<std::string> {};

TEST_P(CompactionExport, RoundTripIsBitExact) {
  auto model = loadHfModel(test::dataPath("hf/" + GetParam()));
  const auto input = inputFor(model->config());
  MaskSet masks = heads(0, {1});  // llama-tiny: uneven groups, so a key/value map is stored
  masks.set(entry(MaskComponent::Neuron, 0, 4));
  masks.set(entry(MaskComponent::Neuron, 1, 9));
  masks.set(entry(MaskComponent::AttnSublayer, 1));
  const auto compacted = compactModel(*model, masks);
  if (GetParam() == "llama-tiny") {
    ASSERT_FALSE(compacted->config().kvHeadOfQuery.empty());
  }

  test::TempDir dir;
  const nlohmann::json provenance{{"source", GetParam()}, {"mask", describe(masks)}};
  saveNativeCheckpoint(*compacted, dir.path(), &provenance);
  const auto loaded = loadHfModel(dir.path());
  EXPECT_TRUE(loaded->config() == compacted->config());
  EXPECT_EQ(loaded->config().family, model->config().family);
  EXPECT_EQ(loaded->config().modelType, model->config().modelType);
  EXPECT_EQ(loaded->weights().parameterCount(), compacted->weights().parameterCount());
  EXPECT_TRUE(torch::equal(run(*loaded, input), run(*compacted, input)));
  if (compacted->config().tiedEmbeddings) {
    EXPECT_TRUE(loaded->weights().W_U.is_alias_of(loaded->weights().W_E));
  }

  std::ifstream in(dir / "config.json");
  const auto config = nlohmann::json::parse(in);
  EXPECT_EQ(config["model_type"], "circuitscope");
  EXPECT_EQ(config["format_version"], 1);
  EXPECT_EQ(config["circuitscope_provenance"], provenance);
  EXPECT_EQ(config["n_heads"].size(), 2u);
}

TEST_P(CompactionExport, UncompactedModelsExportToo) {
  auto model = loadHfModel(test::dataPath("hf/" + GetParam()));
  const auto input = inputFor(model->config());
  test::TempDir dir;
  saveNativeCheckpoint(*model, dir.path());
  const auto loaded = loadHfModel(dir.path());
  EXPECT_TRUE(loaded->config() == model->config());
  // Transposed views in the source (an untied W_U) become contiguous: equal up to float sums.
  EXPECT_LE(test::maxAbsDiff(run(*loaded, input), run(*model, input)), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Compaction, CompactionExport,
                         ::testing::Values("gpt2-tiny", "llama-tiny", "vit-tiny"),
                         [](const auto& info) { return test::folderParamName(info.param); });

TEST(CompactionExportDtype, Float64StaysFloat64) {
  auto model = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  model->to(c10::kCPU, at::kDouble);
  const auto compacted = compactModel(*model, heads(1, {0, 3}));
  EXPECT_EQ(compacted->dtype(), at::kDouble);
  test::TempDir dir;
  saveNativeCheckpoint(*compacted, dir.path());
  LoadOptions options;
  options.dtype = at::kDouble;
  const auto loaded = loadHfModel(dir.path(), options);
  const auto input = inputFor(model->config());
  EXPECT_TRUE(torch::equal(run(*loaded, input), run(*compacted, input)));
}

// Malformed native configs, each an edit of a valid export.
class CompactionNativeConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = loadHfModel(test::dataPath("hf/llama-tiny"));
    const auto compacted = compactModel(*model, heads(0, {1}));  // kv_head_of_query [[0,1,1],[]]
    saveNativeCheckpoint(*compacted, dir.path());
    std::ifstream in(dir / "config.json");
    valid = nlohmann::json::parse(in);
  }
  // Loads with config.json replaced by `config`; returns the ConfigError message.
  std::string loadError(const nlohmann::json& config) {
    std::ofstream(dir / "config.json", std::ios::trunc) << config.dump(2);
    return test::messageOf<ConfigError>([&] { (void)loadHfModel(dir.path()); });
  }
  test::TempDir dir;
  nlohmann::json valid;
};

TEST_F(CompactionNativeConfig, ValidLoads) {
  std::ofstream(dir / "config.json", std::ios::trunc) << valid.dump(2);
  EXPECT_NO_THROW((void)loadHfModel(dir.path()));
}

TEST_F(CompactionNativeConfig, WrongTypes) {
  auto j = valid;
  j["n_heads"] = "3";
  EXPECT_THAT(loadError(j), HasSubstr("\"n_heads\" must be an array"));
  j = valid;
  j["d_mlp"][1] = 9.5;
  EXPECT_THAT(loadError(j), HasSubstr("\"d_mlp[1]\""));
  j = valid;
  j["causal"] = 1;
  EXPECT_THAT(loadError(j), HasSubstr("\"causal\" must be true or false"));
  j = valid;
  j["norm"] = "batch_norm";
  EXPECT_THAT(loadError(j), HasSubstr("\"norm\" must be one of layer_norm, rms_norm"));
  j = valid;
  j["rope"]["theta"] = -1;
  EXPECT_THAT(loadError(j), HasSubstr("\"rope.theta\""));
  j = valid;
  j["attn_skipped"][0] = "no";
  EXPECT_THAT(loadError(j), HasSubstr("\"attn_skipped[0]\""));
  j = valid;
  j.erase("qkv_bias");
  EXPECT_THAT(loadError(j), HasSubstr("\"qkv_bias\" is missing"));
}

TEST_F(CompactionNativeConfig, PerLayerArraysOfTheWrongLength) {
  auto j = valid;
  j["d_mlp"] = {96};
  EXPECT_THAT(loadError(j), HasSubstr("\"d_mlp\" must have one entry per layer (2), got 1"));
  j = valid;
  j["n_kv_heads"] = {2, 2, 2};
  EXPECT_THAT(loadError(j), HasSubstr("\"n_kv_heads\""));
  j = valid;
  j["mlp_skipped"] = {false};
  EXPECT_THAT(loadError(j), HasSubstr("\"mlp_skipped\""));
  j = valid;
  j["kv_head_of_query"][0] = {0, 1};
  EXPECT_THAT(loadError(j), HasSubstr("\"kv_head_of_query[0]\""));
}

TEST_F(CompactionNativeConfig, OutOfRange) {
  ASSERT_EQ(valid["kv_head_of_query"][0], nlohmann::json({0, 1, 1}));
  auto j = valid;
  j["kv_head_of_query"][0][1] = 2;
  EXPECT_THAT(loadError(j), HasSubstr("\"kv_head_of_query[0][1]\" must be an integer in [0, 1]"));
  j = valid;
  j["kv_head_of_query"] = nlohmann::json::array();  // 3 heads on 2 key/value heads need a map
  EXPECT_THAT(loadError(j), HasSubstr("\"n_kv_heads[0]\""));
  j = valid;
  j["n_heads"][1] = -1;
  EXPECT_THAT(loadError(j), HasSubstr("\"n_heads[1]\""));
  j = valid;
  j["n_layers"] = 0;
  EXPECT_THAT(loadError(j), HasSubstr("\"n_layers\""));
  j = valid;
  j["format_version"] = 2;
  EXPECT_THAT(loadError(j), HasSubstr("\"format_version\" 2 is newer"));
}

TEST_F(CompactionNativeConfig, SizesThatDisagreeWithTheTensors) {
  auto j = valid;
  j["d_mlp"][0] = 95;
  EXPECT_THAT(test::messageOf<ShapeError>([&] {
                std::ofstream(dir / "config.json", std::ios::trunc) << j.dump(2);
                (void)loadHfModel(dir.path());
              }),
              HasSubstr("blocks.0.mlp.W_in"));
}

}  // namespace
}  // namespace cs::models
