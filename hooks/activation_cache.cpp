// ActivationCache storage.
#include "hooks/activation_cache.h"

#include "core/error.h"

namespace cs::hooks {

void ActivationCache::insert(const HookPoint& point, at::Tensor value) {
  auto name = hookName(point);
  if (m_values.emplace(name, std::move(value)).second) m_order.push_back(std::move(name));
}

const at::Tensor& ActivationCache::at(const std::string& name) const {
  const auto it = m_values.find(name);
  if (it == m_values.end()) {
    throw ConfigError("activation '" + name + "' is not in the cache (it holds " +
                      std::to_string(m_values.size()) +
                      " activations): add a pattern that matches it to the cache run");
  }
  return it->second;
}

}  // namespace cs::hooks
