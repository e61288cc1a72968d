// Image folders: class numbering by sorted names or by the model's labels, batches of
// preprocessed pixels with their labels, and errors naming the folder.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <fstream>

// Static so that other test files may embed their own copy of the writer.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "core/error.h"
#include "data/image_folder_dataset.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

namespace fs = std::filesystem;

void writePng(const fs::path& path, std::uint8_t value) {
  fs::create_directories(path.parent_path());
  std::vector<std::uint8_t> rgb(4 * 4 * 3, value);
  ASSERT_NE(stbi_write_png(path.c_str(), 4, 4, 3, rgb.data(), 4 * 3), 0);
}

ImagePreprocessor fourByFour() {
  ImagePreprocessor p;
  p.height = p.width = 4;
  return p;
}

TEST(ImageFolderDataset, SortedNamesGiveClassIndices) {
  test::TempDir dir;
  writePng(dir / "cats" / "a.png", 0);
  writePng(dir / "cats" / "b.PNG", 0);
  writePng(dir / "dogs" / "c.png", 255);
  std::ofstream(dir / "dogs" / "notes.txt") << "not an image";
  const ImageFolderDataset d(dir.path(), fourByFour(), {});
  ASSERT_EQ(d.size(), 3);
  const auto b = d.batch(0, 3);
  EXPECT_TRUE(torch::equal(b.targets, torch::tensor({0, 0, 1}, torch::kLong)));
  ASSERT_EQ(b.pixels.sizes(), (std::vector<int64_t>{3, 3, 4, 4}));
  // Default normalisation: (v / 255 - 0.5) / 0.5.
  EXPECT_NEAR(b.pixels[0].mean().item<float>(), -1.0f, 1e-6);
  EXPECT_NEAR(b.pixels[2].mean().item<float>(), 1.0f, 1e-6);
}

TEST(ImageFolderDataset, NamesMatchingTheModelLabelsUseTheirIds) {
  test::TempDir dir;
  writePng(dir / "LABEL_7" / "x.png", 10);
  writePng(dir / "LABEL_2" / "y.png", 20);
  std::vector<std::string> labels;
  for (int i = 0; i < 10; ++i) labels.push_back("LABEL_" + std::to_string(i));
  const ImageFolderDataset d(dir.path(), fourByFour(), labels);
  EXPECT_TRUE(torch::equal(d.batch(0, 2).targets, torch::tensor({2, 7}, torch::kLong)));
}

TEST(ImageFolderDataset, ErrorsNameTheFolder) {
  test::TempDir dir;
  EXPECT_THROW(ImageFolderDataset(dir.path(), fourByFour(), {}), FormatError);  // no classes
  fs::create_directories(dir / "empty");
  EXPECT_THROW(ImageFolderDataset(dir.path(), fourByFour(), {}), FormatError);  // no images
  fs::remove(dir / "empty");
  writePng(dir / "LABEL_1" / "x.png", 0);
  writePng(dir / "stray" / "y.png", 0);
  try {
    ImageFolderDataset(dir.path(), fourByFour(), {"LABEL_0", "LABEL_1"});
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'stray'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ImageFolderDataset(dir / "missing", fourByFour(), {}), IoError);
}

}  // namespace
}  // namespace cs::data
