// POSIX mmap wrapper.
#include "data/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace cs::data {

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw IoError("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("cannot read " + path.string() + ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile);
  file->m_path = path;
  file->m_size = static_cast<std::size_t>(st.st_size);
  if (file->m_size > 0) {
    void* addr = ::mmap(nullptr, file->m_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw IoError("cannot map " + path.string() + ": " + std::strerror(err));
    }
    file->m_data = static_cast<const std::uint8_t*>(addr);
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (m_data != nullptr) ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
}

}  // namespace cs::data
