// `record` and `inspect` end to end, including what happens when the process dies: a child
// CLI is killed with SIGKILL at named points of a batch (core/fault_injection.h), and the store
// it leaves must hold exactly the committed batches, equal to an uninterrupted run, and resume
// to the same content. A stopped child lets the test read a store that is still being written.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/torch_api.h"

#include <fcntl.h>

#include <cstdlib>
#include <fstream>

#include "data/store/activation_store_reader.h"
#include "support/cli_runner.h"
#include "support/store_compare.h"
#include "support/test_support.h"

extern char** environ;

namespace cs {
namespace {

namespace fs = std::filesystem;
using test::runCli;

const std::string kModel = test::dataPath("hf/gpt2-tiny").string();
const std::string kDataset = "induction:rows=24,half=20,vocab=128,seed=4";

std::vector<std::string> recordArgs(const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"record",
                                kModel,
                                "--dataset",
                                kDataset,
                                "--hooks",
                                "blocks.*.hook_resid_post",
                                "blocks.0.attn.hook_pattern",
                                "--out",
                                out.string(),
                                "--batch",
                                "4"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

class RecordCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto r = runCli(recordArgs(m_dir / "whole.h5"));
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }
  test::TempDir m_dir;
};

TEST_F(RecordCli, KilledAfterACommittedBatchKeepsExactlyTheCommittedBatches) {
  const auto path = m_dir / "killed.h5";
  const auto r = runCli(recordArgs(path), {{"CIRCUITSCOPE_FAULT", "store.batch_committed:3"}});
  ASSERT_EQ(r.exitCode, 128 + SIGKILL) << r.err;
  {
    const data::ActivationStoreReader store(path);
    EXPECT_FALSE(store.complete());
    EXPECT_EQ(store.rows(), 12);
  }
  test::expectSameStoreContent(path, m_dir / "whole.h5", 12);

  const auto resumed = runCli(recordArgs(path, {"--resume"}));
  ASSERT_EQ(resumed.exitCode, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("recorded     12 examples (24 in the store)"), std::string::npos)
      << resumed.out;
  EXPECT_TRUE(data::ActivationStoreReader(path).complete());
  test::expectSameStoreContent(path, m_dir / "whole.h5", 24);
}

TEST_F(RecordCli, KilledHalfwayThroughABatchDropsThatBatchAndResumes) {
  const auto path = m_dir / "torn.h5";
  // Dies after the third batch's inputs are written but before its activations are.
  const auto r = runCli(recordArgs(path), {{"CIRCUITSCOPE_FAULT", "store.batch_half_written:3"}});
  ASSERT_EQ(r.exitCode, 128 + SIGKILL) << r.err;
  EXPECT_EQ(data::ActivationStoreReader(path).rows(), 8);
  const auto resumed = runCli(recordArgs(path, {"--resume"}));
  ASSERT_EQ(resumed.exitCode, 0) << resumed.err;
  test::expectSameStoreContent(path, m_dir / "whole.h5", 24);
}

// Starts the CLI without waiting; it stops itself (SIGSTOP) at the given fault point.
pid_t spawnStoppingCli(const std::vector<std::string>& args, const std::string& fault) {
  std::vector<std::string> argvText{test::kCliPath, "--threads", "1", "--quiet"};
  argvText.insert(argvText.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argvText) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envText{"CIRCUITSCOPE_FAULT=" + fault};
  for (char** e = environ; *e; ++e) {
    if (std::string(*e).rfind("CIRCUITSCOPE_FAULT=", 0) != 0) envText.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& e : envText) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

TEST_F(RecordCli, AStoreBeingWrittenCanBeReadAndFollowed) {
  const auto path = m_dir / "live.h5";
  const pid_t pid = spawnStoppingCli(recordArgs(path), "store.batch_committed:2:stop");
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status)) << "the recorder should have stopped itself after two batches";

  // The writer is alive and holds the file open for writing; a reader opens it anyway.
  data::ActivationStoreReader live(path);
  // At least the two batches committed before the stop; a process-wide stop may land a batch
  // later under load, but never mid-batch and never after completion.
  EXPECT_FALSE(live.complete());
  const auto seen = live.rows();
  EXPECT_GE(seen, 8);
  EXPECT_EQ(seen % 4, 0);
  EXPECT_TRUE(at::equal(live.readActivations("blocks.1.hook_resid_post", 0, seen),
                        data::ActivationStoreReader(m_dir / "whole.h5")
                            .readActivations("blocks.1.hook_resid_post", 0, seen)));

  kill(pid, SIGCONT);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  live.refresh();
  EXPECT_TRUE(live.complete());
  EXPECT_EQ(live.rows(), 24);
  EXPECT_TRUE(at::equal(live.readActivations("blocks.1.hook_resid_post", 0, 24),
                        data::ActivationStoreReader(m_dir / "whole.h5")
                            .readActivations("blocks.1.hook_resid_post", 0, 24)));
}

