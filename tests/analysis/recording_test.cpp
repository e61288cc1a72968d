// Recording: stored activations equal an in-memory cache run bit for bit (float32), positions
// are selected per example, and a cancelled recording keeps whole batches and resumes to the
// same content as an uninterrupted one.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "analysis/recording.h"
#include "core/error.h"
#include "data/store/activation_store_reader.h"
#include "data/synthetic_datasets.h"
#include "models/cache_run.h"
#include "models/loaders/hf_loader.h"
#include "models/loaders/model_identity.h"
#include "support/test_support.h"

namespace cs::analysis {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPatterns = {"blocks.*.hook_resid_post",
                                            "blocks.0.attn.hook_pattern",
                                            "blocks.1.attn.hook_result", "blocks.0.mlp.hook_post"};

// Induction rows whose odd examples end early (right padding, attention mask 0).
class PaddedInduction final : public data::Dataset {
 public:
  std::int64_t size() const override { return m_inner.size(); }
  data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override {
    auto b = m_inner.batch(begin, count);
    b.attentionMask = at::ones_like(b.tokens);
    for (std::int64_t r = 0; r < b.tokens.size(0); ++r) {
      if ((begin + r) % 2 == 1) b.attentionMask[r].narrow(0, 30, 10).zero_();
    }
    b.lossMask = at::Tensor();
    return b;
  }
  std::string describe() const override { return "padded induction"; }

 private:
  data::InductionDataset m_inner{10, 20, 128, 7};
};

// Passes batches through and cancels `progress` when asked for rows from `cancelAt` on.
class CancellingDataset final : public data::Dataset {
 public:
  CancellingDataset(const data::Dataset& inner, Progress& progress, std::int64_t cancelAt)
      : m_inner(inner), m_progress(progress), m_cancelAt(cancelAt) {}
  std::int64_t size() const override { return m_inner.size(); }
  data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override {
    if (begin >= m_cancelAt) m_progress.cancel();
    return m_inner.batch(begin, count);
  }
  std::string describe() const override { return m_inner.describe(); }

 private:
  const data::Dataset& m_inner;
  Progress& m_progress;
  std::int64_t m_cancelAt;
};

struct Fixture {
  std::unique_ptr<models::Transformer> model = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
  data::ModelIdentity identity = models::identifyModelFolder(test::dataPath("hf/gpt2-tiny"));
};

// The cache-run reference for rows [begin, begin + count) in one forward pass.
hooks::ActivationCache reference(models::Model& model, const data::Dataset& dataset,
                                 std::int64_t begin, std::int64_t count) {
  c10::InferenceMode guard;
  const auto batch = dataset.batch(begin, count);
  hooks::ActivationCache cache;
  models::runWithCache(model, {batch.tokens, batch.attentionMask, {}, {}}, kPatterns, cache);
  return cache;
}

TEST(Recording, Float32StoreEqualsACacheRunBitForBit) {
  Fixture f;
  const data::InductionDataset dataset(10, 20, 128, 3);
  test::TempDir dir;
  RecordOptions options;
  options.hookPatterns = kPatterns;
  options.batchSize = 4;
  const auto result =
      recordActivations(*f.model, dataset, f.identity, dir / "r.h5", options, noProgress());
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.rowsInStore, 10);
  EXPECT_EQ(result.hooks.size(), 5u);

  const data::ActivationStoreReader store(dir / "r.h5");
  EXPECT_TRUE(store.complete());
  EXPECT_EQ(store.header().layout.model.weightsSha256, f.identity.weightsSha256);
  EXPECT_EQ(store.hooks(), result.hooks);
  EXPECT_EQ(store.activation("blocks.1.attn.hook_result").axes, "example,pos,head,d_model");
  for (std::int64_t begin = 0; begin < 10; begin += 4) {
    const auto count = std::min<std::int64_t>(4, 10 - begin);
    const auto cache = reference(*f.model, dataset, begin, count);
    for (const auto& hook : store.hooks()) {
      SCOPED_TRACE(hook + " rows " + std::to_string(begin));
      EXPECT_TRUE(at::equal(store.readActivations(hook, begin, count), cache.at(hook)));
    }
    EXPECT_TRUE(
        at::equal(store.readInput("tokens", begin, count), dataset.batch(begin, count).tokens));
  }
}

TEST(Recording, LastPositionIsEachExamplesLastRealToken) {
  Fixture f;
  const PaddedInduction dataset;
  test::TempDir dir;
  RecordOptions options;
  options.hookPatterns = kPatterns;
  options.positions = "last";
  options.batchSize = 3;
  recordActivations(*f.model, dataset, f.identity, dir / "last.h5", options, noProgress());
  const data::ActivationStoreReader store(dir / "last.h5");
  EXPECT_EQ(store.header().layout.positions, "last");
  const auto positions = store.readInput("positions", 0, 10);
  EXPECT_EQ(positions[0][0].item<std::int64_t>(), 39);
  EXPECT_EQ(positions[1][0].item<std::int64_t>(), 29);
  for (std::int64_t begin = 0; begin < 10; begin += 3) {
    const auto count = std::min<std::int64_t>(3, 10 - begin);
    const auto cache = reference(*f.model, dataset, begin, count);
    for (std::int64_t r = 0; r < count; ++r) {
      const auto p = positions[begin + r][0].item<std::int64_t>();
      const auto resid = store.readActivations("blocks.1.hook_resid_post", begin + r, 1);
      EXPECT_TRUE(at::equal(resid[0][0], cache.at("blocks.1.hook_resid_post")[r][p]));
      // Patterns keep every key position of the selected query.
      const auto pattern = store.readActivations("blocks.0.attn.hook_pattern", begin + r, 1);
      EXPECT_TRUE(at::equal(pattern[0].select(1, 0),
                            cache.at("blocks.0.attn.hook_pattern")[r].select(1, p)));
    }
  }
}

