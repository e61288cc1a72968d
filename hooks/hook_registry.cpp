// Hook registry storage: one vector of entries per (kind, layer) slot, shared with handles
// through a weak pointer so a handle outliving its model is harmless.
#include "hooks/hook_registry.h"

#include <algorithm>

#include "core/error.h"
#include "core/shape_text.h"

namespace cs::hooks {

HookRegistry::HookRegistry(int nLayers) : m_state(std::make_shared<State>()) {
  m_state->nLayers = nLayers;
  m_state->slots.resize(static_cast<std::size_t>(kHookKindCount) * (nLayers + 1));
}

HookHandle HookRegistry::add(const HookPoint& point, HookFn fn) {
  const bool perLayer = isPerLayer(point.kind);
  if (perLayer ? (point.layer < 0 || point.layer >= m_state->nLayers) : point.layer != -1) {
    throw ConfigError("cannot attach a hook at " +
                      (perLayer ? "block " + std::to_string(point.layer) : std::string("layer")) +
                      ": this model has " + std::to_string(m_state->nLayers) + " blocks");
  }
  const auto slot = slotIndex(point.kind, point.layer);
  const auto id = m_state->nextId++;
  m_state->slots[slot].push_back(Entry{id, std::move(fn)});
  return HookHandle(m_state, slot, id);
}

HookHandle HookRegistry::observe(const HookPoint& point, ObserverFn fn) {
  return add(point, [fn = std::move(fn)](const at::Tensor& x, const HookPoint& p) {
    fn(x, p);
    return std::optional<at::Tensor>();
  });
}

at::Tensor HookRegistry::fireAttached(const std::vector<Entry>& slot, const HookPoint& point,
                                      at::Tensor x) {
  // Iterate over a copy: a hook may detach itself (or others) while running.
  const std::vector<Entry> entries = slot;
  for (const auto& entry : entries) {
    auto replacement = entry.fn(x, point);
    if (replacement) {
      if (!replacement->defined() || replacement->sizes() != x.sizes()) {
        throw ShapeError("hook at " + hookName(point) + " returned " +
                         (replacement->defined() ? shapeText(replacement->sizes())
                                                 : std::string("an undefined tensor")) +
                         " but the activation is " + shapeText(x.sizes()));
      }
      x = std::move(*replacement);
    }
  }
  return x;
}

std::size_t HookRegistry::attachedCount() const {
  std::size_t n = 0;
  for (const auto& slot : m_state->slots) n += slot.size();
  return n;
}

void HookRegistry::clear() {
  for (auto& slot : m_state->slots) slot.clear();
}

HookHandle::HookHandle(HookHandle&& other) noexcept
    : m_state(std::move(other.m_state)), m_slot(other.m_slot), m_id(other.m_id) {
  other.m_id = 0;
}

HookHandle& HookHandle::operator=(HookHandle&& other) noexcept {
  if (this != &other) {
    reset();
    m_state = std::move(other.m_state);
    m_slot = other.m_slot;
    m_id = other.m_id;
    other.m_id = 0;
  }
  return *this;
}

void HookHandle::reset() {
  if (m_id == 0) return;
  if (auto state = m_state.lock()) {
    auto& entries = state->slots[m_slot];
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [id = m_id](const auto& e) { return e.id == id; }),
                  entries.end());
  }
  m_id = 0;
  m_state.reset();
}

bool HookHandle::attached() const {
  if (m_id == 0) return false;
  const auto state = m_state.lock();
  if (!state) return false;
  const auto& entries = state->slots[m_slot];
  return std::any_of(entries.begin(), entries.end(),
                     [id = m_id](const auto& e) { return e.id == id; });
}

ScopedHooks& ScopedHooks::add(const HookPoint& point, HookFn fn) {
  m_handles.push_back(m_registry.add(point, std::move(fn)));
  return *this;
}

ScopedHooks& ScopedHooks::observe(const HookPoint& point, ObserverFn fn) {
  m_handles.push_back(m_registry.observe(point, std::move(fn)));
  return *this;
}

}  // namespace cs::hooks
