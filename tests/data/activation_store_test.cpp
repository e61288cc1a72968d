// The activation store on its own: round trips in each storage dtype and compression, the
// header as written, and clear errors for files that are not stores, are newer, or lack data.
#include <gtest/gtest.h>
#include <hdf5.h>
#include "core/torch_api.h"

#include <fstream>

#include "core/error.h"
#include "data/store/activation_store_reader.h"
#include "data/store/activation_store_writer.h"
#include "support/test_support.h"

namespace cs {
namespace {

using data::ActivationStoreReader;
using data::ActivationStoreWriter;
using data::StoreOpenMode;

data::StoreLayout sampleLayout(const std::string& digest = "abc123") {
  data::StoreLayout layout;
  layout.model = {"gpt2", "{\"model_type\": \"gpt2\"}", digest, "/models/tiny"};
  layout.dataset = "synthetic: 10 rows";
  layout.positions = "all";
  layout.inputs = {{"tokens", {5}, "example,pos", at::kLong}};
  layout.activations = {
      {"blocks.0.hook_resid_post", {5, 3}, "example,pos,d_model", at::kFloat},
      {"blocks.0.attn.hook_pattern", {2, 5, 5}, "example,head,query_pos,key_pos", at::kFloat}};
  return layout;
}

// Rows [begin, begin + rows) of deterministic content, in the storage dtype.
data::StoreBatch sampleBatch(std::int64_t begin, std::int64_t rows,
                             c10::ScalarType storage = at::kFloat) {
  data::StoreBatch batch;
  batch.inputs.push_back(at::arange(begin * 5, (begin + rows) * 5, at::kLong).view({rows, 5}));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + static_cast<std::uint64_t>(begin));
  batch.activations.push_back(at::randn({rows, 5, 3}, gen).to(storage));
  batch.activations.push_back(at::rand({rows, 2, 5, 5}, gen).to(storage));
  return batch;
}

// Raw HDF5 access for corrupting a store the way another tool or a bug might.
struct RawFile {
  explicit RawFile(const std::filesystem::path& path)
      : id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {}
  ~RawFile() {
    if (id >= 0) H5Fclose(id);
  }
  void setInt(const char* name, long long value) {
    const hid_t a = H5Aopen(id, name, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_LLONG, &value);
    H5Aclose(a);
  }
  hid_t id;
};

void writeStore(const std::filesystem::path& path, const data::StoreOptions& options,
                int batches = 2, bool complete = true) {
  auto writer = ActivationStoreWriter::open(path, sampleLayout(), options, StoreOpenMode::Create);
  const auto storage = options.dtype == data::StorageDtype::Float16 ? at::kHalf : at::kFloat;
  for (int b = 0; b < batches; ++b) writer->write(sampleBatch(b * 4, 4, storage));
  if (complete) writer->markComplete();
}

TEST(ActivationStore, Float32RoundTripIsExactAndHeaderIsComplete) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  writeStore(path, {});
  const ActivationStoreReader store(path);
  EXPECT_TRUE(store.complete());
  EXPECT_EQ(store.rows(), 8);
  EXPECT_EQ(store.header().layout.model.weightsSha256, "abc123");
  EXPECT_EQ(store.header().layout.model.family, "gpt2");
  EXPECT_EQ(store.header().layout.dataset, "synthetic: 10 rows");
  EXPECT_EQ(store.hooks(),
            (std::vector<std::string>{"blocks.0.hook_resid_post", "blocks.0.attn.hook_pattern"}));
  EXPECT_EQ(store.activation("blocks.0.attn.hook_pattern").axes, "example,head,query_pos,key_pos");
  const auto expected = sampleBatch(4, 4);
  EXPECT_TRUE(
      at::equal(store.readActivations("blocks.0.hook_resid_post", 4, 4), expected.activations[0]));
  EXPECT_TRUE(at::equal(store.readActivations("blocks.0.attn.hook_pattern", 4, 4),
                        expected.activations[1]));
  EXPECT_TRUE(at::equal(store.readInput("tokens", 0, 8), at::arange(40, at::kLong).view({8, 5})));
  const auto matrix = store.readMatrix("blocks.0.hook_resid_post", 4, 2);
  ASSERT_EQ(matrix.rows(), 2);
  ASSERT_EQ(matrix.cols(), 15);
  const auto flat = expected.activations[0].reshape({4, 15});
  EXPECT_EQ(matrix(1, 7), flat[1][7].item<float>());
}

