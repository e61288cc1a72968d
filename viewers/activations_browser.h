// Browses a recording's activations: pick a hook, look at examples x features at one position or
// at positions x features of one example as a heatmap, with the slice's summary statistics.
// Reads through an ActivationSource, so it never sees HDF5; refresh() picks up the rows a
// recording still being written has added, and it never reads past them.
#pragma once

#include <QString>
#include <QWidget>

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "viewers/activation_source.h"
#include "viewers/heatmap_view.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTimer;

namespace cs::viewers {

/// Which slice of a hook the browser shows.
enum class BrowseMode {
  ExamplesByFeatures,   // rows: examples (a window of maxRows()), at one position
  PositionsByFeatures,  // rows: positions of one example
};

/// Summary statistics of a slice's finite values (non-finite ones are counted apart).
struct SliceStatistics {
  std::int64_t count = 0;      // finite values
  std::int64_t nonFinite = 0;  // NaN and infinities, left out of the rest
  double mean = 0.0;
  double stddev = 0.0;  // population standard deviation
  double min = 0.0;
  double max = 0.0;
  double zeroFraction = 0.0;  // of the finite values, those exactly 0
  // The finite value of largest magnitude: its row and feature column in the slice.
  Eigen::Index largestRow = -1;
  Eigen::Index largestFeature = -1;
  double largestValue = 0.0;
};

/// The statistics of `slice`; sums in double with the mean taken first (two passes), so a
/// large offset does not swamp the spread.
SliceStatistics sliceStatistics(const Eigen::MatrixXd& slice);

/// How a hook's feature axes are laid out as heatmap columns.
struct FeatureLayout {
  std::vector<std::int64_t> sizes;  // the feature axes, e.g. {4, 16} for [head, d_head]
  std::vector<std::string> names;   // one per feature axis
  std::int64_t count = 1;           // product of sizes
  /// "head 2, d_head 5" style label of flattened column `index`; "2.5" as a column label.
  std::string columnLabel(std::int64_t index) const;
  /// "feature", or for several axes "head.d_head (column = head*16 + d_head)".
  std::string columnTitle() const;
};

class ActivationsBrowser : public QWidget {
  Q_OBJECT

 public:
  explicit ActivationsBrowser(QWidget* parent = nullptr);
  ~ActivationsBrowser() override;

  /// Browses `source` (nullptr: nothing), starting at its first hook, examples mode, position
  /// 0. Errors from the source are shown in the widget, never thrown.
  void setSource(std::unique_ptr<ActivationSource> source);
  ActivationSource* source() const { return m_source.get(); }

  /// Each selection reloads the slice. A hook the source does not have, or a position or
  /// example out of range, is clamped or ignored as the controls would.
  void setHook(const std::string& hook);
  void setMode(BrowseMode mode);
  void setPosition(std::int64_t position);
  void setExample(std::int64_t row);
  /// The first example of the examples window.
  void setFirstRow(std::int64_t row);
  /// How many examples the examples mode shows at most (256 at first).
  void setMaxRows(std::int64_t rows);

  std::string hook() const;
  BrowseMode mode() const { return m_mode; }
  std::int64_t position() const;
  std::int64_t example() const;
  std::int64_t firstRow() const;
  std::int64_t maxRows() const { return m_maxRows; }

  /// Re-reads the source's rowsAvailable() (after its refresh()) and reloads the slice, so a
  /// recording still being written shows its new rows.
  void refresh();
  /// Calls refresh() every `intervalMs` milliseconds (off at first; the GUI turns it on for a
  /// recording that is not complete).
  void setAutoRefresh(bool on, int intervalMs = 1000);
  bool autoRefresh() const;

  /// Rows the source had at the last refresh.
  std::int64_t rowsAvailable() const { return m_rows; }

  /// The slice shown, its statistics (none when nothing is shown), and the source's last error
  /// message (empty when the last read worked).
  const HeatmapView& heatmap() const { return *m_heatmap; }
  HeatmapView& heatmap() { return *m_heatmap; }
  const std::optional<SliceStatistics>& statistics() const { return m_statistics; }
  QString statisticsText() const;
  QString errorMessage() const { return m_error; }
  const FeatureLayout& featureLayout() const { return m_features; }

  /// The controls, for tests and for a panel that wants to arrange them.
  QComboBox* hookPicker() const { return m_hookBox; }
  QComboBox* modePicker() const { return m_modeBox; }
  QSpinBox* positionBox() const { return m_positionBox; }
  QSpinBox* exampleBox() const { return m_exampleBox; }
  QSpinBox* firstRowBox() const { return m_firstRowBox; }

  QSize sizeHint() const override;

 Q_SIGNALS:
  /// A new slice was shown (or cleared after an error).
  void sliceChanged();

 private:
  void loadHooks();
  void hookChanged();
  void updateRanges();
  void reload();
  void showError(const QString& message);
  void showSlice(HeatmapData data, const Eigen::MatrixXd& slice);

  std::unique_ptr<ActivationSource> m_source;
  BrowseMode m_mode = BrowseMode::ExamplesByFeatures;
  std::int64_t m_rows = 0;
  std::int64_t m_maxRows = 256;
  std::vector<std::int64_t> m_shape;        // the current hook's shape
  std::string m_positionName = "position";  // the current hook's second axis
  bool m_hasPositions = false;              // rank >= 3
  FeatureLayout m_features;
  std::optional<SliceStatistics> m_statistics;
  QString m_error;

  QComboBox* m_hookBox = nullptr;
  QComboBox* m_modeBox = nullptr;
  QLabel* m_positionLabel = nullptr;
  QSpinBox* m_positionBox = nullptr;
  QLabel* m_exampleLabel = nullptr;
  QSpinBox* m_exampleBox = nullptr;
  QLabel* m_firstRowLabel = nullptr;
  QSpinBox* m_firstRowBox = nullptr;
  QPushButton* m_refreshButton = nullptr;
  QLabel* m_rowsLabel = nullptr;
  HeatmapView* m_heatmap = nullptr;
  QLabel* m_statisticsLabel = nullptr;
  QLabel* m_errorLabel = nullptr;
  QTimer* m_timer = nullptr;
};

}  // namespace cs::viewers
