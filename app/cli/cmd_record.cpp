// `record MODEL_DIR --dataset SPEC --hooks PATTERN... --out FILE.h5 [...]`: streams activations
// to an HDF5 activation store with a progress line (examples/s, MB/s, ETA). Ctrl-C stops after
// the batch in flight; the store keeps every finished batch and --resume continues it.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>

#include "analysis/recording.h"
#include "app/cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/loaders/model_identity.h"

namespace cs::cli {

namespace {

struct RecordArgs {
  std::string folder;
  std::string dataset;
  std::vector<std::string> hooks;
  std::string out;
  std::string positions = "all";
  std::string dtype = "f32";
  std::string compress = "none";
  std::int64_t batch = 8;
  std::int64_t limit = 0;
  bool resume = false;
  bool append = false;
  bool overwrite = false;
};

std::atomic<Progress*> g_interruptible{nullptr};

// First Ctrl-C: stop cleanly after the batch in flight. Second: the default action.
extern "C" void onInterrupt(int) {
  if (auto* progress = g_interruptible.load()) progress->cancel();
  std::signal(SIGINT, SIG_DFL);
}

class InterruptScope {
 public:
  explicit InterruptScope(Progress& progress) {
    g_interruptible = &progress;
    m_previous = std::signal(SIGINT, onInterrupt);
  }
  ~InterruptScope() {
    std::signal(SIGINT, m_previous);
    g_interruptible = nullptr;
  }

 private:
  void (*m_previous)(int) = SIG_DFL;
};

void printStatus(const analysis::RecordStatus& s) {
  const double rate = s.seconds > 0 ? static_cast<double>(s.rowsDone) / s.seconds : 0.0;
  const double mbps = s.seconds > 0 ? static_cast<double>(s.bytesWritten) / 1e6 / s.seconds : 0.0;
  const double eta = rate > 0 ? static_cast<double>(s.rowsTotal - s.rowsDone) / rate : 0.0;
  std::fprintf(stderr, "\rrecording %lld/%lld examples  %.1f ex/s  %.1f MB/s  ETA %.0f s   ",
               static_cast<long long>(s.rowsDone), static_cast<long long>(s.rowsTotal), rate, mbps,
               eta);
  std::fflush(stderr);
}

void recordCommand(const RecordArgs& args, const GlobalOptions& options) {
  if (static_cast<int>(args.resume) + static_cast<int>(args.append) +
          static_cast<int>(args.overwrite) >
      1)
    throw ConfigError("record: --resume, --append and --overwrite exclude each other");
  analysis::RecordOptions record;
  record.hookPatterns = args.hooks;
  record.positions = args.positions;
  record.store.dtype = data::parseStorageDtype(args.dtype);
  record.store.compression = data::parseCompression(args.compress);
  record.batchSize = args.batch;
  record.limit = args.limit;
  record.mode = args.resume      ? data::StoreOpenMode::Resume
                : args.append    ? data::StoreOpenMode::Append
                : args.overwrite ? data::StoreOpenMode::Overwrite
                                 : data::StoreOpenMode::Create;

  configureThreads(options.threads);
  auto model = loadModel(args.folder, options);
  const auto& config = model->config();
  const auto dataset = data::openDataset(
      args.dataset, {args.folder, config.nCtx, config.imageSize, config.classLabels});
  Progress progress;
  InterruptScope interrupt(progress);
  data::ModelIdentity identity;
  {
    ProgressLine line(progress, options);
    identity = models::identifyModelFolder(args.folder, progress);
  }
  const bool show = !options.quiet && isatty(STDERR_FILENO);
  analysis::RecordResult result;
  try {
    result = analysis::recordActivations(*model, *dataset, identity, args.out, record, progress,
                                         [show](const analysis::RecordStatus& s) {
                                           if (show) printStatus(s);
                                         });
  } catch (const Cancelled&) {
    if (show) std::fprintf(stderr, "\n");
    std::fprintf(
        stderr,
        "circuitscope-cli: stopped; %s keeps every finished batch (complete = 0). Continue "
        "with: circuitscope-cli record ... --resume\n",
        args.out.c_str());
    throw;
  }
  if (show) std::fprintf(stderr, "\n");
  std::printf("recorded     %lld examples (%lld in the store)\n",
              static_cast<long long>(result.rowsThisRun),
              static_cast<long long>(result.rowsInStore));
  std::printf("hooks        %zu\n", result.hooks.size());
  std::printf("written      %.1f MB in %.2f s\n", static_cast<double>(result.bytesWritten) / 1e6,
              result.seconds);
  std::printf("store        %s (complete)\n", args.out.c_str());
}

}  // namespace

void addRecordCommand(CLI::App& app, const GlobalOptions& options) {
  auto* cmd = app.add_subcommand("record", "record activations over a dataset into an HDF5 store");
  auto args = std::make_shared<RecordArgs>();
  addModelFolderOption(cmd, args->folder, "Hugging Face model folder")->required();
  cmd->add_option("--dataset", args->dataset,
                  "dataset spec, e.g. induction:rows=256 or text:file=corpus.txt")
      ->required();
  cmd->add_option("--hooks", args->hooks, "hook name patterns, e.g. 'blocks.*.hook_resid_post'")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--out", args->out, "the store to write (FILE.h5)")->required();
  cmd->add_option("--positions", args->positions, "all, last, or a list such as 0,5,7")
      ->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "storage dtype: f32 or f16")->capture_default_str();
  cmd->add_option("--compress", args->compress, "none, gzip or blosc")->capture_default_str();
  cmd->add_option("--batch", args->batch, "examples per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--limit", args->limit, "record at most N examples (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--resume", args->resume,
                "continue an interrupted recording of the same model and dataset");
  cmd->add_flag("--append", args->append,
                "add the dataset's examples to a complete store of the same model");
  cmd->add_flag("--overwrite", args->overwrite, "replace FILE.h5 if it exists");
  cmd->callback([&options, args] { recordCommand(*args, options); });
}

}  // namespace cs::cli
