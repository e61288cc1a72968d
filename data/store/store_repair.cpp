#include "data/store/store_repair.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "core/error.h"

namespace cs::data {

namespace fs = std::filesystem;

namespace {

std::uint64_t littleEndian64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::optional<CutShortFile> findCutShort(const fs::path& path) {
  // Superblock versions 2 and 3: signature (8), version, offset size, length size, flags,
  // base address, extension address, end-of-file address, root object header, checksum.
  constexpr std::array<unsigned char, 8> kSignature{0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  std::array<unsigned char, 48> head{};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(head.data()), head.size())) return std::nullopt;
  if (std::memcmp(head.data(), kSignature.data(), kSignature.size()) != 0) return std::nullopt;
  if ((head[8] != 2 && head[8] != 3) || head[9] != 8 || head[10] != 8) return std::nullopt;
  if (littleEndian64(&head[12]) != 0) return std::nullopt;  // a user block: not ours
  const auto recordedEnd = littleEndian64(&head[28]);
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error || recordedEnd <= size || recordedEnd > (std::uint64_t{1} << 62)) return std::nullopt;
  return CutShortFile{static_cast<std::int64_t>(size), static_cast<std::int64_t>(recordedEnd)};
}

bool extendCutShortStore(const fs::path& path) {
  const auto cut = findCutShort(path);
  if (!cut) return false;
  constexpr std::int64_t kMaxGap = std::int64_t{4} << 30;
  if (cut->recordedEnd - cut->size > std::max(cut->size, kMaxGap))
    throw IoError(path.string() + " records an end of " + std::to_string(cut->recordedEnd) +
                  " bytes but holds " + std::to_string(cut->size) +
                  "; that is not what a failed write leaves, so the header is damaged and the "
                  "file cannot be repaired");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, cut->recordedEnd) != 0) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw IoError("cannot extend " + path.string() + " to its recorded end (" + reason + ")");
  }
  ::close(fd);
  return true;
}

}  // namespace cs::data
