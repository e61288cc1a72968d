// HDF5 helpers: identifiers close themselves, failures become IoError with HDF5's own reason.
#include "data/store/hdf5_handle.h"

#include <mutex>

#include "core/error.h"
#include "data/store/store_repair.h"

namespace cs::data::h5 {

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    m_id = other.release();
  }
  return *this;
}

hid_t Handle::release() {
  const hid_t id = m_id;
  m_id = H5I_INVALID_HID;
  return id;
}

void Handle::reset() {
  if (m_id >= 0) H5Idec_ref(m_id);
  m_id = H5I_INVALID_HID;
}

namespace {

// HDF5 would otherwise close every identifier still open at exit. A store whose write failed
// (disk full) cannot be closed: its dirty cache cannot be flushed, the close fails and leaves
// the library's objects half torn down, and that exit-time close crashed the process after it
// had reported the error. Every store is closed explicitly, so nothing needs the exit handler.
// Runs before main, so before the library initialises (H5dont_atexit must come first).
const bool kNoExitClose = [] {
  H5dont_atexit();
  return true;
}();

}  // namespace

void silenceErrorPrinting() {
  // Per thread: a thread-safe HDF5 keeps the printing switch with each thread's error stack,
  // and batches are written on a writer thread.
  thread_local bool silenced = false;
  if (silenced) return;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  silenced = true;
}

std::string lastErrorDescription() {
  // The stack lists the outermost call first; the last entry is the root cause, but the
  // outermost one usually says it in the user's terms ("unable to open file"). Keep both.
  struct Collected {
    std::string first, last;
    int count = 0;
  } collected;
  auto walk = [](unsigned, const H5E_error2_t* entry, void* data) -> herr_t {
    auto* c = static_cast<Collected*>(data);
    const std::string text = entry->desc ? entry->desc : "";
    if (c->count++ == 0) c->first = text;
    c->last = text;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &collected);
  if (collected.count == 0) return "";
  if (collected.first == collected.last) return collected.first;
  return collected.first + " (" + collected.last + ")";
}

Handle checked(hid_t id, const std::string& what) {
  if (id < 0) {
    const auto reason = lastErrorDescription();
    throw IoError(what + (reason.empty() ? "" : ": " + reason));
  }
  return Handle(id);
}

void check(herr_t status, const std::string& what) {
  if (status < 0) {
    const auto reason = lastErrorDescription();
    throw IoError(what + (reason.empty() ? "" : ": " + reason));
  }
}

namespace {

// In SWMR-read mode HDF5 takes a metadata block whose checksum fails for one a writer is still
// writing and reads it again, sleeping 1 ns before the second attempt and twice as long before
// each next one. Its default of 100 attempts turns a damaged block into a wait of 2^100 ns: the
// open never returns. 26 attempts give up after about 70 ms in all, still far longer than a
// writer takes to rewrite one block.
constexpr unsigned kSwmrReadAttempts = 26;

// The file an object lives in, for messages.
std::string fileNameOf(hid_t object) {
  const ssize_t size = H5Fget_name(object, nullptr, 0);
  if (size <= 0) return "HDF5 file";
  std::string name(static_cast<std::size_t>(size) + 1, '\0');
  H5Fget_name(object, name.data(), name.size());
  name.resize(static_cast<std::size_t>(size));
  return name;
}

}  // namespace

Handle openFileForReading(const std::string& path) {
  auto access = checked(H5Pcreate(H5P_FILE_ACCESS), "file access properties");
  check(H5Pset_metadata_read_attempts(access.get(), kSwmrReadAttempts), "metadata read attempts");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, access.get());
  if (id < 0) id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0 && findCutShort(path))
    throw IoError("cannot open " + path +
                  ": the file is shorter than its header records, as a write that failed "
                  "(a full disk) leaves it. Its finished examples are intact: `circuitscope-cli "
                  "inspect " +
                  path +
                  " --repair` makes them readable, and `record ... --resume` "
                  "repairs it and continues");
  return checked(id, "cannot open " + path);
}

