// Activation stores (HDF5): ActivationStoreReader on the fuzz input, then every activation and
// input read back as the analyses do (first rows, as a tensor and as a matrix) and a refresh.
// Seeds are stores written by ActivationStoreWriter; run with CS_FUZZ_WRITE_SEEDS=<folder> to
// write them again (the run stops after writing).
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>

#include "data/store/activation_store_reader.h"
#include "data/store/activation_store_writer.h"
#include "fuzz_support.h"

namespace {

namespace fs = std::filesystem;

// Small on purpose: libFuzzer mutates the whole file, so every byte should be worth mutating.
void writeSeed(const fs::path& path, const cs::data::StoreOptions& options, bool complete) {
  cs::data::StoreLayout layout;
  layout.model = {"gpt2", R"({"model_type": "gpt2"})", "abc123", "/models/tiny"};
  layout.dataset = "synthetic: 3 rows";
  layout.positions = "all";
  layout.inputs = {{"tokens", {3}, "example,pos", at::kLong}};
  layout.activations = {{"blocks.0.hook_resid_post", {3, 2}, "example,pos,d_model", at::kFloat}};
  fs::remove(path);
  auto writer =
      cs::data::ActivationStoreWriter::open(path, layout, options, cs::data::StoreOpenMode::Create);
  const auto storage = options.dtype == cs::data::StorageDtype::Float16 ? at::kHalf : at::kFloat;
  cs::data::StoreBatch batch;
  batch.inputs.push_back(at::arange(6, at::kLong).view({2, 3}));
  batch.activations.push_back(at::linspace(-1, 1, 12).view({2, 3, 2}).to(storage));
  writer->write(batch);
  if (complete) writer->markComplete();
}

void readEverything(const cs::data::ActivationStoreReader& reader) {
  const auto rows = std::min<std::int64_t>(reader.rows(), 2);
  for (const auto& hook : reader.hooks()) {
    const auto tensor = reader.readActivations(hook, 0, rows);
    (void)tensor.sum().item<float>();
    const auto matrix = reader.readMatrix(hook, 0, rows);
    (void)matrix.sum();
  }
  for (const auto& spec : reader.header().layout.inputs) {
    (void)reader.readInput(spec.name, 0, rows);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* folder = std::getenv("CS_FUZZ_WRITE_SEEDS")) {
    const fs::path dir(folder);
    fs::create_directories(dir);
    writeSeed(dir / "float32_complete.h5", {}, true);
    writeSeed(dir / "float16_gzip.h5",
              {cs::data::StorageDtype::Float16, cs::data::Compression::Gzip, 4}, true);
    writeSeed(dir / "float32_incomplete.h5", {}, false);
    std::printf("wrote seed stores to %s\n", folder);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = cs::fuzz::scratchDir() / "store.h5";
  cs::fuzz::writeFile(path, cs::fuzz::asText(data, size));
  return cs::fuzz::runOne([&] {
    cs::data::ActivationStoreReader reader(path);
    readEverything(reader);
    reader.refresh();
    readEverything(reader);
  });
}
