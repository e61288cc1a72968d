// PNG, JPEG and binary PPM/PGM decoding through stb_image, header-only: the implementation is
// compiled here, so no target needs extra compile definitions (all share one precompiled header and
// its flags).
#include "data/image.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNM
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

/// The width and height a PNG's IHDR declares, or nothing for other files. stb refuses a PNG
/// with a zero or huge side as "not of any known type", which hides the real problem.
std::optional<std::pair<std::int64_t, std::int64_t>> pngDeclaredSize(
    const std::vector<unsigned char>& bytes) {
  static constexpr unsigned char kSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                                 0,    0,   0,   13,  'I',  'H',  'D',  'R'};
  if (bytes.size() < 24 || !std::equal(std::begin(kSignature), std::end(kSignature), bytes.begin()))
    return std::nullopt;
  const auto be32 = [&](std::size_t at) {
    return (std::int64_t{bytes[at]} << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) |
           bytes[at + 3];
  };
  return std::make_pair(be32(16), be32(20));
}

/// For a binary PPM/PGM (P6/P5), the bytes its header and pixels need: stb reads a file cut
/// short as if the missing pixels were there. Nothing for other files or a header stb will refuse
/// itself.
std::optional<std::uint64_t> netpbmNeededBytes(const std::vector<unsigned char>& bytes) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6'))
    return std::nullopt;
  std::size_t at = 2;
  const auto space = [](unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  std::uint64_t fields[3] = {};
  for (auto& field : fields) {
    while (at < bytes.size() && (space(bytes[at]) || bytes[at] == '#')) {
      if (bytes[at] == '#') {
        while (at < bytes.size() && bytes[at] != '\n') ++at;
      } else {
        ++at;
      }
    }
    const auto start = at;
    while (at < bytes.size() && bytes[at] >= '0' && bytes[at] <= '9' && at - start < 9)
      field = field * 10 + (bytes[at++] - '0');
    if (at == start) return std::nullopt;
  }
  if (at >= bytes.size() || !space(bytes[at])) return std::nullopt;
  const std::uint64_t channels = bytes[1] == '6' ? 3 : 1;
  const std::uint64_t sampleBytes = fields[2] > 255 ? 2 : 1;
  // Sides are at most 9 digits each, so the product cannot overflow 64 bits.
  return at + 1 + fields[0] * fields[1] * channels * sampleBytes;
}

}  // namespace

Image decodeImage(const std::filesystem::path& path) {
  const auto bytes = readWholeFile(path);
  const std::string name = path.string();
  if (bytes.empty())
    throw FormatError("image " + name + " is empty; give a PNG, JPEG or binary PPM/PGM file");
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX))
    throw FormatError("image " + name + " is too large to decode");
  const int length = static_cast<int>(bytes.size());

  // Header first: dimensions are checked before stb allocates the pixel buffer.
  int width = 0, height = 0, channels = 0;
  const bool known = stbi_info_from_memory(bytes.data(), length, &width, &height, &channels) != 0;
  const auto declared =
      known ? std::make_optional(std::pair<std::int64_t, std::int64_t>(width, height))
            : pngDeclaredSize(bytes);
  if (!declared)
    throw FormatError("image " + name + " is not a readable PNG, JPEG or binary PPM/PGM (" +
                      stbReason() + ")");
  const auto [declaredWidth, declaredHeight] = *declared;
  const std::string size = std::to_string(declaredWidth) + "x" + std::to_string(declaredHeight);
  if (declaredWidth <= 0 || declaredHeight <= 0)
    throw FormatError("image " + name + " declares " + size + " pixels: it holds no image");
  if (declaredWidth > kMaxImageSide || declaredHeight > kMaxImageSide ||
      declaredWidth * declaredHeight > kMaxImagePixels)
    throw FormatError("image " + name + " declares " + size + " pixels, over the limit of " +
                      std::to_string(kMaxImageSide) + " per side and 100 megapixels; resize it");
  if (!known)
    throw FormatError("image " + name + " is not a readable PNG, JPEG or binary PPM/PGM (" +
                      stbReason() + ")");

  if (const auto needed = netpbmNeededBytes(bytes); needed && *needed > bytes.size())
    throw FormatError("image " + name + " is truncated: its header needs " +
                      std::to_string(*needed) + " bytes, the file has " +
                      std::to_string(bytes.size()));

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
