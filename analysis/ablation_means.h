// Computes the reference means that mean ablation uses: one pass of the model over a dataset,
// averaging hook_z per head, mlp.hook_post per neuron, the sublayer outputs and each block's
// update over examples and real (unpadded) positions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "core/progress.h"
#include "data/dataset.h"
#include "hooks/ablation_means.h"
#include "models/transformer.h"

namespace cs::analysis {

struct AblationMeansOptions {
  std::int64_t batchSize = 32;
  std::int64_t limit = 0;  ///< use at most this many rows (0: all)
};

/// Runs the model as it is (attach no masks first). Sums accumulate in float64; the means come
/// back in the model's dtype on its device. Progress per batch; Cancelled when asked.
hooks::AblationMeans computeAblationMeans(models::Transformer& model, const data::Dataset& dataset,
                                          const AblationMeansOptions& options = {},
                                          Progress& progress = noProgress());

/// Means computed once per (model, reference dataset, row limit) and kept: the live panel asks
/// for them on every mask change. The cache holds no model; a model it was asked about must not
/// change its weights while cached means are used (call clear() after editing weights).
class AblationMeansCache {
 public:
  const hooks::AblationMeans& get(models::Transformer& model, const data::Dataset& dataset,
                                  const AblationMeansOptions& options = {},
                                  Progress& progress = noProgress());
  std::size_t size() const { return m_entries.size(); }
  void clear() { m_entries.clear(); }

 private:
  using Key = std::tuple<const models::Transformer*, std::string, std::int64_t>;
  std::map<Key, hooks::AblationMeans> m_entries;
};

}  // namespace cs::analysis
