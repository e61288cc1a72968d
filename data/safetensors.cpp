// safetensors parsing and validation. Nothing from the header is trusted: every length and
// offset is checked against the file before a byte of tensor data is touched.
#include "data/safetensors.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/shape_text.h"
#include "data/atomic_file.h"
#include "data/dtype.h"
#include "data/json_document.h"
#include "data/mapped_file.h"

namespace cs::data {

namespace {

// Headers larger than this are refused before parsing (the reference implementation uses the
// same bound); it keeps a hostile length from driving a huge allocation.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr int kMaxJsonDepth = 16;  // a header is an object of objects of arrays

std::uint64_t readLittleEndian64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

SafetensorsEntry parseEntry(const std::string& name, const nlohmann::json& value,
                            std::uint64_t dataSize, const std::string& where) {
  const std::string at = where + ": tensor '" + name + "'";
  if (!value.is_object()) throw FormatError(at + ": entry is not a JSON object");
  SafetensorsEntry entry;
  entry.name = name;

  const auto dtypeIt = value.find("dtype");
  if (dtypeIt == value.end() || !dtypeIt->is_string()) {
    throw FormatError(at + ": missing or non-string \"dtype\"");
  }
  const auto dtype = scalarTypeFromSafetensors(dtypeIt->get<std::string>());
  if (!dtype) {
    throw FormatError(at + ": unsupported dtype \"" + dtypeIt->get<std::string>() +
                      "\" (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
  }
  entry.dtype = *dtype;

  const auto shapeIt = value.find("shape");
  if (shapeIt == value.end() || !shapeIt->is_array() || shapeIt->size() > 16) {
    throw FormatError(at + ": \"shape\" must be an array of at most 16 sizes");
  }
  std::uint64_t count = 1;
  bool overflow = false;
  for (const auto& dim : *shapeIt) {
    if (!dim.is_number_unsigned()) {
      throw FormatError(at + ": shape " + shapeIt->dump() +
                        " holds a non-integer or negative size");
    }
    const std::uint64_t d = dim.get<std::uint64_t>();
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) overflow = true;
    if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d) overflow = true;
    count *= d;
    entry.shape.push_back(static_cast<std::int64_t>(d));
  }

  const auto offsetsIt = value.find("data_offsets");
  if (offsetsIt == value.end() || !offsetsIt->is_array() || offsetsIt->size() != 2 ||
      !(*offsetsIt)[0].is_number_unsigned() || !(*offsetsIt)[1].is_number_unsigned()) {
    throw FormatError(at + ": \"data_offsets\" must be two non-negative integers");
  }
  entry.begin = (*offsetsIt)[0].get<std::uint64_t>();
  entry.end = (*offsetsIt)[1].get<std::uint64_t>();
  if (entry.begin > entry.end) {
    throw FormatError(at + ": data_offsets [" + std::to_string(entry.begin) + ", " +
                      std::to_string(entry.end) + "] run backwards");
  }
  if (entry.end > dataSize) {
    throw FormatError(at + ": data_offsets end " + std::to_string(entry.end) +
                      " lies past the data area (" + std::to_string(dataSize) +
                      " bytes); the file is truncated or the header is wrong");
  }
  const std::uint64_t itemSize = c10::elementSize(entry.dtype);
  if (overflow || count > std::numeric_limits<std::uint64_t>::max() / itemSize ||
      count * itemSize != entry.end - entry.begin) {
    throw FormatError(
        at + ": " + std::to_string(entry.end - entry.begin) + " bytes stored but " +
        dtypeIt->get<std::string>() + " " + shapeText(entry.shape) + " needs " +
        (overflow ? std::string("an impossible number of") : std::to_string(count * itemSize)) +
        " bytes");
  }
  return entry;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile file;
  file.m_file = MappedFile::open(path);
  const std::string where = path.string();
  const std::uint64_t fileSize = file.m_file->size();
  if (fileSize < 8) {
    throw FormatError(where + ": " + std::to_string(fileSize) +
                      " bytes is too short for a safetensors file (truncated?)");
  }
  std::uint8_t lengthBytes[8];
  file.m_file->copyOut(0, sizeof lengthBytes, lengthBytes);
  const std::uint64_t headerSize = readLittleEndian64(lengthBytes);
  if (headerSize > fileSize - 8) {
    throw FormatError(where + ": header length " + std::to_string(headerSize) +
                      " runs past the end of the file (" + std::to_string(fileSize) +
                      " bytes); the file is truncated or not safetensors");
  }
  if (headerSize > kMaxHeaderBytes) {
    throw FormatError(where + ": header length " + std::to_string(headerSize) +
                      " exceeds the 100 MiB limit");
  }
  std::string headerText(headerSize, '\0');
  file.m_file->copyOut(8, headerSize, headerText.data());
  const auto header = parseJsonDocument(headerText, where + ": header", kMaxJsonDepth);
  if (!header.is_object()) throw FormatError(where + ": header JSON is not an object");

  file.m_dataStart = 8 + headerSize;
  const std::uint64_t dataSize = fileSize - file.m_dataStart;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw FormatError(where + ": __metadata__ is not an object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) {
          throw FormatError(where + ": __metadata__ value '" + key + "' is not a string");
        }
        file.m_metadata[key] = text.get<std::string>();
      }
      continue;
    }
    file.m_entries.push_back(parseEntry(name, value, dataSize, where));
  }

  // Overlaps: sort by start and compare neighbours. Zero-sized tensors take no bytes.
  std::vector<const SafetensorsEntry*> byOffset;
  for (const auto& e : file.m_entries) {
    if (e.end > e.begin) byOffset.push_back(&e);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const auto* a, const auto* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < byOffset.size(); ++i) {
    if (byOffset[i]->begin < byOffset[i - 1]->end) {
      throw FormatError(where + ": tensors '" + byOffset[i - 1]->name + "' and '" +
                        byOffset[i]->name + "' overlap in the data area");
    }
  }
  for (std::size_t i = 0; i < file.m_entries.size(); ++i) {
    file.m_index[file.m_entries[i].name] = i;
  }
  return file;
}

const std::filesystem::path& SafetensorsFile::path() const { return m_file->path(); }

bool SafetensorsFile::contains(const std::string& name) const { return m_index.count(name) > 0; }

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = m_index.find(name);
  if (it == m_index.end()) {
    throw FormatError(path().string() + ": no tensor named '" + name + "'");
  }
  return m_entries[it->second];
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const auto& e = entry(name);
  const auto options = torch::TensorOptions().dtype(e.dtype).device(torch::kCPU);
  if (e.end == e.begin) return torch::empty(e.shape, options);
  // Always a copy: a view of the mapping would crash (SIGBUS) on the first read after another
  // program cut the file short, and silently change if it rewrote it.
  auto copy = torch::empty(e.shape, options);
  m_file->copyOut(m_dataStart + e.begin, e.end - e.begin, copy.data_ptr());
  return copy;
}

void writeSafetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || header.contains(name)) {
      throw ConfigError("cannot write " + path.string() + ": duplicate or reserved tensor name '" +
                        name + "'");
    }
    auto c = t.detach().to(torch::kCPU).contiguous();
    const std::uint64_t bytes = c.numel() * c.element_size();
    header[name] = {{"dtype", safetensorsDtypeName(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data area 8-byte aligned

  writeFileAtomically(path, [&](std::ostream& out) {
    std::uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(text.size() >> (8 * i));
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& c : contiguous) {
      out.write(static_cast<const char*>(c.data_ptr()),
                static_cast<std::streamsize>(c.numel() * c.element_size()));
    }
  });
}

}  // namespace cs::data
