// The recording loop. The first batch is computed before the file is touched: its shapes
// define the store's layout, and a model or dataset error leaves no half-made file behind.
#include "analysis/recording.h"

#include "core/torch_api.h"

#include <atomic>
#include <chrono>

#include "core/error.h"
#include "core/fault_injection.h"
#include "data/store/activation_store_reader.h"
#include "hooks/recorder.h"
#include "hooks/store_write_queue.h"

namespace cs::analysis {

namespace fs = std::filesystem;

namespace {

std::string megabytes(std::int64_t bytes) {
  return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MB";
}

struct NamedInput {
  std::string name;
  at::Tensor value;
  std::string axes;
};

// The dataset arrays stored under /inputs, in a fixed order, CPU and contiguous.
std::vector<NamedInput> batchInputs(const data::EvalBatch& batch, const at::Tensor& positionIndex) {
  std::vector<NamedInput> out;
  auto add = [&](const char* name, const at::Tensor& t, const char* axes, c10::ScalarType dtype) {
    if (t.defined()) out.push_back({name, t.to(at::kCPU).to(dtype).contiguous(), axes});
  };
  add("tokens", batch.tokens, "example,pos", at::kLong);
  add("attention_mask", batch.attentionMask, "example,pos", at::kLong);
  add("pixels", batch.pixels, "example,channel,height,width", at::kFloat);
  add("targets", batch.targets, "example", at::kLong);
  add("foils", batch.foils, "example", at::kLong);
  add("score_positions", batch.scorePositions, "example", at::kLong);
  add("loss_mask", batch.lossMask, "example,pos", at::kByte);
  add("positions", positionIndex, "example,recorded_pos", at::kLong);
  return out;
}

std::vector<std::int64_t> rowShape(const at::Tensor& t) {
  auto sizes = t.sizes().vec();
  sizes.erase(sizes.begin());
  return sizes;
}

data::StoreLayout layoutOf(const std::vector<NamedInput>& inputs,
                           const std::vector<hooks::HookPoint>& points,
                           const std::vector<at::Tensor>& captured, c10::ScalarType modelDtype,
                           const data::ModelIdentity& identity, const data::Dataset& dataset,
                           const std::string& positions) {
  data::StoreLayout layout;
  layout.model = identity;
  layout.dataset = dataset.describe();
  layout.positions = positions;
  for (const auto& in : inputs)
    layout.inputs.push_back({in.name, rowShape(in.value), in.axes, in.value.scalar_type()});
  for (std::size_t i = 0; i < points.size(); ++i) {
    layout.activations.push_back(
        {hooks::hookName(points[i].kind, points[i].layer), rowShape(captured[i]),
         hooks::storedAxes(points[i].kind, captured[i].dim()), modelDtype});
  }
  return layout;
}

void requireDiskSpace(const fs::path& path, std::int64_t bytes) {
  auto folder = fs::absolute(path).parent_path();
  std::error_code error;
  const auto space = fs::space(folder, error);
  if (error) return;  // unknown: let the writes report a full disk themselves
  // Keep a margin for HDF5's metadata and chunk padding.
  const auto needed = bytes + bytes / 50 + (std::int64_t{16} << 20);
  if (static_cast<std::uintmax_t>(needed) > space.available)
    throw IoError(
        "recording needs about " + megabytes(needed) + " in " + folder.string() + " but only " +
        megabytes(static_cast<std::int64_t>(space.available)) +
        " are free; record fewer examples (--limit), fewer hooks or positions, use --dtype f16 or "
        "--compress, or write elsewhere");
}

}  // namespace

RecordResult recordActivations(models::Model& model, const data::Dataset& dataset,
                               const data::ModelIdentity& identity, const fs::path& path,
                               const RecordOptions& options, Progress& progress,
                               const std::function<void(const RecordStatus&)>& onStatus) {
  if (options.batchSize <= 0) throw ConfigError("record: the batch size must be positive");
  if (options.hookPatterns.empty())
    throw ConfigError("record: name at least one hook pattern (--hooks)");
  const auto points = hooks::matchHookPoints(model.hookPoints(), options.hookPatterns);
  const auto positions = hooks::PositionSelection::parse(options.positions);
  const std::int64_t rows =
      options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();

  // Resume continues after the examples the store already holds; resume and append keep the
  // store's own dtype and compression.
  std::int64_t begin = 0;
  data::StoreOptions storeOptions = options.store;
  data::StoreLayout existingLayout;
  const bool existing =
      options.mode == data::StoreOpenMode::Resume || options.mode == data::StoreOpenMode::Append;
  if (existing && fs::exists(path)) {
    const data::ActivationStoreReader store(path);
    storeOptions = store.header().options;
    existingLayout = store.header().layout;
    if (options.mode == data::StoreOpenMode::Resume) begin = store.rows();
    if (begin > rows)
      throw ConfigError(path.string() + " already holds " + std::to_string(begin) +
                        " examples, more than the " + std::to_string(rows) + " to record");
  }

  c10::InferenceMode guard;
  progress.setStage("recording " + dataset.describe());
  const auto storage = storeOptions.dtype == data::StorageDtype::Float16 ? at::kHalf : at::kFloat;
  hooks::Recorder recorder(model.hooks(), points, positions, storage);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  // One forward pass with the recorder armed; returns the store batch.
  c10::ScalarType modelDtype = at::kFloat;
  std::vector<NamedInput> lastInputs;
  auto computeBatch = [&](std::int64_t from) {
    const auto batch = dataset.batch(from, std::min(options.batchSize, rows - from));
    const bool text = batch.tokens.defined();
    const auto B = text ? batch.tokens.size(0) : batch.pixels.size(0);
    const auto T = text ? batch.tokens.size(1) : std::int64_t{0};
    at::Tensor index;
    if (positions.kind() != hooks::PositionSelection::Kind::All) {
      if (!text)
        throw ConfigError("--positions " + positions.text() +
                          " needs a text dataset; image activations are "
                          "recorded at every position");
      index = positions.indexFor(B, T, batch.attentionMask);
    }
    recorder.beginBatch(index);
    models::ModelInput input{batch.tokens, batch.attentionMask, {}, batch.pixels};
    const auto logits = model.forward(input);
    modelDtype = logits.scalar_type();
    data::StoreBatch out;
    lastInputs = batchInputs(batch, index);
    for (const auto& in : lastInputs) out.inputs.push_back(in.value);
    out.activations = recorder.takeBatch();
    return out;
  };

  RecordResult result;
  for (const auto& p : points) result.hooks.push_back(hooks::hookName(p.kind, p.layer));
  if (rows == 0) throw ConfigError("record: " + dataset.describe() + " has no examples");
  if (begin == rows) {
    // A resume with nothing left to record just marks the store complete.
    existingLayout.model = identity;  // so that a different model is still refused
    auto writer =
        data::ActivationStoreWriter::open(path, existingLayout, storeOptions, options.mode);
    writer->markComplete();
    result.rowsInStore = writer->rowsWritten();
    result.complete = true;
    return result;
  }

  progress.check();
  auto first = computeBatch(begin);
  const auto layout = layoutOf(lastInputs, points, first.activations, modelDtype, identity, dataset,
                               positions.text());
  requireDiskSpace(path, data::bytesPerExample(layout, storeOptions.dtype) * (rows - begin));
  auto writer = data::ActivationStoreWriter::open(path, layout, storeOptions, options.mode);
  const std::int64_t rowsBefore = writer->rowsWritten();
  const std::int64_t total = rows - begin;
  std::atomic<std::int64_t> bytesWritten{0};
  hooks::StoreWriteQueue queue(
      *writer, options.queueBytes, [&](std::int64_t written, std::int64_t bytes) {
        bytesWritten = bytes;
        progress.setFraction(static_cast<double>(written) / static_cast<double>(total));
        if (onStatus) onStatus({written, total, bytes, elapsed()});
      });
  try {
    queue.push(std::move(first));
    for (std::int64_t from = begin + options.batchSize; from < rows; from += options.batchSize) {
      progress.check();
      queue.push(computeBatch(from));
      faultPoint("record.batch_queued");
    }
    queue.finish();
  } catch (const Cancelled&) {
    // Keep what is finished: the queued batches are whole.
    queue.finish();
    throw;
  }
  writer->markComplete();
  result.rowsInStore = writer->rowsWritten();
  result.rowsThisRun = writer->rowsWritten() - rowsBefore;
  result.bytesWritten = bytesWritten;
  result.seconds = elapsed();
  result.complete = true;
  return result;
}

}  // namespace cs::analysis
