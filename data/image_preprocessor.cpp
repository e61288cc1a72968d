// Hugging Face image preprocessing. Resizing reproduces PIL's ImagingResample (Resample.c) for
// 8-bit images, fixed-point coefficients included, so pixel values match what the Python
// processor feeds the model.
#include "data/image_preprocessor.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/json_document.h"

namespace cs::data {
namespace {

constexpr const char* kConfigName = "preprocessor_config.json";
constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr int kMaxTargetSide = 16384;

// PIL's 8-bit coefficients are fixed point with this many fraction bits.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinearFilter(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubicFilter(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

std::uint8_t clip8(std::int64_t value) {
  const std::int64_t shifted = value >> kPrecisionBits;
  return static_cast<std::uint8_t>(std::clamp<std::int64_t>(shifted, 0, 255));
}

// For each output index: the first input index and fixed-point weights (PIL's precompute_coeffs
// followed by normalize_coeffs_8bpc).
struct Coefficients {
  std::vector<int> first;
  std::vector<std::vector<std::int32_t>> weights;
};

Coefficients computeCoefficients(int inSize, int outSize, Resample resample) {
  const double support0 = resample == Resample::Bicubic ? 2.0 : 1.0;
  const auto filter = resample == Resample::Bicubic ? bicubicFilter : bilinearFilter;
  const double scale = static_cast<double>(inSize) / outSize;
  const double filterScale = std::max(scale, 1.0);  // widen the filter when shrinking
  const double support = support0 * filterScale;
  Coefficients c;
  c.first.resize(static_cast<std::size_t>(outSize));
  c.weights.resize(static_cast<std::size_t>(outSize));
  std::vector<double> k;
  for (int xx = 0; xx < outSize; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterScale;
    // Truncation toward zero, as PIL's (int) casts do.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), inSize) - xmin;
    k.assign(static_cast<std::size_t>(std::max(xmax, 0)), 0.0);
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter((x + xmin - center + 0.5) * ss);
      k[static_cast<std::size_t>(x)] = w;
      total += w;
    }
    auto& kk = c.weights[static_cast<std::size_t>(xx)];
    kk.resize(k.size());
    for (std::size_t x = 0; x < k.size(); ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      const double fixed = w * (1 << kPrecisionBits);
      kk[x] = static_cast<std::int32_t>(w < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    c.first[static_cast<std::size_t>(xx)] = xmin;
  }
  return c;
}

Image resampleHorizontal(const Image& in, int outWidth, Resample resample) {
  const auto c = computeCoefficients(in.width, outWidth, resample);
  Image out{outWidth, in.height,
            std::vector<std::uint8_t>(static_cast<std::size_t>(outWidth) * in.height * 3)};
  for (int y = 0; y < in.height; ++y) {
    const std::uint8_t* row = in.rgb.data() + static_cast<std::size_t>(y) * in.width * 3;
    std::uint8_t* dst = out.rgb.data() + static_cast<std::size_t>(y) * outWidth * 3;
    for (int xx = 0; xx < outWidth; ++xx) {
      const auto& kk = c.weights[static_cast<std::size_t>(xx)];
      const int xmin = c.first[static_cast<std::size_t>(xx)];
      for (int ch = 0; ch < 3; ++ch) {
        std::int64_t ss = std::int64_t{1} << (kPrecisionBits - 1);  // rounding
        for (std::size_t x = 0; x < kk.size(); ++x)
          ss += static_cast<std::int64_t>(row[(xmin + static_cast<int>(x)) * 3 + ch]) * kk[x];
        dst[xx * 3 + ch] = clip8(ss);
      }
    }
  }
  return out;
}

Image resampleVertical(const Image& in, int outHeight, Resample resample) {
  const auto c = computeCoefficients(in.height, outHeight, resample);
  const std::size_t stride = static_cast<std::size_t>(in.width) * 3;
  Image out{in.width, outHeight, std::vector<std::uint8_t>(stride * outHeight)};
  for (int yy = 0; yy < outHeight; ++yy) {
    const auto& kk = c.weights[static_cast<std::size_t>(yy)];
    const int ymin = c.first[static_cast<std::size_t>(yy)];
    std::uint8_t* dst = out.rgb.data() + static_cast<std::size_t>(yy) * stride;
    for (std::size_t i = 0; i < stride; ++i) {
      std::int64_t ss = std::int64_t{1} << (kPrecisionBits - 1);
      for (std::size_t y = 0; y < kk.size(); ++y)
        ss += static_cast<std::int64_t>(in.rgb[(ymin + y) * stride + i]) * kk[y];
      dst[i] = clip8(ss);
    }
  }
  return out;
}

// PIL resizes with NEAREST through an affine transform: source index floor((x + 0.5) * scale).
Image resizeNearest(const Image& in, int width, int height) {
  Image out{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * 3)};
  const double sx = static_cast<double>(in.width) / width;
  const double sy = static_cast<double>(in.height) / height;
  for (int y = 0; y < height; ++y) {
    const int yin = std::min(static_cast<int>((y + 0.5) * sy), in.height - 1);
    for (int x = 0; x < width; ++x) {
      const int xin = std::min(static_cast<int>((x + 0.5) * sx), in.width - 1);
      for (int ch = 0; ch < 3; ++ch)
        out.rgb[(static_cast<std::size_t>(y) * width + x) * 3 + ch] =
            in.rgb[(static_cast<std::size_t>(yin) * in.width + xin) * 3 + ch];
    }
  }
  return out;
}

std::string fieldWhere(const std::filesystem::path& file, const std::string& field) {
  return file.string() + ": field \"" + field + "\"";
}

bool boolField(const nlohmann::json& doc, const std::string& field, bool fallback,
               const std::filesystem::path& file) {
  if (!doc.contains(field) || doc[field].is_null()) return fallback;
  if (!doc[field].is_boolean())
    throw ConfigError(fieldWhere(file, field) + " must be true or false, got " +
                      describeJsonValue(doc[field]));
  return doc[field].get<bool>();
}

double finiteNumber(const nlohmann::json& value, const std::filesystem::path& file,
                    const std::string& field) {
  if (!value.is_number())
    throw ConfigError(fieldWhere(file, field) + " must be a number, got " +
                      describeJsonValue(value));
  const double v = value.get<double>();
  if (!std::isfinite(v)) throw ConfigError(fieldWhere(file, field) + " must be finite");
  return v;
}

int sideField(const nlohmann::json& value, const std::filesystem::path& file,
              const std::string& field) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
      value.get<std::int64_t>() > kMaxTargetSide)
    throw ConfigError(fieldWhere(file, field) + " must be an integer from 1 to " +
                      std::to_string(kMaxTargetSide) + ", got " + describeJsonValue(value));
  return value.get<int>();
}

