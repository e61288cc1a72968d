// The teaching panel: walks through a DemoPreset one step at a time (title, step list with the
// current step highlighted, the step's text in a size that reads on a projector, Back / Next and
// "Run this step"). It only asks for steps to be run; the main window performs their actions.
#pragma once

#include <QWidget>

#include <vector>

#include "app/gui/demo_preset.h"

class QLabel;
class QListWidget;
class QPushButton;

namespace cs::gui {

class DemoPanel : public QWidget {
  Q_OBJECT

 public:
  explicit DemoPanel(QWidget* parent = nullptr);

  /// Shows `preset` at its first step; nothing is run until asked.
  void setPreset(DemoPreset preset);
  /// Back to the empty panel.
  void clearPreset();

  bool hasPreset() const { return !m_preset.steps.empty(); }
  const DemoPreset& preset() const { return m_preset; }
  /// The step shown; -1 without a preset.
  int currentIndex() const { return m_current; }
  /// Whether the step at `index` was requested since the preset was set.
  bool wasRun(int index) const;

  /// Shows step `index` without running it; out-of-range indices are ignored.
  void showStep(int index);
  /// Goes back one step (without running it).
  void back();
  /// Moves to the next step and requests it.
  void next();
  /// Requests the step shown.
  void runCurrentStep();
  /// While the window performs a step, Next and Run are disabled so a step is not started twice.
  void setBusy(bool busy);
  bool isBusy() const { return m_busy; }

 Q_SIGNALS:
  /// Perform the actions of step `index` (0-based) of preset().
  void stepRequested(int index);
  /// The last step was requested (emitted right after its stepRequested).
  void finished();

 private:
  void request(int index);
  void updateView();

  DemoPreset m_preset;
  int m_current = -1;
  std::vector<bool> m_ran;
  bool m_busy = false;
  bool m_updating = false;

  QLabel* m_title = nullptr;
  QLabel* m_summary = nullptr;
  QListWidget* m_steps = nullptr;
  QLabel* m_position = nullptr;
  QLabel* m_stepTitle = nullptr;
  QLabel* m_text = nullptr;
  QPushButton* m_back = nullptr;
  QPushButton* m_run = nullptr;
  QPushButton* m_next = nullptr;
};

}  // namespace cs::gui
