// Captures activations at chosen hook points during forward passes, copied off the compute
// path (to the CPU, in the storage dtype, positions selected) so the model may reuse its
// buffers at once. One batch at a time: beginBatch, forward, takeBatch.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "hooks/hook_registry.h"
#include "hooks/position_selection.h"

namespace cs::hooks {

class Recorder {
 public:
  /// Attaches one observer per point; they detach when the Recorder is destroyed.
  /// `storage` is at::kFloat or at::kHalf.
  Recorder(HookRegistry& registry, std::vector<HookPoint> points, PositionSelection positions,
           c10::ScalarType storage);

  const std::vector<HookPoint>& points() const { return m_points; }

  /// Arms the observers for one forward pass. `positionIndex` is [B, P] from
  /// PositionSelection::indexFor, or undefined to keep every position.
  void beginBatch(at::Tensor positionIndex);

  /// The copies made during the pass, in point order. ConfigError naming a point that did not
  /// fire (the model does not compute it).
  std::vector<at::Tensor> takeBatch();

 private:
  void capture(std::size_t slot, const at::Tensor& x, const HookPoint& point);

  std::vector<HookPoint> m_points;
  PositionSelection m_positions;
  c10::ScalarType m_storage;
  at::Tensor m_index;
  std::vector<at::Tensor> m_captured;
  std::vector<HookHandle> m_handles;
};

}  // namespace cs::hooks
