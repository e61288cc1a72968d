// The image an image model's analyses of one example read: a row of the evaluation set or an
// image file preprocessed the way the model's images are, with the model's top classes for it.
// Jobs set it and read it one at a time, so no lock guards it.
#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "app/gui/model_session.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/image_preprocessor.h"
#include "models/mask_application.h"
#include "models/numeric_health.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {

namespace fs = std::filesystem;

// The digits set stores ink counts 0..16 of 4x4 blocks; its pixels are count / 16.
constexpr int kDigitsLevels = 16;

std::string sizeText(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

data::Image readImageFile(const fs::path& path) {
  try {
    return data::decodeImage(path);
  } catch (const FormatError& e) {
    throw FormatError(std::string(e.what()) +
                      "; File > Open image reads PNG, JPEG and binary PPM (P6) or PGM (P5)");
  }
}

// The pixels the one-channel digits models read ([1, S, S]): grey levels as PIL's "L" mode
// takes them, a larger square shrunk by averaging blocks (as the set's 8x8 images were made from
// 32x32 bitmaps) or by PIL's bilinear filter, then rounded to the set's 17 levels, the only values
// the model has seen. A PNG written from a row of the set thus reads back as that row.
at::Tensor digitsPixels(const data::Image& image, int size, const std::string& name,
                        const std::string& model) {
  const auto wanted = sizeText(size, size);
  if (image.width != image.height) {
    throw ConfigError("image " + name + " is " + sizeText(image.width, image.height) +
                      " pixels, and " + model + " reads square " + wanted +
                      " grey images (the digits set's format): crop it to a square and open it "
                      "again");
  }
  if (image.width < size) {
    throw ConfigError("image " + name + " is " + sizeText(image.width, image.height) +
                      " pixels, smaller than the " + wanted + " that " + model +
                      " reads: give an image of at least " + wanted + " pixels");
  }
  const auto grey = [](const data::Image& im, int x, int y) {
    const auto* p = &im.rgb[static_cast<std::size_t>((y * im.width + x) * 3)];
    return (p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000.0;
  };
  const bool blocks = image.width % size == 0;
  const auto resized =
      blocks ? data::Image{} : data::resizeImage(image, size, size, data::Resample::Bilinear);
  const int block = blocks ? image.width / size : 1;
  auto pixels = torch::zeros({1, size, size}, torch::kFloat);
  auto out = pixels.accessor<float, 3>();
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      double sum = 0.0;
      for (int dy = 0; dy < block; ++dy) {
        for (int dx = 0; dx < block; ++dx) {
          sum += blocks ? grey(image, x * block + dx, y * block + dy) : grey(resized, x, y);
        }
      }
      const double level = std::round(sum / (block * block) / 255.0 * kDigitsLevels);
      out[0][y][x] = static_cast<float>(level / kDigitsLevels);
    }
  }
  return pixels;
}

}  // namespace

void ModelSession::displayImage(const models::ModelInput& input, int& width, int& height,
                                std::vector<std::uint8_t>& rgb) {
  // Normalised pixels are not displayable as they are: min-max over the image to 0..255.
  const auto image = input.pixels[0].to(at::kDouble).cpu();  // [C, H, W]
  const auto lo = image.min().item<double>(), hi = image.max().item<double>();
  const auto scaled = ((image - lo) / std::max(hi - lo, 1e-12) * 255.0).round().to(at::kByte);
  const auto planes = scaled.size(0) == 1 ? scaled.expand({3, -1, -1}) : scaled.narrow(0, 0, 3);
  const auto interleaved = planes.permute({1, 2, 0}).contiguous();  // [H, W, 3]
  height = static_cast<int>(interleaved.size(0));
  width = static_cast<int>(interleaved.size(1));
  const auto* p = interleaved.data_ptr<std::uint8_t>();
  rgb.assign(p, p + interleaved.numel());
}

models::ModelInput ModelSession::currentImage() const {
  const auto& c = m_model->config();
  models::ModelInput input;
  if (!m_imageFile.empty()) {
    input.pixels = torch::from_blob(const_cast<float*>(m_imagePixels.data()),
                                    {1, c.nChannels, c.imageSize, c.imageSize}, torch::kFloat)
                       .clone();
    return input;
  }
  input.pixels = requireDataset().batch(m_imageRow, 1).pixels;
  return input;
}

std::string ModelSession::imageName() const {
  return m_imageFile.empty() ? "row " + std::to_string(m_imageRow)
                             : fs::path(m_imageFile).filename().string();
}

