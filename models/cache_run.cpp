// Cache runs through scoped observers.
#include "models/cache_run.h"

#include "hooks/hook_registry.h"

namespace cs::models {

at::Tensor runWithCache(Model& model, const ModelInput& input,
                        const std::vector<std::string>& patterns, hooks::ActivationCache& cache) {
  const auto points = hooks::matchHookPoints(model.hookPoints(), patterns);
  hooks::ScopedHooks scope(model.hooks());
  for (const auto& point : points) {
    scope.observe(point,
                  [&cache](const at::Tensor& x, const hooks::HookPoint& p) { cache.insert(p, x); });
  }
  return model.forward(input);
}

}  // namespace cs::models
