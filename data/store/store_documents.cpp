// Documents in an HDF5 file. Writing takes the same open-file-description lock the activation
// store writer holds while recording, so a recording in progress is refused rather than having
// its metadata rewritten under it. A replaced document is written under a temporary name first
// and then renamed, so the old text stays whole until the new one is complete.
#include "data/store/store_documents.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "data/store/hdf5_handle.h"

namespace cs::data {

namespace fs = std::filesystem;
using h5::check;
using h5::checked;
using h5::Handle;

namespace {

// Names written here but never listed: '~' is not allowed in document names.
constexpr const char* kTemporaryPrefix = "~writing.";

bool validName(const std::string& text) {
  if (text.empty() || text.size() > 128 || text == "." || text == "..") return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

void checkName(const std::string& text, const std::string& what) {
  if (!validName(text))
    throw ConfigError(what + " '" + text +
                      "' is not usable inside an HDF5 store: use 1 to 128 letters, digits, '.', "
                      "'_' or '-' (not '.' or '..')");
}

std::string documentPath(const std::string& group, const std::string& name) {
  return "/" + group + "/" + name;
}

// The advisory write lock ActivationStoreWriter holds while recording (F_OFD_SETLK): it
// conflicts with another open of the file even in the same process, and the kernel drops it when
// a process dies.
class WriteLock {
 public:
  explicit WriteLock(const fs::path& path) {
    m_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (m_fd < 0) throw IoError("cannot open " + path.string() + ": " + std::strerror(errno));
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (::fcntl(m_fd, F_OFD_SETLK, &lock) != 0) {
      ::close(m_fd);
      throw IoError(path.string() +
                    " is being recorded (or written) by a circuitscope process; store the "
                    "document after the recording finishes");
    }
  }
  ~WriteLock() { ::close(m_fd); }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

 private:
  int m_fd = -1;
};

void checkIsHdf5(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(path.string() + " does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw FormatError(path.string() + " is not an HDF5 file");
}

Handle openForReading(const fs::path& path) {
  h5::silenceErrorPrinting();
  checkIsHdf5(path);
  // SWMR reading first, as the store reader does, so that a store being recorded can be read.
  return h5::openFileForReading(path.string());
}

bool linkExists(hid_t location, const std::string& name) {
  return H5Lexists(location, name.c_str(), H5P_DEFAULT) > 0;
}

// Link names of a group in index order (H5Gget_info and H5Lget_name_by_idx read the same in
// HDF5 1.10 and later, unlike H5Literate's callback type).
std::vector<std::string> linkNames(hid_t group, const std::string& where) {
  H5G_info_t info{};
  check(H5Gget_info(group, &info), "listing " + where);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t size =
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (size < 0) throw IoError("listing " + where + ": " + h5::lastErrorDescription());
    std::string name(static_cast<std::size_t>(size) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(size));
    names.push_back(std::move(name));
  }
  return names;
}

std::vector<std::string> documentNames(hid_t group, const std::string& where) {
  auto names = linkNames(group, where);
  std::erase_if(names, [](const std::string& n) { return !validName(n); });
  std::sort(names.begin(), names.end());
  return names;
}

Handle openGroup(hid_t file, const std::string& group, const std::string& where) {
  auto object = checked(H5Oopen(file, group.c_str(), H5P_DEFAULT), where + ": /" + group);
  if (H5Iget_type(object.get()) != H5I_GROUP)
    throw FormatError(where + ": /" + group + " is not a group");
  return object;
}

Handle utf8StringType() {
  auto type = checked(H5Tcopy(H5T_C_S1), "string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "string size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string character set");
  return type;
}

}  // namespace

void writeStoreDocument(const fs::path& storePath, const std::string& group,
                        const std::string& name, const std::string& text, bool replace) {
  checkName(group, "group");
  checkName(name, "document name");
  const auto where = storePath.string();
  const auto target = documentPath(group, name);
  if (text.find('\0') != std::string::npos)
    throw ConfigError("cannot store " + target + " in " + where + ": the text holds a NUL byte");
  if (text.size() > kMaxStoreDocumentBytes)
    throw ConfigError("cannot store " + target + " in " + where + ": " +
                      std::to_string(text.size()) + " bytes is more than the " +
                      std::to_string(kMaxStoreDocumentBytes) + " a document may hold");
  h5::silenceErrorPrinting();
  checkIsHdf5(storePath);
  const WriteLock lock(storePath);

  // The store writer's format bounds, so that a store keeps one object format throughout.
  auto fapl = checked(H5Pcreate(H5P_FILE_ACCESS), "file access properties");
  check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST),
        "file format version");
  const hid_t id = H5Fopen(storePath.c_str(), H5F_ACC_RDWR, fapl.get());
  if (id < 0) {
    const auto reason = h5::lastErrorDescription();
    throw IoError("cannot open " + where + " to store " + target + (reason.empty() ? "" : ": ") +
                  reason +
                  ". Close it wherever it is open (a viewer, h5py, a reader in this program); if "
                  "a recording into it was killed, finish it first (record --resume)");
  }
  Handle file(id);