std::array<double, 3> channelField(const nlohmann::json& doc, const std::string& field,
                                   std::array<double, 3> fallback,
                                   const std::filesystem::path& file) {
  if (!doc.contains(field) || doc[field].is_null()) return fallback;
  const auto& value = doc[field];
  if (value.is_number()) {
    const double v = finiteNumber(value, file, field);
    return {v, v, v};
  }
  if (!value.is_array() || value.size() != 3)
    throw ConfigError(fieldWhere(file, field) + " must be a number or a list of 3 numbers, got " +
                      describeJsonValue(value));
  return {finiteNumber(value[0], file, field), finiteNumber(value[1], file, field),
          finiteNumber(value[2], file, field)};
}

// Images may be built by hand; a wrong buffer size would read out of bounds.
void checkImage(const Image& image, const char* where) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    throw ShapeError(std::string(where) + ": image of " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " holds " + std::to_string(image.rgb.size()) +
                     " bytes, expected width*height*3");
}

}  // namespace

Image resizeImage(const Image& image, int width, int height, Resample resample) {
  checkImage(image, "resizeImage");
  if (width <= 0 || height <= 0)
    throw ConfigError("resizeImage: target size " + std::to_string(width) + "x" +
                      std::to_string(height) + " must be positive");
  if (resample == Resample::Nearest) {
    if (width == image.width && height == image.height) return image;
    return resizeNearest(image, width, height);
  }
  Image out = width != image.width ? resampleHorizontal(image, width, resample) : image;
  if (height != image.height) out = resampleVertical(out, height, resample);
  return out;
}

