// Image decoding (PNG, JPEG and binary PPM/PGM round trips, colour conversion, refusal of corrupt
// or oversized files) and Hugging Face preprocessing (PIL-exact resizing, rescale/normalize,
// preprocessor_config.json). Test images are written here with stb_image_write; nothing is read
// from outside tests/.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image.h"
#include "data/image_preprocessor.h"
#include "support/test_support.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace cs::data {
namespace {

using Bytes = std::vector<std::uint8_t>;

void writeBytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes readBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// A smooth colour pattern, distinct per channel, so JPEG keeps it close.
Bytes pattern(int width, int height, int channels) {
  Bytes pixels(static_cast<std::size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        pixels[(static_cast<std::size_t>(y) * width + x) * channels + c] =
            static_cast<std::uint8_t>((x * 7 + y * 3 + c * 60) % 256);
  return pixels;
}

void writePng(const std::filesystem::path& path, int width, int height, int channels,
              const Bytes& pixels) {
  ASSERT_NE(stbi_write_png(path.string().c_str(), width, height, channels, pixels.data(),
                           width * channels),
            0);
}

// The 4x4 grey test image used by the resize tests.
const std::vector<std::vector<int>> kRows = {
    {0, 70, 140, 210}, {7, 14, 21, 28}, {255, 0, 255, 0}, {10, 20, 30, 40}};

Image greyImage() {
  Image image{4, 4, Bytes(48)};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c)
        image.rgb[(y * 4 + x) * 3 + c] = static_cast<std::uint8_t>(kRows[y][x]);
  return image;
}

// Per pixel (v, 255 - v, transposed v): channels differ, so channel mix-ups show.
Image colourImage() {
  Image image{4, 4, Bytes(48)};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      image.rgb[(y * 4 + x) * 3 + 0] = static_cast<std::uint8_t>(kRows[y][x]);
      image.rgb[(y * 4 + x) * 3 + 1] = static_cast<std::uint8_t>(255 - kRows[y][x]);
      image.rgb[(y * 4 + x) * 3 + 2] = static_cast<std::uint8_t>(kRows[x][y]);
    }
  return image;
}

TEST(Image, PngRoundTripIsExact) {
  test::TempDir dir;
  const auto pixels = pattern(13, 9, 3);
  writePng(dir / "a.png", 13, 9, 3, pixels);
  const auto image = decodeImage(dir / "a.png");
  EXPECT_EQ(image.width, 13);
  EXPECT_EQ(image.height, 9);
  EXPECT_EQ(image.rgb, pixels);
}

TEST(Image, JpegDecodesToSizeAndApproximateColours) {
  test::TempDir dir;
  const auto pixels = pattern(32, 24, 3);
  ASSERT_NE(stbi_write_jpg((dir / "a.jpg").string().c_str(), 32, 24, 3, pixels.data(), 95), 0);
  const auto image = decodeImage(dir / "a.jpg");
  ASSERT_EQ(image.width, 32);
  ASSERT_EQ(image.height, 24);
  ASSERT_EQ(image.rgb.size(), pixels.size());
  double total = 0;
  for (std::size_t i = 0; i < pixels.size(); ++i) total += std::abs(image.rgb[i] - pixels[i]);
  EXPECT_LT(total / static_cast<double>(pixels.size()), 12.0) << "mean abs error per channel";
}

