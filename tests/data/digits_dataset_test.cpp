// The shipped digits set: split sizes, pixel range, balanced classes, and labels that line up
// with the images (a nearest-centroid classifier fitted on train does well on test).
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "core/error.h"
#include "data/digits_dataset.h"
#include "data/safetensors.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

TEST(DigitsDataset, FixedSplitSizesAndRanges) {
  const DigitsDataset test(DigitsSplit::Test), train(DigitsSplit::Train), all(DigitsSplit::All);
  EXPECT_EQ(all.size(), 1797);
  EXPECT_EQ(test.size(), 360);
  EXPECT_EQ(train.size(), 1437);
  const auto b = test.batch(0, test.size());
  ASSERT_EQ(b.pixels.sizes(), (std::vector<int64_t>{360, 1, 8, 8}));
  EXPECT_GE(b.pixels.min().item<float>(), 0.0f);
  EXPECT_LE(b.pixels.max().item<float>(), 1.0f);
  const auto counts = at::bincount(all.batch(0, all.size()).targets);
  ASSERT_EQ(counts.numel(), 10);
  EXPECT_GE(counts.min().item<int64_t>(), 170);  // 174..183 images per class
  // Test rows are every fifth image.
  EXPECT_TRUE(torch::equal(test.batch(1, 1).pixels, all.batch(5, 1).pixels));
}

TEST(DigitsDataset, LabelsLineUpWithImages) {
  const DigitsDataset train(DigitsSplit::Train), test(DigitsSplit::Test);
  const auto tr = train.batch(0, train.size()), te = test.batch(0, test.size());
  const auto x = tr.pixels.flatten(1), y = te.pixels.flatten(1);
  std::vector<at::Tensor> centroids;
  for (int c = 0; c < 10; ++c) centroids.push_back(x.index({tr.targets.eq(c)}).mean(0));
  const auto distances = at::cdist(y, at::stack(centroids));
  const double accuracy =
      distances.argmin(1).eq(te.targets).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(accuracy, 0.85) << "nearest-centroid accuracy " << accuracy;
}

TEST(DigitsDataset, BadFileIsAFormatErrorNamingIt) {
  test::TempDir dir;
  const auto file = dir / "digits.safetensors";
  writeSafetensors(file, {{"images", torch::zeros({4, 8, 7}, torch::kByte)},
                          {"labels", torch::zeros({4}, torch::kByte)}});
  try {
    DigitsDataset d(DigitsSplit::All, file);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("digits.safetensors"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cs::data