TEST_F(RecordCli, InterruptStopsCleanlyAndSaysHowToResume) {
  const auto path = m_dir / "interrupted.h5";
  // Stopped while computing: the batches queued so far are finished, the rest are not begun.
  const pid_t pid = spawnStoppingCli(recordArgs(path), "record.batch_queued:2:stop");
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status));
  // Ctrl-C arrives while it is stopped and is handled as soon as it continues.
  kill(pid, SIGINT);
  kill(pid, SIGCONT);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "Ctrl-C must end the run normally, not kill it";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::int64_t kept = 0;
  {
    const data::ActivationStoreReader store(path);
    EXPECT_FALSE(store.complete());
    kept = store.rows();
    EXPECT_GE(kept, 4);
    EXPECT_LT(kept, 24);
    EXPECT_EQ(kept % 4, 0);
  }
  test::expectSameStoreContent(path, m_dir / "whole.h5", kept);
}

TEST_F(RecordCli, RefusesToOverwriteAndAppendsOnlyWhenAsked) {
  auto r = runCli(recordArgs(m_dir / "whole.h5"));
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("already exists; pass --resume"), std::string::npos) << r.err;
  r = runCli(recordArgs(m_dir / "whole.h5", {"--append", "--limit", "8"}));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(data::ActivationStoreReader(m_dir / "whole.h5").rows(), 32);
  r = runCli(recordArgs(m_dir / "whole.h5", {"--resume", "--append"}));
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("exclude each other"), std::string::npos) << r.err;
}

TEST_F(RecordCli, InspectListsHooksShapesAndState) {
  const auto r = runCli({"inspect", (m_dir / "whole.h5").string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("complete     yes, 24 examples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blocks.0.attn.hook_pattern       [24, 4, 40, 40]"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("blocks.1.hook_resid_post         [24, 40, 64]"), std::string::npos)
      << r.out;

  const auto bad = m_dir / "bad.h5";
  { std::ofstream(bad) << "not hdf5"; }
  const auto e = runCli({"inspect", bad.string()});
  EXPECT_EQ(e.exitCode, 1);
  EXPECT_NE(e.err.find("circuitscope-cli: error: " + bad.string() + " is not an HDF5 file"),
            std::string::npos)
      << e.err;
}

TEST_F(RecordCli, MissingFilterPluginGivesAClearMessage) {
  if (!data::bloscAvailable()) GTEST_SKIP() << "HDF5 Blosc filter plugin not installed";
  const auto path = m_dir / "blosc.h5";
  auto r = runCli(recordArgs(path, {"--compress", "blosc", "--limit", "4"}));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = runCli({"inspect", path.string()}, {{"HDF5_PLUGIN_PATH", (m_dir / "no-plugins").string()}});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("HDF5 filter Blosc (32001), which is not installed"), std::string::npos)
      << r.err;
}

TEST_F(RecordCli, H5pyReadsTheStoreWithoutOurCode) {
  if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-h5py not installed";
  const auto path = m_dir / "f16.h5";
  const auto r =
      runCli(recordArgs(path, {"--dtype", "f16", "--compress", "gzip", "--positions", "last"}));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto script = m_dir / "check.py";
  {
    std::ofstream py(script);
    py << "import json, sys, h5py, numpy as np\n"
          "f = h5py.File(sys.argv[1], 'r')\n"
          "assert f.attrs['format'] == 'circuitscope.activations', f.attrs['format']\n"
          "assert f.attrs['format_version'] == 1 and f.attrs['complete'] == 1\n"
          "assert f.attrs['rows_written'] == 24 and f.attrs['positions'] == 'last'\n"
          "hooks = json.loads(f.attrs['hooks'])\n"
          "assert hooks == ['blocks.0.attn.hook_pattern', 'blocks.0.hook_resid_post', "
          "'blocks.1.hook_resid_post'], hooks\n"
          "d = f['activations/blocks.1.hook_resid_post']\n"
          "assert d.shape == (24, 1, 64) and d.dtype == np.float16, (d.shape, d.dtype)\n"
          "assert d.attrs['axes'] == 'example,pos,d_model' and d.compression == 'gzip'\n"
          "assert f['activations/blocks.0.attn.hook_pattern'].shape == (24, 4, 1, 40)\n"
          "assert f['inputs/tokens'].shape == (24, 40) and f['inputs/positions'][0, 0] == 39\n"
          "assert len(f['model'].attrs['weights_sha256']) == 64\n"
          "assert json.loads(f['model'].attrs['config_json'])['model_type'] == 'gpt2'\n"
          "print('ok')\n";
  }
  const auto command = "/usr/bin/python3 " + test::shellQuote(script.string()) + " " +
                       test::shellQuote(path.string()) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << out;
  EXPECT_EQ(out, "ok\n");
}

}  // namespace
}  // namespace cs
