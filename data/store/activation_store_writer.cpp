// Writer: SWMR mode so that readers (the GUI, h5py with swmr=True) can follow a recording as it
// grows. A batch is committed by moving rows_written after its data is flushed; on reopen,
// datasets are cut back to rows_written, so a half-written batch never counts.
#include "data/store/activation_store_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/fault_injection.h"
#include "data/store/store_header.h"
#include "data/store/store_repair.h"
#include "data/store/store_space.h"

namespace cs::data {

namespace fs = std::filesystem;
using h5::check;
using h5::checked;

std::int64_t StoreBatch::rows() const {
  if (!activations.empty()) return activations.front().size(0);
  return inputs.empty() ? 0 : inputs.front().size(0);
}

std::int64_t StoreBatch::bytes() const {
  std::int64_t total = 0;
  for (const auto& t : inputs) total += static_cast<std::int64_t>(t.nbytes());
  for (const auto& t : activations) total += static_cast<std::int64_t>(t.nbytes());
  return total;
}

namespace {

// An advisory lock on the store (an open-file-description lock, separate from the flock HDF5
// takes itself) so that two circuitscope processes never write one file. The kernel drops it
// when the process dies, so a killed run leaves nothing stale.
int lockForWriting(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open " + path.string() + ": " + std::strerror(errno));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    ::close(fd);
    throw IoError(path.string() +
                  " is being written by another circuitscope process; wait for it to finish or "
                  "stop it first");
  }
  return fd;
}

// Stores whose writer failed in this process and could not be closed: HDF5 still holds them
// open with a cache it cannot flush, and would share that broken state with a new open of the
// same file. Keyed by device and inode.
std::mutex g_unclosedMutex;
std::set<std::pair<dev_t, ino_t>> g_unclosed;

std::pair<dev_t, ino_t> fileIdentity(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {0, 0};
  return {info.st_dev, info.st_ino};
}

void refuseUnclosed(const fs::path& path) {
  const std::lock_guard lock(g_unclosedMutex);
  if (g_unclosed.count(fileIdentity(path)))
    throw IoError("an earlier write to " + path.string() +
                  " failed in this process, which still holds the file; its finished examples "
                  "are safe: restart circuitscope (or use circuitscope-cli) to continue it");
}

h5::Handle latestFormatAccess(bool clearStatusFlags) {
  auto fapl = checked(H5Pcreate(H5P_FILE_ACCESS), "file access properties");
  check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST),
        "file format version");
  if (clearStatusFlags) {
    // What `h5clear -s` does: a writer that was killed leaves the superblock marked as open.
    hbool_t clear = 1;
    check(H5Pset(fapl.get(), "clear_status_flags", &clear),
          "clearing the file's open-for-write mark");
  }
  return fapl;
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// The first difference between what a file holds and what the caller will write, or "".
std::string layoutDifference(const StoreLayout& file, const StoreLayout& wanted, bool sameDataset) {
  if (file.model.weightsSha256 != wanted.model.weightsSha256)
    return "it was recorded from a different model (weights digest " +
           file.model.weightsSha256.substr(0, 12) + "…, this model " +
           wanted.model.weightsSha256.substr(0, 12) + "…)";
  if (file.positions != wanted.positions)
    return "it records positions '" + file.positions + "', not '" + wanted.positions + "'";
  if (sameDataset && file.dataset != wanted.dataset)
    return "it records dataset '" + file.dataset + "', not '" + wanted.dataset + "'";
  auto compare = [](const std::vector<ArraySpec>& a, const std::vector<ArraySpec>& b,
                    const std::string& what) -> std::string {
    if (a.size() != b.size())
      return "it holds " + std::to_string(a.size()) + " " + what + ", this run has " +
             std::to_string(b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].name != b[i].name)
        return what + " differ: '" + a[i].name + "' there, '" + b[i].name + "' here";
      if (a[i].rowShape != b[i].rowShape)
        return a[i].name + " has shape " + shapeText(a[i].rowShape) + " per example there, " +
               shapeText(b[i].rowShape) + " here";
    }
    return "";
  };
  if (auto d = compare(file.activations, wanted.activations, "hooks"); !d.empty()) return d;
  return compare(file.inputs, wanted.inputs, "inputs");
}

}  // namespace

