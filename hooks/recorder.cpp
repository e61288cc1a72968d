// Recorder observers: one fresh CPU buffer per activation and batch. Copying (rather than
// keeping a reference) is what lets the forward pass continue while a writer thread stores it.
#include "hooks/recorder.h"

#include <ATen/ATen.h>

#include "core/error.h"

namespace cs::hooks {

Recorder::Recorder(HookRegistry& registry, std::vector<HookPoint> points,
                   PositionSelection positions, c10::ScalarType storage)
    : m_points(std::move(points)), m_positions(std::move(positions)), m_storage(storage) {
  if (storage != at::kFloat && storage != at::kHalf)
    throw ConfigError("recordings are stored as float32 or float16");
  m_captured.resize(m_points.size());
  for (std::size_t i = 0; i < m_points.size(); ++i) {
    m_handles.push_back(registry.observe(
        m_points[i],
        [this, i](const at::Tensor& x, const HookPoint& point) { capture(i, x, point); }));
  }
}

void Recorder::beginBatch(at::Tensor positionIndex) {
  m_index = std::move(positionIndex);
  for (auto& t : m_captured) t = at::Tensor();
}

void Recorder::capture(std::size_t slot, const at::Tensor& x, const HookPoint& point) {
  at::Tensor kept = x;
  if (m_index.defined()) {
    const int axis = positionAxis(point.kind, x.dim());
    if (axis > 0) kept = selectPositions(x, axis, m_index);
  }
  auto copy = at::empty(kept.sizes(), at::TensorOptions().dtype(m_storage).device(at::kCPU));
  copy.copy_(kept);
  m_captured[slot] = std::move(copy);
}

std::vector<at::Tensor> Recorder::takeBatch() {
  for (std::size_t i = 0; i < m_points.size(); ++i) {
    if (!m_captured[i].defined())
      throw ConfigError("hook " + hookName(m_points[i].kind, m_points[i].layer) +
                        " did not fire during the forward pass; this model does not compute it");
  }
  std::vector<at::Tensor> out;
  out.swap(m_captured);
  m_captured.resize(m_points.size());
  return out;
}

}  // namespace cs::hooks
