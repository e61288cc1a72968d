// Activations recorded by a cache run, indexed by hook name or by (kind, layer).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "hooks/hook_point.h"

namespace cs::hooks {

class ActivationCache {
 public:
  void insert(const HookPoint& point, at::Tensor value);
  bool contains(const std::string& name) const { return m_values.count(name) > 0; }
  /// Throws ConfigError naming the hook (and what the cache holds) when absent.
  const at::Tensor& at(const std::string& name) const;
  const at::Tensor& at(HookKind kind, int layer = -1) const { return at(hookName(kind, layer)); }
  /// Names in insertion (forward) order.
  const std::vector<std::string>& names() const { return m_order; }
  std::size_t size() const { return m_order.size(); }

 private:
  std::map<std::string, at::Tensor> m_values;
  std::vector<std::string> m_order;
};

}  // namespace cs::hooks
