// The forward-pass memory estimate and the early refusal of a batch that cannot fit: a model
// given an absurd batch (an expanded view, so the test allocates nothing) throws a MemoryError
// naming the batch before it allocates.
#include "models/forward_memory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "core/error.h"
#include "models/loaders/hf_loader.h"
#include "support/message_of.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

using ::testing::HasSubstr;

TEST(ForwardMemory, GrowsWithBatchAndFasterThanLinearlyWithTokens) {
  auto model = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  const auto& config = model->config();
  const auto one = forwardActivationBytes(config, 1, 32, 4);
  EXPECT_GT(one, 0);
  EXPECT_EQ(forwardActivationBytes(config, 8, 32, 4), 8 * one);
  EXPECT_EQ(forwardActivationBytes(config, 1, 32, 2) * 2, one);
  // Attention scores and patterns grow with the square of the length.
  EXPECT_GT(forwardActivationBytes(config, 1, 64, 4), 2 * one);
  // At least the residual stream and the logits of every position.
  EXPECT_GE(one, std::int64_t{32} * (config.dModel + config.dVocab) * 4);
}

TEST(ForwardMemory, AnAbsurdBatchIsRefusedBeforeAllocating) {
  auto model = loadHfModel(test::dataPath("hf/gpt2-tiny"));
  ModelInput input;
  input.tokens = torch::zeros({1, 16}, torch::kLong).expand({std::int64_t{1} << 40, 16});
  const auto message = test::messageOf<MemoryError>([&] { (void)model->forward(input); });
  EXPECT_THAT(message, HasSubstr("a forward pass over 1099511627776 rows of 16 tokens"));
  EXPECT_THAT(message, HasSubstr("--batch"));
  // A normal batch still runs.
  input.tokens = torch::zeros({2, 16}, torch::kLong);
  EXPECT_EQ(model->forward(input).size(0), 2);
}

}  // namespace
}  // namespace cs::models
