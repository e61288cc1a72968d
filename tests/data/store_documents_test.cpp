// Text documents inside HDF5 files: round trips in an activation store and in a plain HDF5 file,
// replacement only on request, refusal while the store is being recorded, resume afterwards, and
// clear errors for missing, misnamed and malformed documents.
#include "data/store/store_documents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include "core/torch_api.h"

#include <fstream>

#include "core/error.h"
#include "data/store/activation_store_reader.h"
#include "data/store/activation_store_writer.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

StoreLayout tinyLayout() {
  StoreLayout layout;
  layout.model = {"gpt2", "{}", "0123abcd", "/models/tiny"};
  layout.dataset = "synthetic";
  layout.positions = "all";
  layout.activations = {{"blocks.0.hook_resid_post", {2}, "example,d_model", at::kFloat}};
  return layout;
}

StoreBatch tinyBatch(std::int64_t rows, float value) {
  StoreBatch batch;
  batch.activations.push_back(at::full({rows, 2}, value));
  return batch;
}

void writeStore(const fs::path& path, bool complete = true) {
  auto writer = ActivationStoreWriter::open(path, tinyLayout(), {}, StoreOpenMode::Create);
  writer->write(tinyBatch(3, 1.0f));
  if (complete) writer->markComplete();
}

// A raw HDF5 file with a dataset at /masks/<name>, written the way another tool might.
void writeRawDataset(const fs::path& path, const std::string& name, hid_t type, const void* data) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t group = H5Gcreate2(file, "masks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t set =
      H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(set);
  H5Sclose(space);
  H5Gclose(group);
  H5Fclose(file);
}

TEST(StoreDocuments, RoundTripInAStoreLeavesTheStoreReadable) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  writeStore(path);
  EXPECT_TRUE(listStoreDocuments(path, "masks").empty());
  const std::string text = "{\"format\": \"circuitscope-mask\", \"note\": \"héllo ✓\"}";
  writeStoreDocument(path, "masks", "circuit", text);
  writeStoreDocument(path, "masks", "a-first_one.v2", "second");
  writeStoreDocument(path, "notes", "readme", "other group");
  EXPECT_EQ(readStoreDocument(path, "masks", "circuit"), text);
  EXPECT_EQ(readStoreDocument(path, "notes", "readme"), "other group");
  EXPECT_EQ(listStoreDocuments(path, "masks"),
            (std::vector<std::string>{"a-first_one.v2", "circuit"}));

  const ActivationStoreReader reader(path);
  EXPECT_TRUE(reader.complete());
  EXPECT_EQ(reader.rows(), 3);
  EXPECT_TRUE(reader.readActivations("blocks.0.hook_resid_post", 0, 3).eq(1.0f).all().item<bool>());
}

TEST(StoreDocuments, LargeAndEmptyDocumentsRoundTrip) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  writeStore(path);
  std::string large(3 << 20, 'x');
  for (std::size_t i = 0; i < large.size(); i += 97) large[i] = static_cast<char>('a' + i % 26);
  writeStoreDocument(path, "masks", "large", large);
  writeStoreDocument(path, "masks", "empty", "");
  EXPECT_EQ(readStoreDocument(path, "masks", "large"), large);
  EXPECT_EQ(readStoreDocument(path, "masks", "empty"), "");
}

TEST(StoreDocuments, ReplacesOnlyWhenAsked) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  writeStore(path);
  writeStoreDocument(path, "masks", "m", "first");
  EXPECT_THAT(test::messageOf<ConfigError>([&] { writeStoreDocument(path, "masks", "m", "x"); }),
              HasSubstr("already holds /masks/m"));
  EXPECT_EQ(readStoreDocument(path, "masks", "m"), "first");
  writeStoreDocument(path, "masks", "m", "second", /*replace=*/true);
  EXPECT_EQ(readStoreDocument(path, "masks", "m"), "second");
  EXPECT_EQ(listStoreDocuments(path, "masks"), std::vector<std::string>{"m"});
}

TEST(StoreDocuments, RefusedWhileRecordingAndResumableAfterwards) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  {
    auto writer = ActivationStoreWriter::open(path, tinyLayout(), {}, StoreOpenMode::Create);
    writer->write(tinyBatch(2, 1.0f));
    EXPECT_THAT(test::messageOf<IoError>([&] { writeStoreDocument(path, "masks", "m", "x"); }),
                HasSubstr("is being recorded"));
    writer->write(tinyBatch(2, 2.0f));  // the recording goes on undisturbed
  }
  // Stopped before it was complete: a document may be added, and the recording resumed.
  writeStoreDocument(path, "masks", "m", "between sessions");
  {
    auto writer = ActivationStoreWriter::open(path, tinyLayout(), {}, StoreOpenMode::Resume);
    EXPECT_EQ(writer->rowsWritten(), 4);
    writer->write(tinyBatch(1, 3.0f));
    writer->markComplete();
  }
  const ActivationStoreReader reader(path);
  EXPECT_TRUE(reader.complete());
  EXPECT_EQ(reader.rows(), 5);
  EXPECT_FLOAT_EQ(reader.readActivations("blocks.0.hook_resid_post", 4, 1)[0][0].item<float>(),
                  3.0f);
  EXPECT_EQ(readStoreDocument(path, "masks", "m"), "between sessions");
}

