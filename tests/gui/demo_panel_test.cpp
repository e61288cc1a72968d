// The teaching panel: Back / Next / Run move through the steps, request the right step indices,
// announce the end, and disable themselves at the ends and while a step is being performed.
#include "app/gui/demo_panel.h"

#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>

#include <gtest/gtest.h>

namespace cs::gui {
namespace {

DemoPreset threeSteps() {
  DemoPreset preset;
  preset.id = "three";
  preset.title = "Three steps";
  preset.summary = "A preset for the panel tests.";
  preset.model = "builtin:induction";
  for (const char* title : {"First", "Second", "Third"}) {
    preset.steps.push_back({title, std::string("The text of the ") + title + " step.", {}});
  }
  return preset;
}

struct Widgets {
  QPushButton* back;
  QPushButton* run;
  QPushButton* next;
  QListWidget* steps;
  QLabel* title;
  QLabel* stepTitle;
  QLabel* text;
  QLabel* position;
};

Widgets widgetsOf(DemoPanel& panel) {
  Widgets w{panel.findChild<QPushButton*>(QStringLiteral("demoBack")),
            panel.findChild<QPushButton*>(QStringLiteral("demoRun")),
            panel.findChild<QPushButton*>(QStringLiteral("demoNext")),
            panel.findChild<QListWidget*>(QStringLiteral("demoSteps")),
            panel.findChild<QLabel*>(QStringLiteral("demoTitle")),
            panel.findChild<QLabel*>(QStringLiteral("demoStepTitle")),
            panel.findChild<QLabel*>(QStringLiteral("demoText")),
            panel.findChild<QLabel*>(QStringLiteral("demoPosition"))};
  EXPECT_TRUE(w.back && w.run && w.next && w.steps && w.title && w.stepTitle && w.text &&
              w.position);
  return w;
}

std::vector<int> requested(const QSignalSpy& spy) {
  std::vector<int> indices;
  for (const auto& call : spy) indices.push_back(call.at(0).toInt());
  return indices;
}

TEST(DemoPanel, EmptyPanelHasNothingToRun) {
  DemoPanel panel;
  const auto w = widgetsOf(panel);
  EXPECT_FALSE(panel.hasPreset());
  EXPECT_EQ(panel.currentIndex(), -1);
  EXPECT_FALSE(w.back->isEnabled());
  EXPECT_FALSE(w.run->isEnabled());
  EXPECT_FALSE(w.next->isEnabled());
  EXPECT_EQ(w.steps->count(), 0);
  EXPECT_EQ(w.title->text(), QStringLiteral("No demo loaded"));
}

TEST(DemoPanel, ShowsTheFirstStepWithoutRunningIt) {
  DemoPanel panel;
  QSignalSpy steps(&panel, &DemoPanel::stepRequested);
  panel.setPreset(threeSteps());
  const auto w = widgetsOf(panel);
  EXPECT_EQ(panel.currentIndex(), 0);
  EXPECT_EQ(panel.preset().id, "three");
  EXPECT_EQ(steps.count(), 0);
  EXPECT_EQ(w.title->text(), QStringLiteral("Three steps"));
  EXPECT_EQ(w.stepTitle->text(), QStringLiteral("First"));
  EXPECT_EQ(w.text->text(), QStringLiteral("The text of the First step."));
  EXPECT_EQ(w.position->text(), QStringLiteral("Step 1 of 3"));
  EXPECT_TRUE(w.text->wordWrap());
  EXPECT_GE(w.text->font().pointSizeF(), 15.0);
  ASSERT_EQ(w.steps->count(), 3);
  EXPECT_EQ(w.steps->currentRow(), 0);
  EXPECT_EQ(w.steps->item(2)->text(), QStringLiteral("3. Third"));
  EXPECT_FALSE(w.back->isEnabled());
  EXPECT_TRUE(w.run->isEnabled());
  EXPECT_TRUE(w.next->isEnabled());
}

TEST(DemoPanel, ButtonsWalkThroughTheStepsAndRequestThem) {
  DemoPanel panel;
  panel.setPreset(threeSteps());
  const auto w = widgetsOf(panel);
  QSignalSpy steps(&panel, &DemoPanel::stepRequested);
  QSignalSpy finished(&panel, &DemoPanel::finished);

  w.run->click();
  EXPECT_EQ(requested(steps), (std::vector<int>{0}));
  EXPECT_TRUE(panel.wasRun(0));
  EXPECT_EQ(w.steps->item(0)->text(), QStringLiteral("1. First  \u2713"));

  w.next->click();
  EXPECT_EQ(panel.currentIndex(), 1);
  EXPECT_EQ(requested(steps), (std::vector<int>{0, 1}));
  EXPECT_EQ(w.stepTitle->text(), QStringLiteral("Second"));
  EXPECT_EQ(w.steps->currentRow(), 1);
  EXPECT_TRUE(w.back->isEnabled());
  EXPECT_TRUE(w.next->isEnabled());
  EXPECT_EQ(finished.count(), 0);

  w.next->click();
  EXPECT_EQ(panel.currentIndex(), 2);
  EXPECT_EQ(requested(steps), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(finished.count(), 1);
  EXPECT_EQ(w.position->text(), QStringLiteral("Step 3 of 3"));
  EXPECT_FALSE(w.next->isEnabled());
  EXPECT_TRUE(w.back->isEnabled());
  w.next->click();  // disabled: nothing happens
  panel.next();     // nor through the slot
  EXPECT_EQ(panel.currentIndex(), 2);
  EXPECT_EQ(steps.count(), 3);

  // Back only shows the earlier step; running it is a separate choice.
  w.back->click();
  EXPECT_EQ(panel.currentIndex(), 1);
  EXPECT_EQ(w.text->text(), QStringLiteral("The text of the Second step."));
  EXPECT_EQ(steps.count(), 3);
  w.run->click();
  EXPECT_EQ(requested(steps), (std::vector<int>{0, 1, 2, 1}));
  EXPECT_EQ(finished.count(), 1);

  w.back->click();
  EXPECT_EQ(panel.currentIndex(), 0);
  EXPECT_FALSE(w.back->isEnabled());
  panel.back();
  EXPECT_EQ(panel.currentIndex(), 0);
  EXPECT_EQ(steps.count(), 4);
}

TEST(DemoPanel, ClickingAStepInTheListShowsItWithoutRunningIt) {
  DemoPanel panel;
  panel.setPreset(threeSteps());
  const auto w = widgetsOf(panel);
  QSignalSpy steps(&panel, &DemoPanel::stepRequested);
  w.steps->setCurrentRow(2);
  EXPECT_EQ(panel.currentIndex(), 2);
  EXPECT_EQ(w.stepTitle->text(), QStringLiteral("Third"));
  EXPECT_FALSE(w.next->isEnabled());
  EXPECT_EQ(steps.count(), 0);
  EXPECT_FALSE(panel.wasRun(2));
}

TEST(DemoPanel, BusyPanelRunsNothing) {
  DemoPanel panel;
  panel.setPreset(threeSteps());
  const auto w = widgetsOf(panel);
  QSignalSpy steps(&panel, &DemoPanel::stepRequested);
  panel.setBusy(true);
  EXPECT_FALSE(w.run->isEnabled());
  EXPECT_FALSE(w.next->isEnabled());
  panel.next();
  panel.runCurrentStep();
  EXPECT_EQ(steps.count(), 0);
  EXPECT_EQ(panel.currentIndex(), 0);
  panel.setBusy(false);
  EXPECT_TRUE(w.next->isEnabled());
  w.next->click();
  EXPECT_EQ(requested(steps), (std::vector<int>{1}));
}

TEST(DemoPanel, SingleStepPresetFinishesOnRun) {
  auto preset = threeSteps();
  preset.steps.resize(1);
  DemoPanel panel;
  panel.setPreset(preset);
  const auto w = widgetsOf(panel);
  QSignalSpy steps(&panel, &DemoPanel::stepRequested);
  QSignalSpy finished(&panel, &DemoPanel::finished);
  EXPECT_FALSE(w.back->isEnabled());
  EXPECT_FALSE(w.next->isEnabled());
  w.run->click();
  EXPECT_EQ(requested(steps), (std::vector<int>{0}));
  EXPECT_EQ(finished.count(), 1);
}

TEST(DemoPanel, NewPresetStartsOverAndClearingEmptiesThePanel) {
  DemoPanel panel;
  panel.setPreset(threeSteps());
  panel.next();
  panel.next();
  auto other = threeSteps();
  other.title = "Other";
  other.steps.resize(2);
  panel.setPreset(other);
  const auto w = widgetsOf(panel);
  EXPECT_EQ(panel.currentIndex(), 0);
  EXPECT_EQ(w.steps->count(), 2);
  EXPECT_FALSE(panel.wasRun(1));
  EXPECT_EQ(w.steps->item(1)->text(), QStringLiteral("2. Second"));
  EXPECT_EQ(w.title->text(), QStringLiteral("Other"));

  panel.clearPreset();
  EXPECT_FALSE(panel.hasPreset());
  EXPECT_EQ(panel.currentIndex(), -1);
  EXPECT_EQ(w.steps->count(), 0);
  EXPECT_FALSE(w.run->isEnabled());
}

}  // namespace
}  // namespace cs::gui
