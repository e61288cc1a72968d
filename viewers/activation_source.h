// What the activations browser reads: recorded activations by hook, as slices of doubles. The
// GUI implements it over the HDF5 activation store (data::ActivationStoreReader); the viewers
// never include HDF5 or libtorch, and the tests implement it in memory.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace cs::viewers {

/// A recording seen as one array per hook, [examples, positions, features...]: the first axis is
/// the example, the second the position (or whatever a hook has there: a pattern's head), the
/// rest feature axes. A hook of rank 2, [examples, features], has no position axis: the browser
/// then asks for position 0 only, and positionsByFeatures() gives one row.
///
/// Every function may throw std::exception (an unreadable file, a vanished dataset): the
/// browser shows the message and stays usable. Functions are called on the GUI thread, one
/// slice at a time (at most the browser's maxRows() examples), so an implementation may read
/// from disk on each call.
class ActivationSource {
 public:
  virtual ~ActivationSource() = default;

  /// Hook names, in recording order.
  virtual std::vector<std::string> hooks() const = 0;

  /// The hook's whole shape, the example axis first (its size is the recording's planned row
  /// count, or anything: the browser reads rowsAvailable() instead).
  virtual std::vector<std::int64_t> shape(const std::string& hook) const = 0;

  /// One name per axis of shape(), e.g. {"example", "pos", "head", "d_head"}; empty when
  /// unknown (the browser then says "position" and "feature").
  virtual std::vector<std::string> axisNames(const std::string& /*hook*/) const { return {}; }

  /// Re-reads how many rows a recording still being written has committed. The browser calls it
  /// at each refresh, before rowsAvailable().
  virtual void refresh() {}

  /// Examples that can be read now (grows while the file is being written). The browser never
  /// asks for a row at or past it.
  virtual std::int64_t rowsAvailable() const = 0;

  /// Examples [firstRow, firstRow + rows) at `position`, features flattened in row-major order
  /// (feature axes [a, b] give column i * b + j): [rows, features].
  virtual Eigen::MatrixXd examplesByFeatures(const std::string& hook, std::int64_t position,
                                             std::int64_t firstRow, std::int64_t rows) const = 0;

  /// Every position of example `row`, features flattened as above: [positions, features].
  virtual Eigen::MatrixXd positionsByFeatures(const std::string& hook, std::int64_t row) const = 0;

  /// The example's tokens as text (one per position), when the recording has a tokenizer's
  /// output; empty otherwise (positions are then labelled by number).
  virtual std::vector<std::string> tokens(std::int64_t /*row*/) const { return {}; }
};

}  // namespace cs::viewers
