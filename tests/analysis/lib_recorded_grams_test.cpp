// The Local Interaction Basis with its Gram matrices read from an activation store: the same
// Grams as the live rows give (to the store's float32), the basis invariants with them, a store
// larger than the live rows averaging over all of its examples, batches not changing the sums,
// and clear refusals of recordings that cannot serve.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <string>
#include <vector>

#include "analysis/local_interaction_basis.h"
#include "analysis/recording.h"
#include "core/error.h"
#include "models/loaders/hf_loader.h"
#include "models/loaders/model_identity.h"
#include "support/message_of.h"
#include "support/predicted_rows.h"
#include "support/test_support.h"

namespace cs::analysis {
namespace {

using test::PredictedRows;

const std::vector<std::string> kNodeLayers = {"blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid",
                                              "blocks.1.hook_resid_pre", "output"};

double maxAbs(const Eigen::MatrixXd& m) { return m.size() ? m.cwiseAbs().maxCoeff() : 0.0; }

struct Fixture {
  std::filesystem::path folder = test::dataPath("hf/gpt2-tiny");
  std::unique_ptr<models::Transformer> model = models::loadHfModel(folder);
  data::ModelIdentity identity = models::identifyModelFolder(folder);
  test::TempDir dir;

  at::Tensor tokens(std::int64_t rows, std::int64_t length, std::uint64_t seed) const {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randint(model->config().dVocab, {rows, length}, generator, at::kLong);
  }

  std::filesystem::path record(const data::Dataset& rows, const std::string& name,
                               const std::string& positions = "all") {
    RecordOptions o;
    o.hookPatterns = {"blocks.*.hook_resid_pre", "blocks.*.hook_resid_mid", "hook_logits"};
    o.positions = positions;
    o.batchSize = 8;
    recordActivations(*model, rows, identity, dir / name, o, noProgress());
    return dir / name;
  }