TEST(Image, GreyBecomesRgb) {
  test::TempDir dir;
  const auto grey = pattern(5, 4, 1);
  writePng(dir / "g.png", 5, 4, 1, grey);
  const auto image = decodeImage(dir / "g.png");
  ASSERT_EQ(image.rgb.size(), 5u * 4 * 3);
  for (std::size_t i = 0; i < grey.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(image.rgb[i * 3 + c], grey[i]);
}

TEST(Image, RgbaDropsAlpha) {
  test::TempDir dir;
  auto rgba = pattern(6, 3, 4);
  rgba[3] = 0;  // a fully transparent pixel keeps its stored colour
  writePng(dir / "a.png", 6, 3, 4, rgba);
  const auto image = decodeImage(dir / "a.png");
  ASSERT_EQ(image.rgb.size(), 6u * 3 * 3);
  for (std::size_t i = 0; i < 18; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(image.rgb[i * 3 + c], rgba[i * 4 + c]);
}

void expectFormatErrorNaming(const std::filesystem::path& path) {
  try {
    decodeImage(path);
    FAIL() << "expected FormatError for " << path;
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
  }
}

TEST(Image, TruncatedRandomAndEmptyFilesAreFormatErrors) {
  test::TempDir dir;
  writePng(dir / "full.png", 40, 40, 3, pattern(40, 40, 3));
  auto bytes = readBytes(dir / "full.png");
  bytes.resize(bytes.size() / 2);
  writeBytes(dir / "truncated.png", bytes);
  expectFormatErrorNaming(dir / "truncated.png");

  std::mt19937 rng(7);
  Bytes noise(4096);
  for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
  noise[0] = 0;  // neither PNG (0x89) nor JPEG (0xFF) magic
  writeBytes(dir / "noise.png", noise);
  expectFormatErrorNaming(dir / "noise.png");

  writeBytes(dir / "empty.png", {});
  expectFormatErrorNaming(dir / "empty.png");
}

void putBigEndian(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// PNG signature plus an IHDR chunk claiming width x height 8-bit RGB, and no pixel data.
Bytes pngHeader(std::uint32_t width, std::uint32_t height) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  putBigEndian(png, 13);
  for (char c : std::string("IHDR")) png.push_back(static_cast<std::uint8_t>(c));
  putBigEndian(png, width);
  putBigEndian(png, height);
  for (std::uint8_t b : {8, 2, 0, 0, 0}) png.push_back(b);
  putBigEndian(png, 0);  // CRC, which stb does not check
  return png;
}

TEST(Image, HugeDeclaredDimensionsAreRefusedFromTheHeader) {
  // Decoding these would need gigabytes, and there is no pixel data at all: the refusal must
  // come from the header alone. 100000x100000 is already refused by stb's own header check
  // (over 1 GiB of pixels); the others pass it and meet ours.
  test::TempDir dir;
  writeBytes(dir / "huge.png", pngHeader(100000, 100000));
  expectFormatErrorNaming(dir / "huge.png");
  for (auto [w, h] : {std::pair<std::uint32_t, std::uint32_t>{16385, 1}, {10001, 10000}}) {
    const auto path = dir / ("big" + std::to_string(w) + ".png");
    writeBytes(path, pngHeader(w, h));
    try {
      decodeImage(path);
      ADD_FAILURE() << "expected FormatError for " << w << "x" << h;
    } catch (const FormatError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.filename().string()), std::string::npos) << message;
      EXPECT_NE(message.find(std::to_string(w) + "x" + std::to_string(h)), std::string::npos)
          << message;
    }
  }
}

Bytes netpbm(const std::string& header, const Bytes& samples) {
  Bytes out(header.begin(), header.end());
  out.insert(out.end(), samples.begin(), samples.end());
  return out;
}

TEST(Image, BinaryPpmAndPgmDecodeExactlyAndOthersAreRefused) {
  test::TempDir dir;
  const auto rgb = pattern(5, 3, 3);
  writeBytes(dir / "colour.ppm", netpbm("P6\n# a comment\n5 3\n255\n", rgb));
  const auto colour = decodeImage(dir / "colour.ppm");
  EXPECT_EQ(colour.width, 5);
  EXPECT_EQ(colour.height, 3);
  EXPECT_EQ(colour.rgb, rgb);

  const auto grey = pattern(4, 2, 1);
  writeBytes(dir / "grey.pgm", netpbm("P5 4 2 255\n", grey));
  const auto fromGrey = decodeImage(dir / "grey.pgm");
  ASSERT_EQ(fromGrey.rgb.size(), grey.size() * 3);
  for (std::size_t i = 0; i < grey.size(); ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(fromGrey.rgb[i * 3 + c], grey[i]);
  }

  auto cut = netpbm("P6\n5 3\n255\n", rgb);
  cut.resize(cut.size() - 10);
  writeBytes(dir / "cut.ppm", cut);
  expectFormatErrorNaming(dir / "cut.ppm");
  writeBytes(dir / "text.ppm", netpbm("P3\n1 1\n255\n1 2 3\n", {}));
  expectFormatErrorNaming(dir / "text.ppm");
  writeBytes(dir / "huge.ppm", netpbm("P6\n20000 20000\n255\n", {0, 0, 0}));
  expectFormatErrorNaming(dir / "huge.ppm");
}

TEST(Image, MissingFileIsIoError) {
  test::TempDir dir;
  EXPECT_THROW(decodeImage(dir / "absent.png"), IoError);
}

