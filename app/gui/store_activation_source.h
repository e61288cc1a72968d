// The activations browser's view of an HDF5 activation store (data::ActivationStoreReader):
// recorded activations by hook as slices of doubles, refreshed while a recording is still being
// written. Plain C++ (no Qt): the browser (viewers/activations_browser.h) calls it through
// viewers::ActivationSource.
#pragma once

#include <filesystem>
#include <memory>

#include "viewers/activation_source.h"

namespace cs::data {
class ActivationStoreReader;
}

namespace cs::gui {

class StoreActivationSource final : public viewers::ActivationSource {
 public:
  /// Opens and validates the store (FormatError, ConfigError as the reader throws them).
  explicit StoreActivationSource(const std::filesystem::path& path);
  ~StoreActivationSource() override;

  std::vector<std::string> hooks() const override;
  std::vector<std::int64_t> shape(const std::string& hook) const override;
  std::vector<std::string> axisNames(const std::string& hook) const override;
  void refresh() override;
  std::int64_t rowsAvailable() const override;
  Eigen::MatrixXd examplesByFeatures(const std::string& hook, std::int64_t position,
                                     std::int64_t firstRow, std::int64_t rows) const override;
  Eigen::MatrixXd positionsByFeatures(const std::string& hook, std::int64_t row) const override;
  std::vector<std::string> tokens(std::int64_t row) const override;

 private:
  std::unique_ptr<data::ActivationStoreReader> m_reader;
};

}  // namespace cs::gui
