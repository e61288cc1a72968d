// The main window: model tree with per-head masks, token input with the top next tokens,
// accuracy metrics (baseline and masked), jobs and log. Every model call runs as a job; this
// class only keeps state and shows results.
#pragma once

#include <QHash>
#include <QMainWindow>
#include <QPointer>

#include <memory>
#include <optional>
#include <vector>

#include "app/gui/job_runner.h"
#include "app/gui/model_session.h"
#include "hooks/mask_set.h"

class QLabel;
class QLineEdit;
class QMessageBox;
class QPlainTextEdit;
class QTimer;
class QTreeWidget;
class QTreeWidgetItem;

namespace cs::gui {

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  /// Starts loading `model` (a folder or builtin:NAME) at once.
  explicit MainWindow(const QString& model = QStringLiteral("builtin:induction"),
                      QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Loads a model on a job; the current one stays in use until the new one is ready, and stays
  /// when loading fails.
  void openModel(const QString& folderOrBuiltin);
  /// Replaces the input (comma- or space-separated token ids) and recomputes the predictions.
  void setInputIds(const QString& text);

  JobRunner& jobs() { return m_runner; }
  bool hasModel() const { return m_session != nullptr; }
  const hooks::MaskSet& masks() const { return m_masks; }
  std::optional<double> baselineAccuracy() const { return m_baseline; }
  std::optional<double> maskedAccuracy() const { return m_masked; }
  const std::vector<Prediction>& predictions() const { return m_predictions; }

 Q_SIGNALS:
  void modelLoaded();
  void modelLoadFailed(const QString& message);
  void predictionsUpdated();
  void metricsUpdated();

 private:
  void buildMenus();
  void buildPanels();
  void showModel();
  void onTreeItemChanged(QTreeWidgetItem* item, int column);
  void refreshPredictions();
  void refreshMetrics();
  void onJobStarted(int id, const QString& name);
  void onJobEnded(int id, JobState state, const QString& message);
  void log(const QString& line);
  void showError(const QString& message);

  JobRunner m_runner;
  std::shared_ptr<ModelSession> m_session;
  hooks::MaskSet m_masks;
  std::optional<double> m_baseline;
  std::optional<double> m_masked;
  std::vector<Prediction> m_predictions;
  QHash<int, QString> m_jobNames;
  int m_loadJob = 0;
  int m_predictJob = 0;
  int m_metricsJob = 0;
  bool m_fillingTree = false;

  QTreeWidget* m_modelTree = nullptr;
  QLineEdit* m_idsEdit = nullptr;
  QLabel* m_inputStatus = nullptr;
  QTreeWidget* m_predictionList = nullptr;
  QLabel* m_metricsLabel = nullptr;
  QPlainTextEdit* m_log = nullptr;
  QTimer* m_inputDelay = nullptr;
  QPointer<QMessageBox> m_errorBox;
};

}  // namespace cs::gui