  LibOptions options(const std::filesystem::path& store = {}) const {
    LibOptions o;
    o.nodeLayers = kNodeLayers;
    o.batchSize = 16;
    o.ablationCurves = false;
    if (!store.empty()) o.gramRecording = LibGramRecording{store, identity};
    return o;
  }
};

TEST(LibRecordedGrams, EqualTheLiveGramsAndKeepTheInvariants) {
  Fixture f;
  const PredictedRows rows(*f.model, f.tokens(24, 5, 1));
  const auto store = f.record(rows, "grams.h5");
  const auto live = computeLib(*f.model, rows, f.options());
  const auto recorded = computeLib(*f.model, rows, f.options(store));
  EXPECT_EQ(live.gramSource, "live");
  EXPECT_EQ(recorded.gramSource, store.string());
  EXPECT_EQ(recorded.gramExamples, 24);
  ASSERT_EQ(recorded.layers.size(), live.layers.size());
  for (std::size_t l = 0; l < live.layers.size(); ++l) {
    const auto& R = recorded.layers[l];
    const auto& L = live.layers[l];
    SCOPED_TRACE(L.name);
    ASSERT_EQ(R.gram.rows(), L.gram.rows());
    // The store keeps the model's float32; the live Gram comes from float64 sections.
    EXPECT_LT(maxAbs(R.gram - L.gram), 1e-5 * maxAbs(L.gram));
    if (l + 1 < live.layers.size()) {
      EXPECT_EQ(R.gram(R.gram.rows() - 1, R.gram.cols() - 1), 1.0);  // the constant coordinate
      // C^T G C = diag(Lambda) and C+ C = I against the recorded Gram.
      const Eigen::MatrixXd Lambda = R.lambda.asDiagonal();
      EXPECT_LT(maxAbs(R.C.transpose() * R.gram * R.C - Lambda),
                1e-10 * std::max(1.0, R.lambda.maxCoeff()));
      EXPECT_LT(maxAbs(R.Cplus * R.C - Eigen::MatrixXd::Identity(R.C.cols(), R.C.cols())), 1e-9);
    }
  }
  for (const auto& E : recorded.edges) EXPECT_GE(E.minCoeff(), 0.0);
}

TEST(LibRecordedGrams, AStoreLargerThanTheLiveRowsAveragesOverAllOfIt) {
  Fixture f;
  const PredictedRows all(*f.model, f.tokens(40, 4, 2));
  const auto store = f.record(all, "large.h5");
  auto liveAll = f.options();
  liveAll.edges = false;
  const auto reference = computeLib(*f.model, all, liveAll);

  auto fromStore = f.options(store);
  fromStore.limit = 8;  // the Jacobians see 8 rows, the Grams all 40
  fromStore.edges = false;
  const auto r = computeLib(*f.model, all, fromStore);
  EXPECT_EQ(r.examples, 8);
  EXPECT_EQ(r.gramExamples, 40);
  for (std::size_t l = 0; l < r.layers.size(); ++l) {
    SCOPED_TRACE(r.layers[l].name);
    EXPECT_LT(maxAbs(r.layers[l].gram - reference.layers[l].gram),
              1e-5 * maxAbs(reference.layers[l].gram));
  }

  // The store's own limit, and batches of any size, give the same sums.
  std::vector<RecordedNodeLayer> layers;
  for (const auto& L : reference.layers) {
    layers.push_back({L.name, L.width, L.name != "output", 4, -1});
  }
  const auto whole = gramsFromRecording({store, f.identity, 0, 1024}, layers);
  const auto batched = gramsFromRecording({store, f.identity, 0, 3}, layers);
  const auto first = gramsFromRecording({store, f.identity, 8, 1024}, layers);
  auto liveFirst = liveAll;
  liveFirst.limit = 8;
  const auto firstReference = computeLib(*f.model, all, liveFirst);
  EXPECT_EQ(whole.examples, 40);
  EXPECT_EQ(first.examples, 8);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    SCOPED_TRACE(layers[l].name);
    EXPECT_LT(maxAbs(whole.gram[l] - batched.gram[l]), 1e-12 * maxAbs(whole.gram[l]));
    const auto& G8 = firstReference.layers[l].gram;
    EXPECT_LT(maxAbs(first.gram[l] - G8), 1e-5 * maxAbs(G8));
    EXPECT_GT(maxAbs(first.gram[l] - whole.gram[l]), 1e-3 * maxAbs(G8));  // 8 are not 40
  }
}

TEST(LibRecordedGrams, RecordingsThatCannotServeAreRefusedNamingWhatToDo) {
  Fixture f;
  const PredictedRows rows(*f.model, f.tokens(8, 5, 3));
  const auto store = f.record(rows, "ok.h5");
  const auto refused = [&](LibOptions o) {
    return test::messageOf<ConfigError>([&] { computeLib(*f.model, rows, o); });
  };

  auto other = f.options(store);
  other.gramRecording->model.weightsSha256 = std::string(64, 'a');
  const auto otherModel = refused(other);
  EXPECT_NE(otherModel.find("recorded from another model"), std::string::npos) << otherModel;
  EXPECT_NE(otherModel.find("aaaaaaaaaaaa"), std::string::npos) << otherModel;

  auto missing = f.options(store);
  missing.nodeLayers = {"blocks.1.hook_resid_post", "output"};
  const auto notRecorded = refused(missing);
  EXPECT_NE(notRecorded.find("holds no blocks.1.hook_resid_post"), std::string::npos)
      << notRecorded;
  EXPECT_NE(notRecorded.find("--hooks"), std::string::npos) << notRecorded;

  const auto last = f.record(rows, "last.h5", "last");
  const auto lastOnly = refused(f.options(last));
  EXPECT_NE(lastOnly.find("--positions all"), std::string::npos) << lastOnly;

  const PredictedRows longer(*f.model, f.tokens(8, 7, 4));
  auto o = f.options(store);
  const auto length = test::messageOf<ConfigError>([&] { computeLib(*f.model, longer, o); });
  EXPECT_NE(length.find("the analysed rows have 7 positions"), std::string::npos) << length;

  auto absentStore = f.options(f.dir / "absent.h5");
  const auto absent = test::messageOf<Error>([&] { computeLib(*f.model, rows, absentStore); });
  EXPECT_NE(absent.find("absent.h5"), std::string::npos) << absent;
}

}  // namespace
}  // namespace cs::analysis