TEST(ImagePreprocess, ConstantColourGivesNormalizedConstant) {
  const ImagePreprocessor p;  // ViT defaults: 224x224 bilinear, 1/255, mean = std = 0.5
  Image image{37, 21, {}};
  const std::uint8_t colour[3] = {10, 128, 250};
  for (int i = 0; i < 37 * 21; ++i) image.rgb.insert(image.rgb.end(), colour, colour + 3);
  const auto out = p.preprocess(image);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 224, 224}));
  ASSERT_EQ(out.scalar_type(), torch::kFloat);
  for (int c = 0; c < 3; ++c) {
    const float expected = (colour[c] / 255.0f - 0.5f) / 0.5f;
    EXPECT_FLOAT_EQ(out[c].min().item<float>(), expected) << "channel " << c;
    EXPECT_FLOAT_EQ(out[c].max().item<float>(), expected) << "channel " << c;
  }
}

TEST(ImagePreprocess, ResizingAConstantImageKeepsItConstant) {
  Image image{9, 5, {}};
  for (int i = 0; i < 45; ++i) image.rgb.insert(image.rgb.end(), {17, 200, 255});
  for (auto resample : {Resample::Nearest, Resample::Bilinear, Resample::Bicubic})
    for (auto [w, h] : {std::pair{3, 2}, {20, 11}, {9, 1}, {1, 7}}) {
      const auto out = resizeImage(image, w, h, resample);
      ASSERT_EQ(out.rgb.size(), static_cast<std::size_t>(w) * h * 3);
      for (std::size_t i = 0; i < out.rgb.size(); i += 3) {
        ASSERT_EQ(out.rgb[i], 17);
        ASSERT_EQ(out.rgb[i + 1], 200);
        ASSERT_EQ(out.rgb[i + 2], 255);
      }
    }
}

std::vector<int> channel(const Image& image, int c) {
  std::vector<int> values;
  for (std::size_t i = static_cast<std::size_t>(c); i < image.rgb.size(); i += 3)
    values.push_back(image.rgb[i]);
  return values;
}

TEST(ImagePreprocess, BilinearHalvingMatchesPilByHand) {
  // PIL's bilinear 4 -> 2: scale 2 widens the triangle filter to support 2. Output 0 centres at
  // (0 + 0.5) * 2 = 1 and covers inputs 0..2 at distances 0.5, 0.5, 1.5 (pixel centres), whose
  // weights 1 - d/2 = 0.75, 0.75, 0.25 normalize to 3/7, 3/7, 1/7; output 1 centres at 3 and
  // weighs inputs 1..3 by 1/7, 3/7, 3/7. Horizontal pass, rounded to uint8:
  //   row 0 [0 70 140 210] -> (0+210+140)/7 = 50,  (70+420+630)/7 = 160
  //   row 1 [7 14 21 28]   -> 84/7 = 12,           161/7 = 23
  //   row 2 [255 0 255 0]  -> 1020/7 = 145.7 -> 146, 765/7 = 109.3 -> 109
  //   row 3 [10 20 30 40]  -> 120/7 = 17.1 -> 17,  230/7 = 32.9 -> 33
  // Vertical pass on columns [50 12 146 17] and [160 23 109 33]:
  //   (150+36+146)/7 = 47.4 -> 47, (12+438+51)/7 = 71.6 -> 72,
  //   (480+69+109)/7 = 94,         (23+327+99)/7 = 64.1 -> 64
  // PIL 9 (Image.resize((2, 2), Image.BILINEAR)) gives the same [47, 94, 72, 64].
  const auto out = resizeImage(greyImage(), 2, 2, Resample::Bilinear);
  ASSERT_EQ(out.width, 2);
  ASSERT_EQ(out.height, 2);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(channel(out, c), (std::vector<int>{47, 94, 72, 64}));
}

TEST(ImagePreprocess, ResizeMatchesPilReferenceValues) {
  // Produced once at development time with Debian's python3-pil 9.4 on colourImage():
  //   im.resize((w, h), Image.BICUBIC / Image.BILINEAR / Image.NEAREST), flattened RGB bytes.
  const std::vector<int> bicubic3x5 = {13, 242, 0,   109, 146, 146, 204, 51,  88,  0,  255, 38,
                                       35, 221, 32,  71,  184, 28,  103, 153, 76,  74, 182, 73,
                                       44, 211, 56,  143, 112, 119, 107, 149, 114, 70, 185, 85,
                                       5,  250, 170, 21,  234, 0,   36,  219, 26};
  const std::vector<int> bilinear6x3 = {
      2,   253, 21,  28, 227, 15,  62, 193, 37, 96,  159, 150, 130, 125, 96, 155, 100, 13,
      131, 124, 105, 70, 187, 62,  29, 226, 36, 116, 139, 109, 77,  180, 77, 14,  241, 25,
      83,  172, 189, 49, 206, 108, 28, 227, 34, 83,  172, 68,  63,  192, 57, 28,  227, 37};
  // Nearest on the grey image (any channel): source index floor((x + 0.5) * scale).
  const std::vector<int> nearest3x5 = {0, 140, 210, 7, 21, 28, 255, 255,
                                       0, 255, 255, 0, 10, 30, 40};
  auto flat = [](const Image& image) {
    return std::vector<int>(image.rgb.begin(), image.rgb.end());
  };
  EXPECT_EQ(flat(resizeImage(colourImage(), 3, 5, Resample::Bicubic)), bicubic3x5);
  EXPECT_EQ(flat(resizeImage(colourImage(), 6, 3, Resample::Bilinear)), bilinear6x3);
  EXPECT_EQ(channel(resizeImage(greyImage(), 3, 5, Resample::Nearest), 0), nearest3x5);
}

