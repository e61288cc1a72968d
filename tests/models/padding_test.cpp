// Padding: a padded batch gives the same logits at the valid positions as each row run alone,
// for left and right padding, with learned (GPT-2) and rotary (Llama) positions. Hidden keys
// hold float32's lowest finite value, or the dtype's own where that does not fit (bfloat16,
// float16: filling them with float32's overflowed).
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <limits>

#include "hooks/activation_cache.h"
#include "models/cache_run.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

class Padding : public ::testing::TestWithParam<std::string> {};

at::Tensor runAlone(Transformer& model, const std::vector<int64_t>& row) {
  ModelInput input;
  input.tokens = torch::tensor(row, torch::kLong).unsqueeze(0);
  return model.forward(input)[0];
}

TEST_P(Padding, PaddedBatchMatchesUnpaddedRows) {
  c10::InferenceMode guard;
  auto model = loadHfModel(test::dataPath("hf/" + GetParam()));
  const std::vector<int64_t> longRow{11, 22, 33, 44, 55, 66};
  const std::vector<int64_t> shortRow{7, 8, 9};
  const auto longAlone = runAlone(*model, longRow);
  const auto shortAlone = runAlone(*model, shortRow);

  for (const bool left : {false, true}) {
    SCOPED_TRACE(left ? "left padding" : "right padding");
    ModelInput input;
    input.tokens = torch::zeros({2, 6}, torch::kLong);
    input.attentionMask = torch::zeros({2, 6}, torch::kLong);
    input.tokens[0] = torch::tensor(longRow);
    input.attentionMask[0].fill_(1);
    const int64_t start = left ? 3 : 0;
    input.tokens[1].narrow(0, start, 3).copy_(torch::tensor(shortRow));
    input.attentionMask[1].narrow(0, start, 3).fill_(1);
    const auto logits = model->forward(input);
    EXPECT_FALSE(logits.isnan().any().item<bool>());
    EXPECT_LE(test::maxAbsDiff(logits[0], longAlone), 1e-5);
    EXPECT_LE(test::maxAbsDiff(logits[1].narrow(0, start, 3), shortAlone), 1e-5);
  }
}

TEST_P(Padding, HiddenKeysHoldALowestScoreTheDtypeCanHold) {
  c10::InferenceMode guard;
  for (const auto dtype : {at::kDouble, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto model = loadHfModel(test::dataPath("hf/" + GetParam()), {dtype, c10::Device(c10::kCPU)});
    ModelInput input;
    input.tokens = torch::tensor({{11, 22, 33, 44}}, torch::kLong);
    hooks::ActivationCache cache;
    runWithCache(*model, input, {"blocks.0.attn.hook_attn_scores"}, cache);
    const auto scores = cache.at("blocks.0.attn.hook_attn_scores").to(at::kDouble);  // [B,H,Q,K]
    const double lowest = dtype == at::kDouble
                              ? static_cast<double>(std::numeric_limits<float>::lowest())
                              : static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    // Key 3 is in the future of query 0; key 0 is visible to every query.
    EXPECT_EQ(scores[0][0][0][3].item<double>(), lowest);
    EXPECT_GT(scores[0][0][3][0].item<double>(), lowest);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Padding, ::testing::Values("gpt2-tiny", "llama-tiny"),
                         [](const auto& info) { return test::folderParamName(info.param); });

}  // namespace
}  // namespace cs::models