TEST(StoreDocuments, AStoreOpenForReadingIsNamed) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  writeStore(path);
  const ActivationStoreReader reader(path);
  EXPECT_THAT(test::messageOf<IoError>([&] { writeStoreDocument(path, "masks", "m", "x"); }),
              HasSubstr("Close it wherever it is open"));
  EXPECT_TRUE(listStoreDocuments(path, "masks").empty());  // reading alongside is fine
}

TEST(StoreDocuments, WorksInAnyHdf5File) {
  test::TempDir dir;
  const auto path = dir / "plain.h5";
  H5Fclose(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  writeStoreDocument(path, "masks", "m", "plain");
  EXPECT_EQ(readStoreDocument(path, "masks", "m"), "plain");
}

TEST(StoreDocuments, ReadsFixedLengthStrings) {
  // h5py writes numpy bytes (np.bytes_) as fixed-length, NUL-padded strings.
  test::TempDir dir;
  const auto path = dir / "fixed.h5";
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 16);
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  const char data[16] = "{\"a\": 1}";
  writeRawDataset(path, "m", type, data);
  H5Tclose(type);
  EXPECT_EQ(readStoreDocument(path, "masks", "m"), "{\"a\": 1}");
}

TEST(StoreDocuments, MissingAndMalformedDocumentsAreNamed) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  writeStore(path);
  EXPECT_THAT(test::messageOf<ConfigError>([&] { (void)readStoreDocument(path, "masks", "m"); }),
              HasSubstr("has no /masks/m (it holds no documents in /masks)"));
  writeStoreDocument(path, "masks", "one", "1");
  writeStoreDocument(path, "masks", "two", "2");
  EXPECT_THAT(test::messageOf<ConfigError>([&] { (void)readStoreDocument(path, "masks", "m"); }),
              HasSubstr("has no /masks/m (documents in /masks: one, two)"));

  const auto ints = dir / "ints.h5";
  const int value = 7;
  writeRawDataset(ints, "m", H5T_NATIVE_INT, &value);
  EXPECT_THAT(test::messageOf<FormatError>([&] { (void)readStoreDocument(ints, "masks", "m"); }),
              HasSubstr("/masks/m is not a single string"));
  // An array of a store is not a document.
  EXPECT_THAT(test::messageOf<FormatError>([&] {
                (void)readStoreDocument(path, "activations", "blocks.0.hook_resid_post");
              }),
              HasSubstr("/activations/blocks.0.hook_resid_post is not a single string"));
}

TEST(StoreDocuments, BadNamesAndFilesAreRefused) {
  test::TempDir dir;
  const auto path = dir / "a.h5";
  writeStore(path);
  const std::vector<std::string> badNames{"",           "a/b",        "..",
                                          "with space", "~writing.m", std::string(129, 'a')};
  for (const auto& name : badNames)
    EXPECT_THAT(test::messageOf<ConfigError>([&] { writeStoreDocument(path, "masks", name, "x"); }),
                HasSubstr("is not usable inside an HDF5 store"))
        << name;
  EXPECT_THAT(test::messageOf<ConfigError>([&] { writeStoreDocument(path, "/masks", "m", "x"); }),
              HasSubstr("group '/masks'"));
  EXPECT_THAT(test::messageOf<ConfigError>(
                  [&] { writeStoreDocument(path, "masks", "m", std::string("a\0b", 3)); }),
              HasSubstr("NUL byte"));

  EXPECT_THAT(
      test::messageOf<IoError>([&] { writeStoreDocument(dir / "absent.h5", "masks", "m", "x"); }),
      HasSubstr("absent.h5 does not exist"));
  { std::ofstream(dir / "text.h5") << "not hdf5"; }
  EXPECT_THAT(
      test::messageOf<FormatError>([&] { writeStoreDocument(dir / "text.h5", "masks", "m", "x"); }),
      HasSubstr("text.h5 is not an HDF5 file"));
  EXPECT_THAT(
      test::messageOf<FormatError>([&] { (void)listStoreDocuments(dir / "text.h5", "masks"); }),
      HasSubstr("text.h5 is not an HDF5 file"));
}

}  // namespace
}  // namespace cs::data
