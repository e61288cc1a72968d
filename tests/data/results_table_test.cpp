// Result tables round trip through HDF5 exactly (numbers, integers, UTF-8 strings, options), are
// listed by analysis and run, and a damaged table is refused with a message naming the column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>

#include "core/error.h"
#include "data/store/results_reader.h"
#include "data/store/results_writer.h"
#include "support/test_support.h"

namespace cs::data {
namespace {

using ::testing::HasSubstr;

std::vector<ResultColumn> sampleColumns() {
  std::vector<ResultColumn> c(3);
  c[0].name = "score";
  c[0].reals = {0.25, -1.5, 1e-300};
  c[1].name = "layer";
  c[1].integers = {0, 7, -1};
  c[2].name = "hook";
  c[2].texts = {"blocks.0.attn.hook_z", "", "naïve ✓"};
  return c;
}

TEST(ResultTables, RoundTripExactlyWithTheirOptions) {
  test::TempDir dir;
  const auto file = dir / "results.h5";
  writeResultTable(file, "cka", "first", sampleColumns(), R"({"form":"gram"})");
  writeResultTable(file, "cka", "second", sampleColumns(), "{}");
  writeResultTable(file, "dla", "run", {sampleColumns()[1]}, "{}");

  const auto tables = listResultTables(file);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"cka", "first"}, {"cka", "second"}, {"dla", "run"}};
  EXPECT_EQ(tables, expected);

  const auto t = readResultTable(file, "cka", "first");
  EXPECT_EQ(t.optionsJson, R"({"form":"gram"})");
  EXPECT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.column("score").reals, sampleColumns()[0].reals);
  EXPECT_EQ(t.column("layer").integers, sampleColumns()[1].integers);
  EXPECT_EQ(t.column("hook").texts, sampleColumns()[2].texts);
  EXPECT_THAT(test::messageOf<ConfigError>([&] { t.column("nope"); }),
              HasSubstr("has: hook, layer, score"));
}

TEST(ResultTables, AMissingRunNamesTheRunsThereAre) {
  test::TempDir dir;
  const auto file = dir / "results.h5";
  writeResultTable(file, "cka", "first", sampleColumns(), "{}");
  EXPECT_THAT(test::messageOf<ConfigError>([&] { readResultTable(file, "cka", "other"); }),
              HasSubstr("it holds cka/first"));
  EXPECT_THAT(test::messageOf<IoError>([&] { listResultTables(dir / "absent.h5"); }),
              HasSubstr("does not exist"));
}

// Adds a float64 dataset of the given shape to a table, the way a foreign tool might.
void addDataset(const std::filesystem::path& file, const std::string& path,
                std::vector<hsize_t> shape) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
  const hid_t set =
      H5Dcreate2(f, path.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(set, 0);
  H5Dclose(set);
  H5Sclose(space);
  H5Fclose(f);
}

TEST(ResultTables, AColumnOfAnotherLengthOrRankIsRefused) {
  test::TempDir dir;
  const auto longer = dir / "longer.h5";
  writeResultTable(longer, "cka", "run", sampleColumns(), "{}");
  addDataset(longer, "/results/cka/run/zz_long", {4});
  EXPECT_THAT(test::messageOf<FormatError>([&] { readResultTable(longer, "cka", "run"); }),
              HasSubstr("column 'zz_long' has 4 rows"));
  const auto matrix = dir / "matrix.h5";
  writeResultTable(matrix, "cka", "run", sampleColumns(), "{}");
  addDataset(matrix, "/results/cka/run/a_matrix", {3, 3});
  EXPECT_THAT(test::messageOf<FormatError>([&] { readResultTable(matrix, "cka", "run"); }),
              HasSubstr("a_matrix is not a column: it has 2 dimensions"));
}

}  // namespace
}  // namespace cs::data