at::Tensor ImagePreprocessor::preprocess(const Image& image) const {
  checkImage(image, "preprocess");
  Image resized = image;
  if (doResize) {
    int outWidth = width, outHeight = height;
    if (shortestEdge > 0) {
      // Hugging Face's get_resize_output_image_size: the long side is truncated, not rounded.
      const bool wide = image.width >= image.height;
      const int shortSide = wide ? image.height : image.width;
      const int longSide = wide ? image.width : image.height;
      const int newLong =
          static_cast<int>(static_cast<std::int64_t>(shortestEdge) * longSide / shortSide);
      outWidth = wide ? newLong : shortestEdge;
      outHeight = wide ? shortestEdge : newLong;
    }
    resized = resizeImage(image, outWidth, outHeight, resample);
  }
  const int h = resized.height, w = resized.width;
  auto out = torch::empty({3, h, w}, torch::kFloat);  // [3, H, W]
  float* dst = out.data_ptr<float>();
  // float32 arithmetic, as the numpy pipeline does after rescaling.
  const float factor = doRescale ? static_cast<float>(rescaleFactor) : 1.0f;
  for (int ch = 0; ch < 3; ++ch) {
    const float mean = doNormalize ? static_cast<float>(imageMean[ch]) : 0.0f;
    const float std = doNormalize ? static_cast<float>(imageStd[ch]) : 1.0f;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const float v =
            static_cast<float>(resized.rgb[(static_cast<std::size_t>(y) * w + x) * 3 + ch]) *
            factor;
        dst[(static_cast<std::size_t>(ch) * h + y) * w + x] = (v - mean) / std;
      }
  }
  return out;
}

ImagePreprocessor loadImagePreprocessor(const std::filesystem::path& modelFolder,
                                        int imageSizeFallback) {
  ImagePreprocessor p;
  const auto file = modelFolder / kConfigName;
  if (!std::filesystem::exists(file)) {
    if (imageSizeFallback > 0) p.height = p.width = imageSizeFallback;
    return p;
  }
  const auto doc = readJsonFile(file.string(), kMaxConfigBytes);
  if (!doc.is_object())
    throw FormatError(file.string() + ": expected a JSON object, got " + describeJsonValue(doc));

  p.doResize = boolField(doc, "do_resize", p.doResize, file);
  if (doc.contains("size") && !doc["size"].is_null()) {
    const auto& size = doc["size"];
    if (size.is_number()) {
      p.height = p.width = sideField(size, file, "size");
    } else if (size.is_object() && size.contains("height") && size.contains("width")) {
      p.height = sideField(size["height"], file, "size.height");
      p.width = sideField(size["width"], file, "size.width");
    } else if (size.is_object() && size.contains("shortest_edge")) {
      p.shortestEdge = sideField(size["shortest_edge"], file, "size.shortest_edge");
    } else {
      throw ConfigError(fieldWhere(file, "size") +
                        " must be an integer, {\"height\", \"width\"} or {\"shortest_edge\"}, "
                        "got " +
                        describeJsonValue(size));
    }
  }
  if (doc.contains("resample") && !doc["resample"].is_null()) {
    const auto& r = doc["resample"];
    if (!r.is_number_integer())
      throw ConfigError(fieldWhere(file, "resample") + " must be a PIL filter code, got " +
                        describeJsonValue(r));
    const auto code = r.get<std::int64_t>();
    if (code != 0 && code != 2 && code != 3)
      throw ConfigError(fieldWhere(file, "resample") + " is " + std::to_string(code) +
                        "; supported are 0 (nearest), 2 (bilinear) and 3 (bicubic)");
    p.resample = static_cast<Resample>(code);
  }
  p.doRescale = boolField(doc, "do_rescale", p.doRescale, file);
  if (doc.contains("rescale_factor") && !doc["rescale_factor"].is_null())
    p.rescaleFactor = finiteNumber(doc["rescale_factor"], file, "rescale_factor");
  p.doNormalize = boolField(doc, "do_normalize", p.doNormalize, file);
  p.imageMean = channelField(doc, "image_mean", p.imageMean, file);
  p.imageStd = channelField(doc, "image_std", p.imageStd, file);
  for (double s : p.imageStd)
    if (s == 0.0) throw ConfigError(fieldWhere(file, "image_std") + " must not contain 0");
  return p;
}

}  // namespace cs::data