std::unique_ptr<ActivationStoreWriter> ActivationStoreWriter::open(const fs::path& path,
                                                                   const StoreLayout& layout,
                                                                   const StoreOptions& options,
                                                                   StoreOpenMode mode) {
  h5::silenceErrorPrinting();
  std::unique_ptr<ActivationStoreWriter> writer(new ActivationStoreWriter());
  writer->m_path = path;
  writer->m_layout = layout;
  writer->m_options = options;
  if (fs::exists(path)) refuseUnclosed(path);
  if (mode == StoreOpenMode::Create || mode == StoreOpenMode::Overwrite) {
    if (mode == StoreOpenMode::Create && fs::exists(path))
      throw IoError(path.string() +
                    " already exists; pass --resume to continue it, --append to add "
                    "examples, or --overwrite to replace it");
    if (mode == StoreOpenMode::Overwrite && fs::exists(path)) {
      // Refuse to replace a store another process is still writing.
      ::close(lockForWriting(path));
    }
    writer->createLayout(layout);
  } else {
    if (!fs::exists(path))
      throw IoError(path.string() + " does not exist, so there is nothing to " +
                    (mode == StoreOpenMode::Resume ? "resume" : "append to"));
    writer->reopenExisting(layout, mode);
  }
  check(H5Fstart_swmr_write(writer->m_file.get()), "starting to write " + path.string());
  return writer;
}

