// Faults while recording (issue: nothing lost on failure). The child CLI runs under a file-size
// limit (ulimit -f, the per-process form of a full disk, which fails writes the same way) or
// with its writer thread made to fail (CIRCUITSCOPE_FAULT=...:throw). In every case the CLI
// exits with a readable error and no crash, the store keeps exactly the finished batches, equal
// to an uninterrupted run, and `--resume` completes it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "data/store/activation_store_reader.h"
#include "data/store/store_repair.h"
#include "support/cli_runner.h"
#include "support/store_compare.h"
#include "support/test_support.h"

namespace cs {
namespace {

namespace fs = std::filesystem;
using test::runCli;

// Enough rows that the resid_post arrays need several 1 MiB chunks, so a size limit is met
// partway through.
std::vector<std::string> recordArgs(const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--quiet",
                                "record",
                                test::dataPath("hf/gpt2-tiny").string(),
                                "--dataset",
                                "induction:rows=320,half=20,vocab=128,seed=4",
                                "--hooks",
                                "blocks.*.hook_resid_post",
                                "--out",
                                out.string(),
                                "--batch",
                                "16"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Sets the shell's own limit in bytes (prlimit, util-linux: `ulimit -f` counts blocks of a size
// that depends on the shell), which the CLI it execs inherits. An ignored SIGXFSZ makes an
// over-limit write fail with EFBIG, as one on a full disk fails with ENOSPC, instead of killing
// the process.
std::string fileSizeLimit(std::uintmax_t bytes) {
  const auto n = std::to_string(bytes);
  return "trap '' XFSZ; prlimit --pid $$ --fsize=" + n + ":" + n + " || exit 99; ";
}

class RecordFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto r = runCli(recordArgs(whole()));
    ASSERT_EQ(r.exitCode, 0) << r.err;
    m_wholeSize = fs::file_size(whole());
  }
  fs::path whole() const { return m_dir / "whole.h5"; }

  // The store holds a positive whole number of batches, not all, equal to the whole run's
  // first rows; then --resume completes it to the whole run.
  void expectFinishedBatchesKeptAndResumed(const fs::path& path) {
    std::int64_t rows = 0;
    {
      const data::ActivationStoreReader store(path);
      EXPECT_FALSE(store.complete());
      rows = store.rows();
    }
    EXPECT_GT(rows, 0);
    EXPECT_LT(rows, 320);
    EXPECT_EQ(rows % 16, 0);
    test::expectSameStoreContent(path, whole(), rows);
    const auto resumed = runCli(recordArgs(path, {"--resume"}));
    ASSERT_EQ(resumed.exitCode, 0) << resumed.err;
    const data::ActivationStoreReader store(path);
    EXPECT_TRUE(store.complete());
    EXPECT_EQ(store.rows(), 320);
    test::expectSameStoreContent(path, whole(), 320);
  }

  test::TempDir m_dir;
  std::uintmax_t m_wholeSize = 0;
};

TEST_F(RecordFaults, AFullDiskStopsTheRecordingBetweenBatches) {
  const auto path = m_dir / "full.h5";
  const auto r = runCli(recordArgs(path), {}, fileSizeLimit(m_wholeSize / 2));
  ASSERT_EQ(r.exitCode, 1) << r.err;
  EXPECT_NE(r.err.find("file-size limit"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("finished examples"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << "HDF5's own error dump:\n" << r.err;
  // Stopped before the batch: nothing needs repairing.
  EXPECT_FALSE(data::findCutShort(path).has_value());
  expectFinishedBatchesKeptAndResumed(path);
}

TEST_F(RecordFaults, AWriteThatFailsInsideHdf5IsReportedWithoutACrash) {
  // With the space check off, the limit is met inside HDF5's flush: the failure it guards
  // against. Before, the process reported the error and then crashed at exit.
  const auto path = m_dir / "failed.h5";
  const auto r = runCli(recordArgs(path), {{"CIRCUITSCOPE_FAULT", "store.space_check:skip"}},
                        fileSizeLimit(m_wholeSize / 2));
  ASSERT_EQ(r.exitCode, 1) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("finished examples"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << "HDF5's own error dump:\n" << r.err;
  // Under the limit the file could not be extended to its recorded end; inspect --repair can.
  const auto inspect = runCli({"inspect", path.string(), "--repair"});
  ASSERT_EQ(inspect.exitCode, 0) << inspect.err;
  EXPECT_FALSE(data::findCutShort(path).has_value());
  expectFinishedBatchesKeptAndResumed(path);
}

TEST_F(RecordFaults, TheWriterThreadFailingMidRunKeepsTheCommittedBatches) {
  const auto path = m_dir / "thrown.h5";
  const auto r = runCli(recordArgs(path), {{"CIRCUITSCOPE_FAULT", "store.batch_flushed:4:throw"}});
  ASSERT_EQ(r.exitCode, 1) << r.err;
  EXPECT_NE(r.err.find("injected fault at store.batch_flushed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("keeps its 48 finished examples"), std::string::npos) << r.err;
  EXPECT_EQ(data::ActivationStoreReader(path).rows(), 48);
  expectFinishedBatchesKeptAndResumed(path);
}

TEST(StoreRepair, ACutShortStoreIsNamedAndExtendedOnlyWithinReason) {
  test::TempDir dir;
  const auto path = dir / "cut.h5";
  const auto r = runCli({"--quiet", "record", test::dataPath("hf/gpt2-tiny").string(), "--dataset",
                         "induction:rows=8,half=20,vocab=128,seed=4", "--hooks",
                         "blocks.0.hook_resid_post", "--out", path.string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto size = fs::file_size(path);
  EXPECT_FALSE(data::findCutShort(path).has_value());
  // Cutting the tail off (what a failed write leaves, seen from the header) is found, named by
  // the reader, and undone by extending.
  fs::resize_file(path, size - 100);
  const auto cut = data::findCutShort(path);
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->recordedEnd, static_cast<std::int64_t>(size));
  const auto read = runCli({"inspect", path.string()});
  EXPECT_EQ(read.exitCode, 1);
  EXPECT_NE(read.err.find("shorter than its header records"), std::string::npos) << read.err;
  EXPECT_NE(read.err.find("--repair"), std::string::npos) << read.err;
  EXPECT_TRUE(data::extendCutShortStore(path));
  EXPECT_EQ(fs::file_size(path), size);
  EXPECT_FALSE(data::extendCutShortStore(path));
  // A header claiming far more than a failed write leaves (1 TiB) is damage, not a cut.
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(28);  // superblock v2/v3: end-of-file address
    const unsigned char end[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    file.write(reinterpret_cast<const char*>(end), sizeof end);
  }
  EXPECT_THROW(data::extendCutShortStore(path), IoError);
  EXPECT_EQ(fs::file_size(path), size);
}

}  // namespace
}  // namespace cs
