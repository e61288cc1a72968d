// The jobs panel: one row per job with its progress bar, stage, ETA and a Cancel button.
// Finished jobs stay listed with their outcome (the last kKeptEnded of them).
#pragma once

#include <QTreeWidget>

#include <map>

#include "app/gui/job_runner.h"

namespace cs::gui {

class JobsPanel : public QTreeWidget {
  Q_OBJECT

 public:
  explicit JobsPanel(JobRunner& runner, QWidget* parent = nullptr);

  static constexpr int kKeptEnded = 20;

 private:
  void onStarted(int id, const QString& name);
  void onProgress(int id, const QString& stage, double fraction, double etaSeconds);
  void onEnded(int id, JobState state, const QString& message);

  JobRunner& m_runner;
  std::map<int, QTreeWidgetItem*> m_rows;
};

}  // namespace cs::gui