  Handle groupHandle =
      linkExists(file.get(), group)
          ? openGroup(file.get(), group, where)
          : checked(H5Gcreate2(file.get(), group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    "creating /" + group + " in " + where);
  const bool exists = linkExists(groupHandle.get(), name);
  if (exists && !replace)
    throw ConfigError(where + " already holds " + target + "; choose another name or replace it");

  const std::string temporary = kTemporaryPrefix + name;
  if (linkExists(groupHandle.get(), temporary))  // left by a write that died
    check(H5Ldelete(groupHandle.get(), temporary.c_str(), H5P_DEFAULT),
          "removing a stale " + temporary + " in " + where);
  {
    auto type = utf8StringType();
    auto space = checked(H5Screate(H5S_SCALAR), "scalar space");
    auto dataset = checked(H5Dcreate2(groupHandle.get(), temporary.c_str(), type.get(), space.get(),
                                      H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           "creating " + target + " in " + where);
    const char* data = text.c_str();
    check(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &data),
          "writing " + target + " to " + where);
  }
  if (exists)
    check(H5Ldelete(groupHandle.get(), name.c_str(), H5P_DEFAULT),
          "replacing " + target + " in " + where);
  check(H5Lmove(groupHandle.get(), temporary.c_str(), groupHandle.get(), name.c_str(), H5P_DEFAULT,
                H5P_DEFAULT),
        "naming " + target + " in " + where);
  check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flushing " + where);
}

std::string readStoreDocument(const fs::path& storePath, const std::string& group,
                              const std::string& name) {
  checkName(group, "group");
  checkName(name, "document name");
  const auto where = storePath.string();
  const auto target = documentPath(group, name);
  auto file = openForReading(storePath);
  if (!linkExists(file.get(), group))
    throw ConfigError(where + " has no " + target + " (it holds no documents in /" + group + ")");
  auto groupHandle = openGroup(file.get(), group, where);
  if (!linkExists(groupHandle.get(), name)) {
    std::string listed;
    for (const auto& n : documentNames(groupHandle.get(), where))
      listed += (listed.empty() ? "" : ", ") + n;
    throw ConfigError(where + " has no " + target + " (documents in /" + group + ": " +
                      (listed.empty() ? "none" : listed) + ")");
  }
  auto object =
      checked(H5Oopen(groupHandle.get(), name.c_str(), H5P_DEFAULT), where + ": " + target);
  if (H5Iget_type(object.get()) != H5I_DATASET)
    throw FormatError(where + ": " + target + " is not a dataset holding a document");
  auto type = checked(H5Dget_type(object.get()), where + ": " + target);
  auto space = checked(H5Dget_space(object.get()), where + ": " + target);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw FormatError(where + ": " + target + " is not a single string");
  const auto tooLarge = [&](std::size_t bytes) {
    return FormatError(where + ": " + target + " holds " + std::to_string(bytes) +
                       " bytes, more than the " + std::to_string(kMaxStoreDocumentBytes) +
                       " a document may hold");
  };
  if (H5Tis_variable_str(type.get()) > 0) {
    // Ours, or h5py's str: read through a native variable-length type of the same character
    // set. The size is checked after reading: H5Dvlen_get_buf_size crashes on scalar dataspaces in
    // HDF5 1.10, and one heap object cannot be larger than the file anyway.
    auto memType = checked(H5Tcopy(H5T_C_S1), "string type");
    check(H5Tset_size(memType.get(), H5T_VARIABLE), "string size");
    check(H5Tset_cset(memType.get(), H5Tget_cset(type.get())), "string character set");
    char* data = nullptr;
    check(H5Dread(object.get(), memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &data),
          where + ": reading " + target);
    std::string text = data ? data : "";
    H5free_memory(data);
    if (text.size() > kMaxStoreDocumentBytes) throw tooLarge(text.size());
    return text;
  }
  // A fixed-length string (h5py writes numpy bytes this way), NUL-padded or NUL-terminated.
  const std::size_t size = H5Tget_size(type.get());
  if (size > kMaxStoreDocumentBytes) throw tooLarge(size);
  std::string text(size, '\0');
  check(H5Dread(object.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()),
        where + ": reading " + target);
  text.resize(std::min(size, text.find('\0')));
  return text;
}

std::vector<std::string> listStoreDocuments(const fs::path& storePath, const std::string& group) {
  checkName(group, "group");
  const auto where = storePath.string();
  auto file = openForReading(storePath);
  if (!linkExists(file.get(), group)) return {};
  auto groupHandle = openGroup(file.get(), group, where);
  return documentNames(groupHandle.get(), where);
}

}  // namespace cs::data