TEST(Recording, PositionListKeepsTheListedPositions) {
  Fixture f;
  const data::InductionDataset dataset(4, 20, 128, 5);
  test::TempDir dir;
  RecordOptions options;
  options.hookPatterns = {"blocks.0.hook_resid_post"};
  options.positions = "0,21,39";
  recordActivations(*f.model, dataset, f.identity, dir / "list.h5", options, noProgress());
  const data::ActivationStoreReader store(dir / "list.h5");
  const auto stored = store.readActivations("blocks.0.hook_resid_post", 0, 4);
  ASSERT_EQ(stored.sizes().vec(), (std::vector<std::int64_t>{4, 3, 64}));
  const auto cache = reference(*f.model, dataset, 0, 4);
  const auto expected =
      cache.at("blocks.0.hook_resid_post").index_select(1, at::tensor({0, 21, 39}, at::kLong));
  EXPECT_TRUE(at::equal(stored, expected));

  options.positions = "0,40";
  const auto message = test::messageOf<ConfigError>([&] {
    recordActivations(*f.model, dataset, f.identity, dir / "bad.h5", options, noProgress());
  });
  EXPECT_NE(message.find("position 40 is beyond the 40 positions"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "bad.h5")) << "a failed first batch must not leave a file";
}

TEST(Recording, CancelKeepsWholeBatchesAndResumeMatchesAnUninterruptedRun) {
  Fixture f;
  const data::InductionDataset dataset(12, 20, 128, 11);
  test::TempDir dir;
  RecordOptions options;
  options.hookPatterns = kPatterns;
  options.batchSize = 2;
  recordActivations(*f.model, dataset, f.identity, dir / "whole.h5", options, noProgress());

  // Cancel as the fourth batch is read, as a user's Cancel or Ctrl-C would arrive mid-run.
  Progress progress;
  const CancellingDataset cancelling(dataset, progress, 6);
  EXPECT_THROW(
      recordActivations(*f.model, cancelling, f.identity, dir / "cut.h5", options, progress),
      Cancelled);
  std::int64_t kept = 0;
  {
    const data::ActivationStoreReader cut(dir / "cut.h5");
    EXPECT_FALSE(cut.complete());
    kept = cut.rows();
    // The batch being computed when Cancel came is finished and kept; nothing after it.
    EXPECT_EQ(kept, 8);
  }
  options.mode = data::StoreOpenMode::Resume;
  const auto resumed =
      recordActivations(*f.model, dataset, f.identity, dir / "cut.h5", options, noProgress());
  EXPECT_EQ(resumed.rowsThisRun, 12 - kept);
  EXPECT_EQ(resumed.rowsInStore, 12);

  const data::ActivationStoreReader whole(dir / "whole.h5"), cut(dir / "cut.h5");
  EXPECT_TRUE(cut.complete());
  for (const auto& hook : whole.hooks()) {
    SCOPED_TRACE(hook);
    EXPECT_TRUE(at::equal(cut.readActivations(hook, 0, 12), whole.readActivations(hook, 0, 12)));
  }
  EXPECT_TRUE(at::equal(cut.readInput("tokens", 0, 12), whole.readInput("tokens", 0, 12)));
}

TEST(Recording, AppendAddsExamplesAndRefusesAnotherModel) {
  Fixture f;
  const data::InductionDataset dataset(4, 20, 128, 2);
  test::TempDir dir;
  RecordOptions options;
  options.hookPatterns = {"blocks.*.hook_resid_post"};
  recordActivations(*f.model, dataset, f.identity, dir / "a.h5", options, noProgress());
  options.mode = data::StoreOpenMode::Append;
  const auto appended =
      recordActivations(*f.model, dataset, f.identity, dir / "a.h5", options, noProgress());
  EXPECT_EQ(appended.rowsInStore, 8);
  {
    const data::ActivationStoreReader store(dir / "a.h5");
    EXPECT_TRUE(at::equal(store.readActivations("blocks.1.hook_resid_post", 0, 4),
                          store.readActivations("blocks.1.hook_resid_post", 4, 4)));
  }

  auto other = f.identity;
  other.weightsSha256 = std::string(64, '0');
  const auto message = test::messageOf<ConfigError>(
      [&] { recordActivations(*f.model, dataset, other, dir / "a.h5", options, noProgress()); });
  EXPECT_NE(message.find("different model"), std::string::npos) << message;
}

TEST(Recording, PatternsThatMatchNothingAreRefusedBeforeAnyFile) {
  Fixture f;
  const data::InductionDataset dataset(4, 20, 128, 2);
  test::TempDir dir;
  RecordOptions options;
  options.hookPatterns = {"blocks.*.hook_nothing"};
  EXPECT_THROW(
      recordActivations(*f.model, dataset, f.identity, dir / "n.h5", options, noProgress()),
      ConfigError);
  EXPECT_FALSE(fs::exists(dir / "n.h5"));
}

}  // namespace
}  // namespace cs::analysis