ImageInput ModelSession::describeImage(const models::ModelInput& input, const hooks::MaskSet& masks,
                                       int k, Progress& progress) {
  const auto& c = m_model->config();
  const auto* means = meansFor(masks, progress);
  progress.setStage("classifying the image");
  ImageInput out;
  out.rows = m_dataset ? m_dataset->size() : 0;
  out.patchSize = c.patchSize;
  const auto pixels = input.pixels[0].to(torch::kFloat).cpu().contiguous();  // [C, H, W]
  out.channels = static_cast<int>(pixels.size(0));
  out.pixels.assign(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel());
  displayImage(input, out.imageWidth, out.imageHeight, out.rgb);

  c10::InferenceMode guard;
  std::optional<models::NumericHealthGuard> health;
  if (m_checkNumerics) health.emplace(*m_model);
  models::AppliedMasks applied(*m_model, masks, means);
  models::ModelInput onDevice;
  onDevice.pixels = input.pixels.to(m_model->device());
  const auto logits = m_model->forward(onDevice);  // [1, classes], or [1, T, V] for a generator
  const auto last = logits.dim() == 3 ? logits[0][-1] : logits[0];
  const auto probs = torch::softmax(last.to(torch::kDouble), 0).cpu();
  const auto top = probs.topk(std::min<std::int64_t>(k, probs.size(0)));
  const auto values = std::get<0>(top).contiguous();
  const auto indices = std::get<1>(top).contiguous();
  for (std::int64_t i = 0; i < values.size(0); ++i) {
    const auto index = indices[i].item<std::int64_t>();
    out.predictions.push_back({index, values[i].item<double>()});
    out.classNames.push_back(index < static_cast<std::int64_t>(c.classLabels.size())
                                 ? c.classLabels[static_cast<std::size_t>(index)]
                                 : std::to_string(index));
  }
  progress.setFraction(1.0);
  return out;
}

ImageInput ModelSession::chooseImageRow(std::int64_t row, const hooks::MaskSet& masks, int k,
                                        Progress& progress) {
  if (!isImageModel()) {
    throw ConfigError(m_summary.source + " reads tokens, not images; type token ids instead");
  }
  const auto& dataset = requireDataset();
  if (row < 0 || row >= dataset.size()) {
    throw ConfigError("row " + std::to_string(row) + " is outside the evaluation set " +
                      dataset.describe() + ": choose a row from 0 to " +
                      std::to_string(dataset.size() - 1));
  }
  const auto batch = dataset.batch(row, 1);
  models::ModelInput input;
  input.pixels = batch.pixels;
  auto out = describeImage(input, masks, k, progress);
  m_imageRow = row;
  m_imageFile.clear();
  m_imagePixels.clear();
  out.row = row;
  out.source = "row " + std::to_string(row) + " of " + dataset.describe();
  // Class labels only: targets at a scored position are next tokens, not what an image shows.
  const auto& labels = m_model->config().classLabels;
  if (batch.targets.defined() && !batch.scorePositions.defined()) {
    const auto target = batch.targets[0].item<std::int64_t>();
    out.label = target >= 0 && target < static_cast<std::int64_t>(labels.size())
                    ? labels[static_cast<std::size_t>(target)]
                    : std::to_string(target);
  }
  return out;
}

ImageInput ModelSession::openImageFile(const std::string& path, const hooks::MaskSet& masks, int k,
                                       Progress& progress) {
  if (!isImageModel()) {
    throw ConfigError(m_summary.source + " reads tokens, not images; open an image model (e.g. " +
                      "builtin:digits-vit) to classify " + path);
  }
  progress.setStage("reading " + path);
  const auto& c = m_model->config();
  const auto image = readImageFile(path);
  at::Tensor pixels;  // [C, S, S]
  if (c.nChannels == 1) {
    // One-channel models here are the digits models: image folders give RGB.
    pixels = digitsPixels(image, c.imageSize, path, m_summary.source);
  } else if (c.nChannels == 3) {
    pixels = data::loadImagePreprocessor(m_folder, c.imageSize).preprocess(image);
    if (pixels.size(1) != c.imageSize || pixels.size(2) != c.imageSize) {
      throw ConfigError(
          "image " + path + " preprocessed to " +
          sizeText(static_cast<int>(pixels.size(2)), static_cast<int>(pixels.size(1))) +
          " pixels but " + m_summary.source + " reads " + sizeText(c.imageSize, c.imageSize) +
          ": resize the image to that, or fix the size in the model folder's "
          "preprocessor_config.json");
    }
  } else {
    throw ConfigError(m_summary.source + " reads images of " + std::to_string(c.nChannels) +
                      " channels; image files give grey or RGB, so " + path + " cannot be read");
  }
  pixels = pixels.contiguous();
  models::ModelInput input;
  input.pixels = pixels.unsqueeze(0);
  auto out = describeImage(input, masks, k, progress);
  m_imageFile = path;
  m_imagePixels.assign(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel());
  out.row = -1;
  out.file = path;
  out.source = path;
  return out;
}

ImageInput ModelSession::imageInput(const hooks::MaskSet& masks, int k, Progress& progress) {
  if (!isImageModel()) {
    throw ConfigError(m_summary.source + " reads tokens, not images");
  }
  if (m_imageFile.empty()) return chooseImageRow(m_imageRow, masks, k, progress);
  auto out = describeImage(currentImage(), masks, k, progress);
  out.row = -1;
  out.file = m_imageFile;
  out.source = m_imageFile;
  return out;
}

}  // namespace cs::gui
