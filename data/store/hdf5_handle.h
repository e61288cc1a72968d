// Small RAII and error helpers over the HDF5 C API, shared by the activation store's reader and
// writer. HDF5's own error printing is switched off; its error stack becomes our messages.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cs::data::h5 {

/// Owns one HDF5 identifier (file, group, dataset, dataspace, type, property list, attribute)
/// and closes it with H5Idec_ref, which works for every kind.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : m_id(id) {}
  Handle(Handle&& other) noexcept : m_id(other.release()) {}
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return m_id; }
  bool valid() const { return m_id >= 0; }
  hid_t release();
  void reset();

 private:
  hid_t m_id = H5I_INVALID_HID;
};

/// Turns HDF5's automatic error printing off (once per process).
void silenceErrorPrinting();

/// The innermost description on HDF5's error stack, e.g. "unable to open file", or "".
std::string lastErrorDescription();

/// Returns `id` as a Handle; throws IoError "<what>: <HDF5's reason>" when it is negative.
Handle checked(hid_t id, const std::string& what);

/// Throws IoError "<what>: <HDF5's reason>" when `status` is negative.
void check(herr_t status, const std::string& what);

/// Opens an HDF5 file read-only: in SWMR-read mode first, so that a store another process is
/// still writing can be read, then plainly (files written without SWMR by other tools).
/// IoError "cannot open <path>: <HDF5's reason>" if neither works.
Handle openFileForReading(const std::string& path);

/// The IEEE half-precision type (h5py reads it as numpy float16).
Handle float16Type();

// Attributes on any object. Readers throw FormatError naming the attribute when it is absent
// or of the wrong class; hasAttribute throws IoError naming the file when its metadata cannot be
// read (a damaged file), rather than answering "absent".
bool hasAttribute(hid_t object, const std::string& name);
void writeStringAttribute(hid_t object, const std::string& name, const std::string& value);
void writeIntAttribute(hid_t object, const std::string& name, std::int64_t value);
std::string readStringAttribute(hid_t object, const std::string& name, const std::string& where);
std::int64_t readIntAttribute(hid_t object, const std::string& name, const std::string& where);

/// The dimensions of a dataset's current extent.
std::vector<hsize_t> datasetExtent(hid_t dataset);

}  // namespace cs::data::h5
