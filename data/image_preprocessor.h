// Image preprocessing as Hugging Face image processors do it (resize with PIL's filters, rescale,
// normalize), configured from a model folder's preprocessor_config.json.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <filesystem>

#include "data/image.h"

namespace cs::data {

/// PIL resample codes, as stored in preprocessor_config.json.
enum class Resample { Nearest = 0, Bilinear = 2, Bicubic = 3 };

/// Defaults are those of Hugging Face's ViTImageProcessor.
struct ImagePreprocessor {
  bool doResize = true;
  int height = 224;  // target size when shortestEdge == 0
  int width = 224;
  int shortestEdge = 0;  // > 0: resize the short side to this, keeping the aspect ratio
  Resample resample = Resample::Bilinear;
  bool doRescale = true;
  double rescaleFactor = 1.0 / 255.0;
  bool doNormalize = true;
  std::array<double, 3> imageMean{0.5, 0.5, 0.5};
  std::array<double, 3> imageStd{0.5, 0.5, 0.5};

  /// Resized, rescaled, normalized pixels as float32 [3, H, W].
  at::Tensor preprocess(const Image& image) const;
};

/// Reads <modelFolder>/preprocessor_config.json. Without the file, the defaults above with a
/// square size of imageSizeFallback (when > 0). ConfigError/FormatError naming the file and the
/// field for wrong types or out-of-range values.
ImagePreprocessor loadImagePreprocessor(const std::filesystem::path& modelFolder,
                                        int imageSizeFallback);

/// Resizes as PIL's Image.resize does for 8-bit RGB: separable passes (horizontal, then
/// vertical; a pass is skipped when that side keeps its size), the filter widened by the
/// downscale factor, sample centres at (x + 0.5) * scale, and rounding to uint8 after each pass.
Image resizeImage(const Image& image, int width, int height, Resample resample);

}  // namespace cs::data
