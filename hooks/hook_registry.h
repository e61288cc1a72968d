// Hooks attached to a model's hook points. A point with nothing attached costs one branch in
// fire(). Hooks observe (return nothing) or replace the activation (return a tensor of the
// same shape). Handles detach on destruction; the registry may die first, safely.
// Not thread-safe: attach and detach while no forward pass is running.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "hooks/hook_point.h"

namespace cs::hooks {

/// Returns a replacement (same shape) or nothing to leave the activation as it is.
using HookFn = std::function<std::optional<at::Tensor>(const at::Tensor&, const HookPoint&)>;
using ObserverFn = std::function<void(const at::Tensor&, const HookPoint&)>;

class HookHandle;

class HookRegistry {
 public:
  explicit HookRegistry(int nLayers);

  int nLayers() const { return m_state->nLayers; }

  /// Attaches a hook; it runs in attach order after those already at the point.
  [[nodiscard]] HookHandle add(const HookPoint& point, HookFn fn);
  /// Attaches a hook that only reads.
  [[nodiscard]] HookHandle observe(const HookPoint& point, ObserverFn fn);

  /// True when something is attached at the point.
  bool active(HookKind kind, int layer = -1) const {
    return !m_state->slots[slotIndex(kind, layer)].empty();
  }

  /// Passes x through the hooks at the point. Inline fast path for the idle case.
  at::Tensor fire(HookKind kind, int layer, at::Tensor x) const {
    const auto& slot = m_state->slots[slotIndex(kind, layer)];
    if (slot.empty()) return x;
    return fireAttached(slot, HookPoint{kind, layer}, std::move(x));
  }

  /// Number of hooks attached anywhere.
  std::size_t attachedCount() const;
  /// Detaches every hook (their handles become inert).
  void clear();

 private:
  friend class HookHandle;
  struct Entry {
    std::uint64_t id;
    HookFn fn;
  };
  struct State {
    int nLayers = 0;
    std::uint64_t nextId = 1;
    std::vector<std::vector<Entry>> slots;
  };

  std::size_t slotIndex(HookKind kind, int layer) const {
    // Model-level kinds use layer slot 0; per-layer kinds are checked by add() once.
    return static_cast<std::size_t>(kind) * static_cast<std::size_t>(m_state->nLayers + 1) +
           static_cast<std::size_t>(layer + 1);
  }
  static at::Tensor fireAttached(const std::vector<Entry>& slot, const HookPoint& point,
                                 at::Tensor x);

  std::shared_ptr<State> m_state;
};

/// Owns one attached hook; detaches it when destroyed or reset.
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(HookHandle&& other) noexcept;
  HookHandle& operator=(HookHandle&& other) noexcept;
  HookHandle(const HookHandle&) = delete;
  HookHandle& operator=(const HookHandle&) = delete;
  ~HookHandle() { reset(); }

  /// Detaches now (no-op if already detached or the registry is gone).
  void reset();
  bool attached() const;

 private:
  friend class HookRegistry;
  HookHandle(std::weak_ptr<HookRegistry::State> state, std::size_t slot, std::uint64_t id)
      : m_state(std::move(state)), m_slot(slot), m_id(id) {}
  std::weak_ptr<HookRegistry::State> m_state;
  std::size_t m_slot = 0;
  std::uint64_t m_id = 0;
};

/// A set of hooks removed together when the scope ends.
class ScopedHooks {
 public:
  explicit ScopedHooks(HookRegistry& registry) : m_registry(registry) {}
  ScopedHooks& add(const HookPoint& point, HookFn fn);
  ScopedHooks& observe(const HookPoint& point, ObserverFn fn);
  std::size_t size() const { return m_handles.size(); }

 private:
  HookRegistry& m_registry;
  std::vector<HookHandle> m_handles;
};

}  // namespace cs::hooks