void writeConfig(const test::TempDir& dir, const std::string& text) {
  std::ofstream(dir / "preprocessor_config.json") << text;
}

TEST(ImagePreprocessorConfig, DefaultsWithoutTheFileUseTheModelImageSize) {
  test::TempDir dir;
  const auto p = loadImagePreprocessor(dir.path(), 32);
  EXPECT_TRUE(p.doResize);
  EXPECT_EQ(p.height, 32);
  EXPECT_EQ(p.width, 32);
  EXPECT_EQ(p.resample, Resample::Bilinear);
  EXPECT_DOUBLE_EQ(p.rescaleFactor, 1.0 / 255.0);
  EXPECT_EQ(p.imageMean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(p.imageStd, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(loadImagePreprocessor(dir.path(), 0).height, 224);
}

TEST(ImagePreprocessorConfig, ReadsFieldsAndDefaultsAbsentOnes) {
  test::TempDir dir;
  writeConfig(dir, R"({"size": {"height": 16, "width": 24}, "resample": 3,
    "image_mean": [0.485, 0.456, 0.406], "image_std": 0.25, "do_rescale": true})");
  const auto p = loadImagePreprocessor(dir.path(), 32);
  EXPECT_EQ(p.height, 16);
  EXPECT_EQ(p.width, 24);
  EXPECT_EQ(p.resample, Resample::Bicubic);
  EXPECT_DOUBLE_EQ(p.imageMean[1], 0.456);
  EXPECT_EQ(p.imageStd, (std::array<double, 3>{0.25, 0.25, 0.25}));
  EXPECT_TRUE(p.doNormalize);
  EXPECT_EQ(p.preprocess(greyImage()).sizes(), (std::vector<int64_t>{3, 16, 24}));

  writeConfig(dir, R"({"size": 8})");
  EXPECT_EQ(loadImagePreprocessor(dir.path(), 32).width, 8);
  writeConfig(dir, R"({"size": {"shortest_edge": 2}})");
  Image wide{8, 4, Bytes(96, 9)};
  EXPECT_EQ(loadImagePreprocessor(dir.path(), 32).preprocess(wide).sizes(),
            (std::vector<int64_t>{3, 2, 4}));
  writeConfig(dir, "{}");
  EXPECT_EQ(loadImagePreprocessor(dir.path(), 32).height, 224);  // a field, not the file, absent
}

TEST(ImagePreprocessorConfig, BadFieldsNameTheFileAndField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"do_resize": "yes"})", "do_resize"},
      {R"({"size": {"height": -1, "width": 3}})", "size.height"},
      {R"({"size": "big"})", "size"},
      {R"({"resample": 1})", "resample"},
      {R"({"resample": "bilinear"})", "resample"},
      {R"({"rescale_factor": "0.1"})", "rescale_factor"},
      {R"({"do_normalize": 1})", "do_normalize"},
      {R"({"image_mean": [0.5, 0.5]})", "image_mean"},
      {R"({"image_std": [0.5, 0, 0.5]})", "image_std"},
  };
  for (const auto& [text, field] : cases) {
    test::TempDir dir;
    writeConfig(dir, text);
    try {
      loadImagePreprocessor(dir.path(), 32);
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("preprocessor_config.json"), std::string::npos) << message;
      EXPECT_NE(message.find("\"" + field + "\""), std::string::npos) << message;
    }
  }
  test::TempDir dir;
  writeConfig(dir, "[1, 2]");
  EXPECT_THROW(loadImagePreprocessor(dir.path(), 32), FormatError);
}

}  // namespace
}  // namespace cs::data