Handle float16Type() {
  auto type = checked(H5Tcopy(H5T_IEEE_F32LE), "creating the float16 type");
  // Order matters: the fields must fit the precision before the size shrinks.
  check(H5Tset_fields(type.get(), 15, 10, 5, 0, 10), "float16 fields");
  check(H5Tset_precision(type.get(), 16), "float16 precision");
  check(H5Tset_size(type.get(), 2), "float16 size");
  check(H5Tset_ebias(type.get(), 15), "float16 exponent bias");
  return type;
}

bool hasAttribute(hid_t object, const std::string& name) {
  const htri_t exists = H5Aexists(object, name.c_str());
  if (exists < 0) {
    const auto reason = lastErrorDescription();
    throw IoError(fileNameOf(object) + ": cannot look up attribute '" + name +
                  "'; the file is damaged" + (reason.empty() ? "" : " (" + reason + ")"));
  }
  return exists > 0;
}

void writeStringAttribute(hid_t object, const std::string& name, const std::string& value) {
  // Variable-length UTF-8: h5py returns these as str, not bytes.
  auto type = checked(H5Tcopy(H5T_C_S1), "string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "string size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string character set");
  auto space = checked(H5Screate(H5S_SCALAR), "scalar space");
  if (hasAttribute(object, name)) check(H5Adelete(object, name.c_str()), "replacing " + name);
  auto attribute =
      checked(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              "creating attribute " + name);
  const char* text = value.c_str();
  check(H5Awrite(attribute.get(), type.get(), &text), "writing attribute " + name);
}

void writeIntAttribute(hid_t object, const std::string& name, std::int64_t value) {
  // An existing attribute is overwritten in place: that is allowed in SWMR mode, creating one
  // is not.
  Handle attribute;
  if (hasAttribute(object, name)) {
    attribute = checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute " + name);
  } else {
    auto space = checked(H5Screate(H5S_SCALAR), "scalar space");
    attribute = checked(
        H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
        "creating attribute " + name);
  }
  check(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value), "writing attribute " + name);
}

namespace {

Handle openAttribute(hid_t object, const std::string& name, const std::string& where) {
  if (!hasAttribute(object, name)) throw FormatError(where + " has no attribute '" + name + "'");
  return checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), where + ": attribute " + name);
}

}  // namespace

std::string readStringAttribute(hid_t object, const std::string& name, const std::string& where) {
  auto attribute = openAttribute(object, name, where);
  auto type = checked(H5Aget_type(attribute.get()), where + ": attribute " + name);
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw FormatError(where + ": attribute '" + name + "' is not a string");
  auto space = checked(H5Aget_space(attribute.get()), where + ": attribute " + name);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw FormatError(where + ": attribute '" + name + "' is not a single string");
  if (H5Tis_variable_str(type.get()) > 0) {
    // Ours, or h5py's: a variable-length string, read in the character set it was written in.
    char* text = nullptr;
    check(H5Aread(attribute.get(), type.get(), &text), where + ": reading " + name);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string value(size, '\0');
  check(H5Aread(attribute.get(), type.get(), value.data()), where + ": reading " + name);
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

std::int64_t readIntAttribute(hid_t object, const std::string& name, const std::string& where) {
  auto attribute = openAttribute(object, name, where);
  auto type = checked(H5Aget_type(attribute.get()), where + ": attribute " + name);
  auto space = checked(H5Aget_space(attribute.get()), where + ": attribute " + name);
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw FormatError(where + ": attribute '" + name + "' is not an integer");
  std::int64_t value = 0;
  check(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), where + ": reading " + name);
  return value;
}

std::vector<hsize_t> datasetExtent(hid_t dataset) {
  auto space = checked(H5Dget_space(dataset), "dataset extent");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw IoError("dataset extent: " + lastErrorDescription());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

}  // namespace cs::data::h5