TEST(ActivationStore, Float16GzipRoundTripKeepsHalfPrecisionValues) {
  test::TempDir dir;
  const auto path = dir / "h.h5";
  writeStore(path, {data::StorageDtype::Float16, data::Compression::Gzip, 4});
  const ActivationStoreReader store(path);
  EXPECT_EQ(store.header().options.dtype, data::StorageDtype::Float16);
  EXPECT_EQ(store.header().options.compression, data::Compression::Gzip);
  const auto expected = sampleBatch(0, 4, at::kHalf).activations[0].to(at::kFloat);
  EXPECT_TRUE(at::equal(store.readActivations("blocks.0.hook_resid_post", 0, 4), expected));
}

TEST(ActivationStore, BloscRoundTripWhenThePluginIsInstalled) {
  if (!data::bloscAvailable()) GTEST_SKIP() << "HDF5 Blosc filter plugin not installed";
  test::TempDir dir;
  const auto path = dir / "b.h5";
  writeStore(path, {data::StorageDtype::Float32, data::Compression::Blosc, 4});
  const ActivationStoreReader store(path);
  EXPECT_EQ(store.header().options.compression, data::Compression::Blosc);
  EXPECT_TRUE(at::equal(store.readActivations("blocks.0.attn.hook_pattern", 0, 8).narrow(0, 4, 4),
                        sampleBatch(4, 4).activations[1]));
}

TEST(ActivationStore, MissingFilterPluginIsNamed) {
  if (!data::bloscAvailable()) GTEST_SKIP() << "HDF5 Blosc filter plugin not installed";
  test::TempDir dir;
  const auto path = dir / "b.h5";
  writeStore(path, {data::StorageDtype::Float32, data::Compression::Blosc, 4});
  // Make this process forget the plugin: unregister it and stop HDF5 loading plugins.
  unsigned state = 0;
  H5PLget_loading_state(&state);
  H5Zunregister(data::kBloscFilterId);
  H5PLset_loading_state(0);
  const auto message = test::messageOf<ConfigError>([&] { ActivationStoreReader{path}; });
  H5PLset_loading_state(state);
  EXPECT_NE(message.find("Blosc (32001)"), std::string::npos) << message;
  EXPECT_NE(message.find("hdf5-filter-plugin-blosc-serial"), std::string::npos) << message;
}

TEST(ActivationStore, ReadsOnlyCommittedRowsOfAnIncompleteStore) {
  test::TempDir dir;
  const auto path = dir / "i.h5";
  writeStore(path, {}, 1, false);
  const ActivationStoreReader store(path);
  EXPECT_FALSE(store.complete());
  EXPECT_EQ(store.rows(), 4);
  const auto message = test::messageOf<ConfigError>(
      [&] { store.readActivations("blocks.0.hook_resid_post", 2, 4); });
  EXPECT_NE(message.find("outside the 4 written"), std::string::npos) << message;
}

TEST(ActivationStore, CreateRefusesAnExistingFile) {
  test::TempDir dir;
  const auto path = dir / "e.h5";
  writeStore(path, {});
  const auto message = test::messageOf<IoError>(
      [&] { ActivationStoreWriter::open(path, sampleLayout(), {}, StoreOpenMode::Create); });
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  EXPECT_NE(message.find("--resume"), std::string::npos) << message;
}

TEST(ActivationStore, ResumeAndAppendCheckModelAndState) {
  test::TempDir dir;
  const auto complete = dir / "c.h5";
  const auto partial = dir / "p.h5";
  writeStore(complete, {});
  writeStore(partial, {}, 1, false);
  auto message = test::messageOf<ConfigError>(
      [&] { ActivationStoreWriter::open(complete, sampleLayout(), {}, StoreOpenMode::Resume); });
  EXPECT_NE(message.find("already complete"), std::string::npos) << message;
  message = test::messageOf<ConfigError>(
      [&] { ActivationStoreWriter::open(partial, sampleLayout(), {}, StoreOpenMode::Append); });
  EXPECT_NE(message.find("incomplete"), std::string::npos) << message;
  message = test::messageOf<ConfigError>([&] {
    ActivationStoreWriter::open(complete, sampleLayout("fff999"), {}, StoreOpenMode::Append);
  });
  EXPECT_NE(message.find("different model"), std::string::npos) << message;
  auto otherHooks = sampleLayout();
  otherHooks.activations.pop_back();
  message = test::messageOf<ConfigError>(
      [&] { ActivationStoreWriter::open(complete, otherHooks, {}, StoreOpenMode::Append); });
  EXPECT_NE(message.find("holds 2 hooks"), std::string::npos) << message;

  // Appending to the complete store adds rows after the existing ones.
  {
    auto writer = ActivationStoreWriter::open(complete, sampleLayout(), {}, StoreOpenMode::Append);
    EXPECT_EQ(writer->rowsWritten(), 8);
    writer->write(sampleBatch(8, 4));
    writer->markComplete();
  }
  const ActivationStoreReader store(complete);
  EXPECT_EQ(store.rows(), 12);
  EXPECT_TRUE(at::equal(store.readActivations("blocks.0.hook_resid_post", 8, 4),
                        sampleBatch(8, 4).activations[0]));
}

