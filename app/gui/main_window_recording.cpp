// File > Record activations: the evaluation set's activations at chosen hooks into a new HDF5
// store, as a cancellable job; the finished store opens in the activations browser.
#include <QAction>
#include <QFileDialog>
#include <QMenu>

#include "app/gui/main_window.h"

namespace cs::gui {

void MainWindow::addRecordAction(QMenu* file) {
  auto* action = file->addAction(tr("Record activations..."), this, [this]() { askRecording(); });
  action->setObjectName(QStringLiteral("recordAction"));
}

void MainWindow::askRecording() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("record"), tr("Record activations"),
      {textField(QStringLiteral("hooks"), tr("Hooks"),
                 tr("Hook name patterns separated by commas, e.g. blocks.*.hook_resid_post, "
                    "blocks.0.attn.hook_pattern, hook_logits"),
                 QStringLiteral("blocks.*.hook_resid_post")),
       textField(QStringLiteral("positions"), tr("Positions"),
                 tr("all, last, or a list such as 0,5,7"), QStringLiteral("all")),
       intField(QStringLiteral("rows"), tr("Rows"),
                tr("The evaluation set's first rows; 0: every row"), 0, 0, 100000000),
       boolField(QStringLiteral("float16"), tr("Store float16"),
                 tr("Half the disk space, about three significant digits"), false),
       textField(QStringLiteral("file"), tr("File"),
                 tr("The new store (.h5); empty: choose it in a file dialog"), QString())});
  if (!values) return;
  auto path = values->value(QStringLiteral("file")).toString().trimmed();
  if (path.isEmpty() && m_askOptions) {
    path = QFileDialog::getSaveFileName(this, tr("Record activations into"), QString(),
                                        tr("Activation stores (*.h5)"));
  }
  if (path.isEmpty()) return;
  RecordSettings settings;
  settings.path = path.toStdString();
  for (const auto& pattern : values->value(QStringLiteral("hooks")).toString().split(u',')) {
    if (!pattern.trimmed().isEmpty()) settings.hooks.push_back(pattern.trimmed().toStdString());
  }
  settings.positions =
      values->value(QStringLiteral("positions")).toString().trimmed().toStdString();
  settings.rows = values->value(QStringLiteral("rows")).toLongLong();
  settings.float16 = values->value(QStringLiteral("float16")).toBool();
  recordActivations(settings);
}

void MainWindow::recordActivations(const RecordSettings& settings) {
  if (!m_session) return;
  auto session = m_session;
  m_runner.start<RecordSummary>(
      tr("Recording activations into %1").arg(QString::fromStdString(settings.path)),
      [session, settings](Progress& progress) {
        return session->recordActivations(settings, progress);
      },
      [this](RecordSummary r) {
        const auto path = QString::fromStdString(r.path);
        log(tr("recorded %1 examples at %2 hook points into %3: %4 MB in %5 s")
                .arg(r.rows)
                .arg(r.hooks.size())
                .arg(path)
                .arg(static_cast<double>(r.bytes) / 1e6, 0, 'f', 1)
                .arg(r.seconds, 0, 'f', 2));
        openRecording(path);
      });
}

}  // namespace cs::gui
