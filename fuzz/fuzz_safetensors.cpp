// safetensors files: SafetensorsFile::open on arbitrary bytes, then every tensor read back.
// An accepted file must hand out tensors whose bytes are exactly the ones the header points at:
// they are compared with the fuzzer's own copy of the input, so a wrong offset reads outside
// that buffer and AddressSanitizer reports it.
#include <ATen/ATen.h>

#include <cstring>

#include "data/safetensors.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = cs::fuzz::scratchDir() / "model.safetensors";
  cs::fuzz::writeFile(path, cs::fuzz::asText(data, size));
  return cs::fuzz::runOne([&] {
    const auto file = cs::data::SafetensorsFile::open(path);
    // open() succeeded, so the 8-byte length prefix is there and in range.
    std::uint64_t headerSize = 0;
    for (int i = 7; i >= 0; --i) headerSize = (headerSize << 8) | data[i];
    const std::uint64_t dataStart = 8 + headerSize;
    for (const auto& entry : file.entries()) {
      if (!file.contains(entry.name) || &file.entry(entry.name) != &entry)
        cs::fuzz::fail("entry '" + entry.name + "' is listed but not found by name");
      if (dataStart + entry.end > size) cs::fuzz::fail("tensor '" + entry.name + "' ends past EOF");
      const auto tensor = file.tensor(entry.name);
      const auto bytes = static_cast<std::size_t>(tensor.numel()) * tensor.element_size();
      if (bytes != entry.end - entry.begin)
        cs::fuzz::fail("tensor '" + entry.name + "' has " + std::to_string(bytes) +
                       " bytes, its offsets say " + std::to_string(entry.end - entry.begin));
      if (tensor.sizes().vec() != entry.shape)
        cs::fuzz::fail("tensor '" + entry.name + "' does not have its header's shape");
      if (bytes > 0 && std::memcmp(tensor.data_ptr(), data + dataStart + entry.begin, bytes) != 0)
        cs::fuzz::fail("tensor '" + entry.name + "' does not hold the bytes its offsets name");
    }
    for (const auto& [key, value] : file.metadata()) (void)(key.size() + value.size());
  });
}
