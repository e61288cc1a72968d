// PNG/JPEG decoding through stb_image, header-only: the implementation is compiled here, so no
// target needs extra compile definitions (all share one precompiled header and its flags).
#include "data/image.h"

#include <fstream>
#include <string>

#include "core/error.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace cs::data {
namespace {

std::vector<unsigned char> readWholeFile(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec)
    throw IoError("cannot read image " + path.string() + ": " + ec.message() + "; check the path");
  if (size > kMaxImageFileBytes)
    throw FormatError("image " + path.string() + " is " + std::to_string(size) +
                      " bytes, over the limit of 256 MiB; shrink or recompress it");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open image " + path.string() + "; check its permissions");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  if (size > 0 &&
      !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw IoError("cannot read image " + path.string() + ": read failed");
  return bytes;
}

std::string stbReason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr ? reason : "unknown error";
}

}  // namespace

Image decodeImage(const std::filesystem::path& path) {
  const auto bytes = readWholeFile(path);
  const std::string name = path.string();
  if (bytes.empty()) throw FormatError("image " + name + " is empty; give a PNG or JPEG file");
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX))
    throw FormatError("image " + name + " is too large to decode");
  const int length = static_cast<int>(bytes.size());

  // Header first: dimensions are checked before stb allocates the pixel buffer.
  int width = 0, height = 0, channels = 0;
  if (stbi_info_from_memory(bytes.data(), length, &width, &height, &channels) == 0)
    throw FormatError("image " + name + " is not a readable PNG or JPEG (" + stbReason() + ")");
  if (width <= 0 || height <= 0 || width > kMaxImageSide || height > kMaxImageSide ||
      static_cast<std::int64_t>(width) * height > kMaxImagePixels)
    throw FormatError("image " + name + " declares " + std::to_string(width) + "x" +
                      std::to_string(height) + " pixels, over the limit of " +
                      std::to_string(kMaxImageSide) + " per side and 100 megapixels; resize it");

  int gotWidth = 0, gotHeight = 0, gotChannels = 0;
  // Asking for 3 channels makes stb expand grey and drop alpha.
  stbi_uc* pixels =
      stbi_load_from_memory(bytes.data(), length, &gotWidth, &gotHeight, &gotChannels, 3);
  if (pixels == nullptr)
    throw FormatError("image " + name + " is truncated or corrupt (" + stbReason() + ")");
  Image image;
  image.width = gotWidth;
  image.height = gotHeight;
  const auto count = static_cast<std::size_t>(gotWidth) * static_cast<std::size_t>(gotHeight) * 3;
  image.rgb.assign(pixels, pixels + count);
  stbi_image_free(pixels);
  if (gotWidth != width || gotHeight != height)
    throw FormatError("image " + name + ": header and decoded sizes disagree");
  return image;
}

}  // namespace cs::data