TEST(ActivationStore, WriterRejectsBatchesOfTheWrongShapeOrDtype) {
  test::TempDir dir;
  auto writer =
      ActivationStoreWriter::open(dir / "w.h5", sampleLayout(), {}, StoreOpenMode::Create);
  auto batch = sampleBatch(0, 2);
  batch.activations[0] = at::zeros({2, 5, 4});
  auto message = test::messageOf<ShapeError>([&] { writer->write(batch); });
  EXPECT_NE(message.find("blocks.0.hook_resid_post"), std::string::npos) << message;
  EXPECT_NE(message.find("[2, 5, 3]"), std::string::npos) << message;
  batch = sampleBatch(0, 2);
  batch.activations[1] = batch.activations[1].to(at::kDouble);
  message = test::messageOf<ShapeError>([&] { writer->write(batch); });
  EXPECT_NE(message.find("Float"), std::string::npos) << message;
  EXPECT_EQ(writer->rowsWritten(), 0);
}

TEST(ActivationStore, NotHdf5IsAFormatError) {
  test::TempDir dir;
  const auto path = dir / "text.h5";
  std::ofstream(path) << "hello, not HDF5\n";
  const auto message = test::messageOf<FormatError>([&] { ActivationStoreReader{path}; });
  EXPECT_NE(message.find("is not an HDF5 file"), std::string::npos) << message;
}

TEST(ActivationStore, OtherHdf5FilesAreNotStores) {
  test::TempDir dir;
  const auto path = dir / "other.h5";
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  auto message = test::messageOf<FormatError>([&] { ActivationStoreReader{path}; });
  EXPECT_NE(message.find("is not a circuitscope activation store"), std::string::npos) << message;
}

TEST(ActivationStore, NewerFormatVersionAsksForAnUpdate) {
  test::TempDir dir;
  const auto path = dir / "v.h5";
  writeStore(path, {});
  RawFile(path).setInt("format_version", 7);
  const auto message = test::messageOf<FormatError>([&] { ActivationStoreReader{path}; });
  EXPECT_NE(message.find("format version 7"), std::string::npos) << message;
  EXPECT_NE(message.find("update circuitscope"), std::string::npos) << message;
}

TEST(ActivationStore, MissingDatasetIsNamed) {
  test::TempDir dir;
  const auto path = dir / "m.h5";
  writeStore(path, {});
  {
    RawFile raw(path);
    H5Ldelete(raw.id, "activations/blocks.0.attn.hook_pattern", H5P_DEFAULT);
  }
  const auto message = test::messageOf<FormatError>([&] { ActivationStoreReader{path}; });
  EXPECT_NE(message.find("no dataset /activations/blocks.0.attn.hook_pattern"), std::string::npos)
      << message;
}

TEST(ActivationStore, RowsWrittenBeyondTheDataIsAFormatError) {
  test::TempDir dir;
  const auto path = dir / "r.h5";
  writeStore(path, {});
  RawFile(path).setInt("rows_written", 1000);
  const auto message = test::messageOf<FormatError>([&] { ActivationStoreReader{path}; });
  EXPECT_NE(message.find("fewer rows than the 1000 written"), std::string::npos) << message;
}

TEST(ActivationStore, OptionNamesAreParsedStrictly) {
  EXPECT_EQ(data::parseStorageDtype("f16"), data::StorageDtype::Float16);
  EXPECT_EQ(data::parseCompression("blosc"), data::Compression::Blosc);
  EXPECT_NE(
      test::messageOf<ConfigError>([] { data::parseCompression("zip"); }).find("none, gzip, blosc"),
      std::string::npos);
  EXPECT_NE(test::messageOf<ConfigError>([] { data::parseStorageDtype("f64"); }).find("f32, f16"),
            std::string::npos);
}

}  // namespace
}  // namespace cs
