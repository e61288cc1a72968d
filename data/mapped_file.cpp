// POSIX mmap wrapper. A page of a mapping that lies past the end of a file cut short after
// mmap raises SIGBUS when touched; copyOut catches that with a per-thread jump target, the way
// mapped-file databases do, so a reader gets an error instead of a crash.
#include "data/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace cs::data {

namespace {

// volatile: the handler reads it, so the stores around memcpy must not be optimised away.
thread_local sigjmp_buf* volatile t_copyGuard = nullptr;
struct sigaction g_previousBusAction {};

void onBusError(int signal, siginfo_t* info, void* context) {
  if (t_copyGuard != nullptr) siglongjmp(*t_copyGuard, 1);
  // Not a guarded copy: hand the signal to whoever handled it before (returning re-runs the
  // faulting instruction, which then meets that handler or the default: a crash, as it should).
  if (g_previousBusAction.sa_flags & SA_SIGINFO) {
    g_previousBusAction.sa_sigaction(signal, info, context);
  } else {
    ::sigaction(SIGBUS, &g_previousBusAction, nullptr);
  }
}

void installBusHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = onBusError;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &g_previousBusAction);
  });
}

// Returns false when the copy touched a page past the end of the file.
bool guardedCopy(void* out, const void* in, std::size_t bytes) {
  sigjmp_buf target;
  if (sigsetjmp(target, 1) != 0) {
    t_copyGuard = nullptr;
    return false;
  }
  t_copyGuard = &target;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(out, in, bytes);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_copyGuard = nullptr;
  return true;
}

}  // namespace

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
  file->m_identity = identityOf(st);
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

MappedFile::Identity MappedFile::identityOf(const struct stat& st) {
  return {static_cast<unsigned long>(st.st_dev), static_cast<unsigned long>(st.st_ino),
          static_cast<long long>(st.st_mtim.tv_sec), static_cast<long long>(st.st_mtim.tv_nsec),
          static_cast<long long>(st.st_size)};
}

bool MappedFile::changedOnDisk() const {
  struct stat st {};
  if (::stat(m_path.c_str(), &st) != 0) return true;
  return identityOf(st) != m_identity;
}

void MappedFile::throwChanged() const {
  throw IoError(m_path.string() +
                " changed on disk while being read (cut short, replaced or rewritten by another "
                "program); wait until it is complete and load it again");
}

void MappedFile::copyOut(std::size_t offset, std::size_t bytes, void* out) const {
  if (bytes == 0) return;
  installBusHandler();
  if (!guardedCopy(out, m_data + offset, bytes)) throwChanged();
  // After the copy: bytes read from a file being rewritten may mix old and new contents.
  if (changedOnDisk()) throwChanged();
}

MappedFile::~MappedFile() {
  if (m_data != nullptr) ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
}

}  // namespace cs::data