void ActivationStoreWriter::createLayout(const StoreLayout& layout) {
  auto fapl = latestFormatAccess(false);
  m_file = checked(H5Fcreate(m_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                   "cannot create " + m_path.string());
  m_lockFd = lockForWriting(m_path);
  createStoreObjects(m_file.get(), layout, m_options);
  check(H5Fflush(m_file.get(), H5F_SCOPE_GLOBAL), "writing " + m_path.string());
  for (const auto& spec : layout.inputs)
    m_inputSets.push_back(
        checked(H5Dopen2(m_file.get(), inputPath(spec.name).c_str(), H5P_DEFAULT), spec.name));
  for (const auto& spec : layout.activations)
    m_activationSets.push_back(
        checked(H5Dopen2(m_file.get(), activationPath(spec.name).c_str(), H5P_DEFAULT), spec.name));
  if (m_options.dtype == StorageDtype::Float16) m_float16 = h5::float16Type();
  readChunking();
}

void ActivationStoreWriter::readChunking() {
  auto geometry = [this](hid_t set, const std::string& name) {
    auto plist = checked(H5Dget_create_plist(set), name);
    auto type = checked(H5Dget_type(set), name);
    std::vector<hsize_t> dims(static_cast<std::size_t>(H5S_MAX_RANK), 0);
    const int rank = H5Pget_chunk(plist.get(), static_cast<int>(dims.size()), dims.data());
    if (rank <= 0) throw FormatError(m_path.string() + ": " + name + " is not chunked");
    Chunking c;
    c.rows = static_cast<std::int64_t>(dims[0]);
    c.bytes = static_cast<std::int64_t>(H5Tget_size(type.get()));
    for (int i = 0; i < rank; ++i) c.bytes *= static_cast<std::int64_t>(dims[i]);
    return c;
  };
  m_chunking.clear();
  for (std::size_t i = 0; i < m_inputSets.size(); ++i)
    m_chunking.push_back(geometry(m_inputSets[i].get(), m_layout.inputs[i].name));
  for (std::size_t i = 0; i < m_activationSets.size(); ++i)
    m_chunking.push_back(geometry(m_activationSets[i].get(), m_layout.activations[i].name));
}

void ActivationStoreWriter::reopenExisting(const StoreLayout& layout, StoreOpenMode mode) {
  m_lockFd = lockForWriting(m_path);
  // A write that failed on a full disk leaves the file shorter than its header says.
  extendCutShortStore(m_path);
  if (H5Fis_hdf5(m_path.c_str()) <= 0) throw FormatError(m_path.string() + " is not an HDF5 file");
  auto fapl = latestFormatAccess(true);
  m_file =
      checked(H5Fopen(m_path.c_str(), H5F_ACC_RDWR, fapl.get()), "cannot open " + m_path.string());
  // A killed writer may leave the end-of-allocation mark short of the data (h5clear --increment).
  check(H5Fincrement_filesize(m_file.get(), 0), "repairing the end of " + m_path.string());
  const auto header = readStoreHeader(m_file.get(), m_path.string());
  const bool resume = mode == StoreOpenMode::Resume;
  if (resume && header.complete)
    throw ConfigError(m_path.string() + " is already complete (" +
                      std::to_string(header.rowsWritten) +
                      " examples); use --append to add examples to it");
  if (!resume && !header.complete)
    throw ConfigError(m_path.string() + " is incomplete (" + std::to_string(header.rowsWritten) +
                      " examples written); use --resume to finish it before appending");
  if (const auto d = layoutDifference(header.layout, layout, resume); !d.empty())
    throw ConfigError("cannot " + std::string(resume ? "resume " : "append to ") + m_path.string() +
                      ": " + d);
  m_options = header.options;
  m_layout = header.layout;
  m_rowsWritten = header.rowsWritten;

  // Cut every array back to the committed rows: a batch that was being written when the run
  // died may have extended some of them.
  auto openCut = [&](const std::string& path) {
    auto set = checked(H5Dopen2(m_file.get(), path.c_str(), H5P_DEFAULT), path);
    auto extent = h5::datasetExtent(set.get());
    extent[0] = static_cast<hsize_t>(m_rowsWritten);
    check(H5Dset_extent(set.get(), extent.data()), "truncating " + path);
    return set;
  };
  for (const auto& spec : m_layout.inputs) m_inputSets.push_back(openCut(inputPath(spec.name)));
  for (const auto& spec : m_layout.activations)
    m_activationSets.push_back(openCut(activationPath(spec.name)));
  h5::writeIntAttribute(m_file.get(), "complete", 0);
  check(H5Fflush(m_file.get(), H5F_SCOPE_GLOBAL), "writing " + m_path.string());
  if (m_options.dtype == StorageDtype::Float16) m_float16 = h5::float16Type();
  readChunking();
}

ActivationStoreWriter::~ActivationStoreWriter() {
  // After a failed write a close may fail too (it flushes what could not be written). Once one
  // has, the rest are left open: closing the file under a dataset that HDF5 could not close
  // leaves the library with dangling objects.
  bool closing = true;
  auto close = [&](h5::Handle& handle) {
    if (!handle.valid()) return;
    const hid_t id = handle.release();
    if (closing && H5Idec_ref(id) < 0) closing = false;
  };
  for (auto& set : m_inputSets) close(set);
  for (auto& set : m_activationSets) close(set);
  close(m_float16);
  close(m_file);
  if (!closing) {
    const std::lock_guard lock(g_unclosedMutex);
    g_unclosed.insert(fileIdentity(m_path));
  }
  if (m_lockFd >= 0) ::close(m_lockFd);
}

void ActivationStoreWriter::checkBatch(const StoreBatch& batch) const {
  if (batch.inputs.size() != m_layout.inputs.size() ||
      batch.activations.size() != m_layout.activations.size())
    throw ShapeError("batch for " + m_path.string() + " has " +
                     std::to_string(batch.inputs.size()) + " inputs and " +
                     std::to_string(batch.activations.size()) + " activations; the store has " +
                     std::to_string(m_layout.inputs.size()) + " and " +
                     std::to_string(m_layout.activations.size()));
  const auto rows = batch.rows();
  auto checkOne = [&](const at::Tensor& t, const ArraySpec& spec, c10::ScalarType dtype) {
    std::vector<std::int64_t> expected{rows};
    expected.insert(expected.end(), spec.rowShape.begin(), spec.rowShape.end());
    if (!t.defined() || t.sizes().vec() != expected)
      throw ShapeError(spec.name + ": batch array has shape " +
                       (t.defined() ? shapeText(t.sizes().vec()) : std::string("(none)")) +
                       ", the store expects " + shapeText(expected));
    if (t.scalar_type() != dtype || !t.device().is_cpu() || !t.is_contiguous())
      throw ShapeError(spec.name + ": batch array must be a contiguous CPU " +
                       c10::toString(dtype) + " tensor");
  };
  for (std::size_t i = 0; i < batch.inputs.size(); ++i)
    checkOne(batch.inputs[i], m_layout.inputs[i], m_layout.inputs[i].dtype);
  const auto storage =
      m_options.dtype == StorageDtype::Float16 ? c10::ScalarType::Half : c10::ScalarType::Float;
  for (std::size_t i = 0; i < batch.activations.size(); ++i)
    checkOne(batch.activations[i], m_layout.activations[i], storage);
}

std::int64_t ActivationStoreWriter::bytesToGrowBy(std::int64_t rows) const {
  std::int64_t bytes = kMetadataMargin;
  for (const auto& c : m_chunking)
    bytes += bytesToGrow(m_rowsWritten, m_rowsWritten + rows, c.rows, c.bytes);
  return bytes;
}

void ActivationStoreWriter::fail(const std::string& reason) {
  m_failed = true;
  std::string repair;
  try {
    extendCutShortStore(m_path);
  } catch (const Error& e) {
    repair = " (" + std::string(e.what()) + ")";
  }
  throw IoError(reason + "; " + m_path.string() + " keeps its " + std::to_string(m_rowsWritten) +
                " finished examples" + repair +
                ": once the cause is fixed (a full disk?), continue with `record ... --resume`");
}

void ActivationStoreWriter::write(const StoreBatch& batch) {
  h5::silenceErrorPrinting();  // per thread, and batches arrive on a writer thread
  if (m_failed)
    throw IoError("an earlier write to " + m_path.string() + " failed; nothing more is written");
  if (m_complete) throw ConfigError(m_path.string() + " is complete; nothing more can be written");
  checkBatch(batch);
  if (batch.rows() == 0) return;
  if (!faultSkips("store.space_check")) {
    struct stat info {};
    haddr_t allocated = 0;
    std::int64_t end = ::fstat(m_lockFd, &info) == 0 ? static_cast<std::int64_t>(info.st_size) : 0;
    if (H5Fget_eoa(m_file.get(), &allocated) >= 0)
      end = std::max(end, static_cast<std::int64_t>(allocated));
    requireRoomToGrow(m_path, end, bytesToGrowBy(batch.rows()), m_rowsWritten);
  }
  try {
    writeBatch(batch);
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

void ActivationStoreWriter::writeBatch(const StoreBatch& batch) {
  const auto rows = static_cast<hsize_t>(batch.rows());
  auto writeOne = [&](hid_t set, const at::Tensor& t, hid_t memType, const std::string& name) {
    auto extent = h5::datasetExtent(set);
    extent[0] = static_cast<hsize_t>(m_rowsWritten) + rows;
    check(H5Dset_extent(set, extent.data()), "extending " + name);
    auto fileSpace = checked(H5Dget_space(set), name);
    std::vector<hsize_t> start(extent.size(), 0), count = extent;
    start[0] = static_cast<hsize_t>(m_rowsWritten);
    count[0] = rows;
    check(H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                              nullptr),
          name);
    auto memSpace =
        checked(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), name);
    check(H5Dwrite(set, memType, memSpace.get(), fileSpace.get(), H5P_DEFAULT, t.data_ptr()),
          "writing " + name + " to " + m_path.string());
    check(H5Dflush(set), "flushing " + name + " to " + m_path.string());
  };
  for (std::size_t i = 0; i < batch.inputs.size(); ++i)
    writeOne(m_inputSets[i].get(), batch.inputs[i], inputFileType(m_layout.inputs[i].dtype),
             m_layout.inputs[i].name);
  faultPoint("store.batch_half_written");
  const hid_t activationType =
      m_options.dtype == StorageDtype::Float16 ? m_float16.get() : H5T_NATIVE_FLOAT;
  for (std::size_t i = 0; i < batch.activations.size(); ++i)
    writeOne(m_activationSets[i].get(), batch.activations[i], activationType,
             m_layout.activations[i].name);
  faultPoint("store.batch_flushed");
  h5::writeIntAttribute(m_file.get(), "rows_written",
                        m_rowsWritten + static_cast<std::int64_t>(rows));
  check(H5Fflush(m_file.get(), H5F_SCOPE_GLOBAL), "flushing " + m_path.string());
  m_rowsWritten += static_cast<std::int64_t>(rows);
  faultPoint("store.batch_committed");
}

void ActivationStoreWriter::markComplete() {
  if (m_failed)
    throw IoError("an earlier write to " + m_path.string() + " failed; it stays incomplete");
  h5::writeIntAttribute(m_file.get(), "complete", 1);
  check(H5Fflush(m_file.get(), H5F_SCOPE_GLOBAL), "flushing " + m_path.string());
  m_complete = true;
}

}  // namespace cs::data
