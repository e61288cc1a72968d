// model.safetensors.index.json: CheckpointFiles::open on a folder whose index is the fuzz input
// and whose shards are two small, valid files written once. Every tensor the opened checkpoint
// lists is read back; shard names must never leave the folder (the index is untrusted).
#include <ATen/ATen.h>

#include "data/safetensors.h"
#include "fuzz_support.h"
#include "models/loaders/checkpoint_files.h"

namespace {

namespace fs = std::filesystem;

const fs::path& folder() {
  static const fs::path dir = [] {
    const auto path = cs::fuzz::scratchDir() / "sharded";
    fs::create_directories(path);
    // Two shards as a real sharded checkpoint has them; names match the seed corpus.
    cs::data::writeSafetensors(path / "model-00001-of-00002.safetensors",
                               {{"wte.weight", at::arange(12, at::kFloat).view({3, 4})},
                                {"h.0.ln.bias", at::zeros({4}, at::kHalf)}});
    cs::data::writeSafetensors(path / "model-00002-of-00002.safetensors",
                               {{"h.0.mlp.weight", at::ones({4, 2}, at::kBFloat16)},
                                {"lm_head.weight", at::arange(8, at::kLong).view({2, 4})}});
    return path;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = folder();
  cs::fuzz::writeFile(dir / "model.safetensors.index.json", cs::fuzz::asText(data, size));
  return cs::fuzz::runOne([&] {
    const auto files = cs::models::CheckpointFiles::open(dir);
    for (const auto& path : files.paths()) {
      if (path.parent_path() != dir)
        cs::fuzz::fail("the index opened " + path.string() + ", outside the model folder");
    }
    for (const auto& name : files.names()) {
      const auto& entry = files.entry(name);
      const auto tensor = files.tensor(name);
      if (tensor.sizes().vec() != entry.shape) cs::fuzz::fail("tensor '" + name + "' shape");
      if (files.fileOf(name).empty()) cs::fuzz::fail("tensor '" + name + "' has no file");
    }
  });
}
