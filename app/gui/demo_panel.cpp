// The teaching panel's widgets; the step index is the only state that matters to the window.
#include "app/gui/demo_panel.h"

#include <QFont>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QVBoxLayout>

#include <algorithm>
#include <utility>

namespace cs::gui {

namespace {

// The text is read out in front of a class: at least 15 pt whatever the desktop's default.
QFont scaledFont(const QFont& base, double factor, double minimumPoints, bool bold) {
  QFont font = base;
  const double points = base.pointSizeF() > 0 ? base.pointSizeF() : 10.0;
  font.setPointSizeF(std::max(points * factor, minimumPoints));
  font.setBold(bold);
  return font;
}

QLabel* wrappedLabel(const QString& objectName) {
  auto* label = new QLabel;
  label->setObjectName(objectName);
  label->setWordWrap(true);
  label->setTextFormat(Qt::PlainText);
  label->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return label;
}

}  // namespace

DemoPanel::DemoPanel(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("demoPanel"));
  auto* layout = new QVBoxLayout(this);

  m_title = wrappedLabel(QStringLiteral("demoTitle"));
  m_title->setFont(scaledFont(font(), 1.6, 16.0, true));
  layout->addWidget(m_title);
  m_summary = wrappedLabel(QStringLiteral("demoSummary"));
  layout->addWidget(m_summary);

  m_steps = new QListWidget;
  m_steps->setObjectName(QStringLiteral("demoSteps"));
  m_steps->setSelectionMode(QAbstractItemView::SingleSelection);
  m_steps->setMaximumHeight(160);
  connect(m_steps, &QListWidget::currentRowChanged, this, [this](int row) {
    if (!m_updating) showStep(row);
  });
  layout->addWidget(m_steps);

  m_position = new QLabel;
  m_position->setObjectName(QStringLiteral("demoPosition"));
  layout->addWidget(m_position);
  m_stepTitle = wrappedLabel(QStringLiteral("demoStepTitle"));
  m_stepTitle->setFont(scaledFont(font(), 1.5, 16.0, true));
  layout->addWidget(m_stepTitle);

  m_text = wrappedLabel(QStringLiteral("demoText"));
  m_text->setFont(scaledFont(font(), 1.5, 15.0, false));
  m_text->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setWidget(m_text);
  layout->addWidget(scroll, 1);

  auto* buttons = new QHBoxLayout;
  m_back = new QPushButton(tr("Back"));
  m_back->setObjectName(QStringLiteral("demoBack"));
  m_run = new QPushButton(tr("Run this step"));
  m_run->setObjectName(QStringLiteral("demoRun"));
  m_next = new QPushButton(tr("Next"));
  m_next->setObjectName(QStringLiteral("demoNext"));
  m_next->setToolTip(tr("Go to the next step and run it"));
  buttons->addWidget(m_back);
  buttons->addStretch(1);
  buttons->addWidget(m_run);
  buttons->addWidget(m_next);
  layout->addLayout(buttons);
  connect(m_back, &QPushButton::clicked, this, &DemoPanel::back);
  connect(m_run, &QPushButton::clicked, this, &DemoPanel::runCurrentStep);
  connect(m_next, &QPushButton::clicked, this, &DemoPanel::next);

  updateView();
}

void DemoPanel::setPreset(DemoPreset preset) {
  if (preset.steps.empty()) {
    clearPreset();
    return;
  }
  m_preset = std::move(preset);
  m_current = 0;
  m_ran.assign(m_preset.steps.size(), false);
  updateView();
}

void DemoPanel::clearPreset() {
  m_preset = DemoPreset{};
  m_current = -1;
  m_ran.clear();
  updateView();
}

bool DemoPanel::wasRun(int index) const {
  return index >= 0 && index < static_cast<int>(m_ran.size()) && m_ran[index];
}

void DemoPanel::showStep(int index) {
  if (!hasPreset() || index < 0 || index >= static_cast<int>(m_preset.steps.size())) return;
  m_current = index;
  updateView();
}

void DemoPanel::back() {
  if (hasPreset() && m_current > 0) showStep(m_current - 1);
}

void DemoPanel::next() {
  if (!hasPreset() || m_busy || m_current + 1 >= static_cast<int>(m_preset.steps.size())) return;
  showStep(m_current + 1);
  request(m_current);
}

void DemoPanel::runCurrentStep() {
  if (hasPreset() && !m_busy) request(m_current);
}

void DemoPanel::setBusy(bool busy) {
  m_busy = busy;
  updateView();
}

void DemoPanel::request(int index) {
  m_ran[index] = true;
  updateView();
  Q_EMIT stepRequested(index);
  if (index + 1 == static_cast<int>(m_preset.steps.size())) Q_EMIT finished();
}

void DemoPanel::updateView() {
  m_updating = true;
  const int count = static_cast<int>(m_preset.steps.size());
  if (m_steps->count() != count) {
    m_steps->clear();
    for (int i = 0; i < count; ++i) m_steps->addItem(QString());
  }
  for (int i = 0; i < count; ++i) {
    // A tick marks the steps already run, so a teacher who went back sees where the class is.
    auto text = QStringLiteral("%1. %2").arg(i + 1).arg(
        QString::fromStdString(m_preset.steps[static_cast<std::size_t>(i)].title));
    if (wasRun(i)) text += QStringLiteral("  \u2713");
    m_steps->item(i)->setText(text);
  }
  m_steps->setCurrentRow(m_current);

  if (hasPreset()) {
    const auto& step = m_preset.steps[static_cast<std::size_t>(m_current)];
    m_title->setText(QString::fromStdString(m_preset.title));
    m_summary->setText(QString::fromStdString(m_preset.summary));
    m_position->setText(tr("Step %1 of %2").arg(m_current + 1).arg(count));
    m_stepTitle->setText(QString::fromStdString(step.title));
    m_text->setText(QString::fromStdString(step.text));
  } else {
    m_title->setText(tr("No demo loaded"));
    m_summary->setText(tr("Choose a teaching demo to walk through it step by step."));
    m_position->clear();
    m_stepTitle->clear();
    m_text->clear();
  }
  m_back->setEnabled(hasPreset() && m_current > 0);
  m_run->setEnabled(hasPreset() && !m_busy);
  m_next->setEnabled(hasPreset() && !m_busy && m_current + 1 < count);
  m_updating = false;
}

}  // namespace cs::gui
