// A checkpoint file that another program changes while circuitscope has it open: cut short
// under the mapping (which would raise SIGBUS on the next read), rewritten in place (which would
// silently mix old and new bytes), or replaced after loading. Reading reports an error naming
// the file; a loaded model owns its weights and is unaffected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "data/safetensors.h"
#include "models/loaders/hf_loader.h"
#include "support/message_of.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// 4 MiB of data, so that cutting the file leaves most of the tensor's pages past its end.
fs::path writeLargeCheckpoint(const fs::path& dir) {
  const auto path = dir / "large.safetensors";
  data::writeSafetensors(path, {{"w", torch::arange(1 << 20, torch::kFloat)}});
  return path;
}

TEST(CheckpointChanges, ACheckpointCutShortAfterOpeningIsAnErrorNotACrash) {
  test::TempDir dir;
  const auto path = writeLargeCheckpoint(dir.path());
  const auto file = data::SafetensorsFile::open(path);
  fs::resize_file(path, 8192);
  const auto message = test::messageOf<IoError>([&] { (void)file.tensor("w"); });
  EXPECT_THAT(message, HasSubstr(path.string()));
  EXPECT_THAT(message, HasSubstr("changed on disk while being read"));
  // The process is fine: the next open sees the short file and says so.
  EXPECT_THROW((void)data::SafetensorsFile::open(path), FormatError);
}

TEST(CheckpointChanges, ACheckpointRewrittenInPlaceIsAnError) {
  test::TempDir dir;
  const auto path = writeLargeCheckpoint(dir.path());
  const auto file = data::SafetensorsFile::open(path);
  // File times tick in steps of a few milliseconds; let one pass so the rewrite shows.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(-4, std::ios::end);
    out.write("\0\0\0\0", 4);
  }
  EXPECT_THAT(test::messageOf<IoError>([&] { (void)file.tensor("w"); }),
              HasSubstr("changed on disk while being read"));
}

TEST(CheckpointChanges, ALoadedModelOwnsItsWeights) {
  test::TempDir dir;
  const auto folder = dir / "gpt2-tiny";
  fs::copy(test::dataPath("hf/gpt2-tiny"), folder, fs::copy_options::recursive);
  auto model = loadHfModel(folder);
  ModelInput input;
  input.tokens = torch::tensor({{1, 5, 9, 2, 7}}, torch::kLong);
  const auto before = model->forward(input)[0].clone();

  // Cut the checkpoint to its header, then replace it by a file of other weights.
  const auto weights = folder / "model.safetensors";
  fs::resize_file(weights, 64);
  EXPECT_TRUE(torch::equal(model->forward(input)[0], before));
  data::writeSafetensors(weights, {{"w", torch::zeros({4})}});
  EXPECT_TRUE(torch::equal(model->forward(input)[0], before));
}

}  // namespace
}  // namespace cs::models
