// Decoding of untrusted PNG, JPEG and binary PPM/PGM (P6/P5) files into 8-bit RGB, with size limits
// checked from the header before any pixel memory is allocated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace cs::data {

/// An 8-bit RGB image, row-major: pixel (x, y) channel c is rgb[(y * width + x) * 3 + c].
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // [height, width, 3]
};

/// Largest file, side and pixel count decodeImage accepts.
inline constexpr std::uintmax_t kMaxImageFileBytes = 256ull << 20;
inline constexpr int kMaxImageSide = 16384;
inline constexpr std::int64_t kMaxImagePixels = 100'000'000;

/// Decodes a PNG, JPEG or binary PPM/PGM (8 or 16 bits a sample, scaled to 8) file. Grey and
/// grey+alpha become RGB by repeating the grey value; alpha is dropped (not composited), so
/// transparent pixels keep their stored colour. IoError if the file cannot be read; FormatError
/// naming the file if it is larger than the limits above, not one of those formats, truncated or
/// corrupt.
Image decodeImage(const std::filesystem::path& path);

}  // namespace cs::data
