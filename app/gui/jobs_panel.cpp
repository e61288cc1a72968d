#include "app/gui/jobs_panel.h"

#include <QHeaderView>
#include <QProgressBar>
#include <QPushButton>

#include <cmath>

namespace cs::gui {

namespace {
enum Column { kName, kProgress, kStatus, kCancel };
}

JobsPanel::JobsPanel(JobRunner& runner, QWidget* parent) : QTreeWidget(parent), m_runner(runner) {
  setObjectName(QStringLiteral("jobsPanel"));
  setColumnCount(4);
  setHeaderLabels({tr("Job"), tr("Progress"), tr("Status"), QString()});
  setRootIsDecorated(false);
  header()->setSectionResizeMode(kName, QHeaderView::ResizeToContents);
  header()->setSectionResizeMode(kStatus, QHeaderView::Stretch);
  connect(&runner, &JobRunner::jobStarted, this, &JobsPanel::onStarted);
  connect(&runner, &JobRunner::jobProgress, this, &JobsPanel::onProgress);
  connect(&runner, &JobRunner::jobEnded, this, &JobsPanel::onEnded);
}

void JobsPanel::onStarted(int id, const QString& name) {
  auto* item = new QTreeWidgetItem({name, QString(), tr("queued")});
  item->setData(kName, Qt::UserRole, id);
  insertTopLevelItem(0, item);
  auto* bar = new QProgressBar;
  bar->setRange(0, 1000);
  bar->setValue(0);
  bar->setTextVisible(false);
  setItemWidget(item, kProgress, bar);
  auto* cancel = new QPushButton(tr("Cancel"));
  cancel->setObjectName(QStringLiteral("cancelJob%1").arg(id));
  connect(cancel, &QPushButton::clicked, this, [this, id]() { m_runner.cancel(id); });
  setItemWidget(item, kCancel, cancel);
  m_rows[id] = item;
}

void JobsPanel::onProgress(int id, const QString& stage, double fraction, double etaSeconds) {
  const auto it = m_rows.find(id);
  if (it == m_rows.end()) return;
  if (auto* bar = qobject_cast<QProgressBar*>(itemWidget(it->second, kProgress))) {
    bar->setValue(static_cast<int>(std::lround(fraction * 1000.0)));
  }
  QString status = stage;
  if (etaSeconds >= 0.0) status += tr(" (%1 s left)").arg(etaSeconds, 0, 'f', 1);
  it->second->setText(kStatus, status);
}

void JobsPanel::onEnded(int id, JobState state, const QString& message) {
  const auto it = m_rows.find(id);
  if (it == m_rows.end()) return;
  auto* item = it->second;
  m_rows.erase(it);
  if (auto* bar = qobject_cast<QProgressBar*>(itemWidget(item, kProgress))) {
    bar->setValue(state == JobState::Finished ? bar->maximum() : bar->value());
  }
  removeItemWidget(item, kCancel);
  item->setText(kStatus, message.isEmpty() ? jobStateName(state)
                                           : jobStateName(state) + QStringLiteral(": ") + message);
  // Ended rows beyond the newest kKeptEnded go; running rows are in m_rows and always stay.
  int ended = 0;
  for (int i = 0; i < topLevelItemCount();) {
    auto* row = topLevelItem(i);
    const bool running = m_rows.count(row->data(kName, Qt::UserRole).toInt()) > 0;
    if (!running && ++ended > kKeptEnded) {
      delete takeTopLevelItem(i);
    } else {
      ++i;
    }
  }
}

}  // namespace cs::gui
