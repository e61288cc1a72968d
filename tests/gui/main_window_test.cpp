// The main window on the built-in induction model: the model tree, masking a head through it
// with live metrics, and a corrupt model folder that leaves the window working.
#include "app/gui/main_window.h"

#include <QFile>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include <gtest/gtest.h>

namespace cs::gui {
namespace {

// Loading and one metrics pass take well under a second; the margin is for a loaded machine.
constexpr int kWaitMs = 60000;

QTreeWidgetItem* findItem(QTreeWidget& tree, const QString& text) {
  const auto found = tree.findItems(text, Qt::MatchExactly | Qt::MatchRecursive, 0);
  return found.size() == 1 ? found.front() : nullptr;
}

// A window with the built-in model loaded and its baseline accuracy known.
void waitUntilReady(MainWindow& window) {
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
}

TEST(MainWindow, StartsWithTheBuiltinModelTree) {
  MainWindow window;
  waitUntilReady(window);
  auto* tree = window.findChild<QTreeWidget*>(QStringLiteral("modelTree"));
  ASSERT_NE(tree, nullptr);
  int blocks = 0;
  for (int i = 0; i < tree->topLevelItemCount(); ++i) {
    if (tree->topLevelItem(i)->text(0).startsWith(QStringLiteral("block "))) ++blocks;
  }
  EXPECT_EQ(blocks, 2);
  for (int layer = 0; layer < 2; ++layer) {
    for (int head = 0; head < 4; ++head) {
      auto* item = findItem(*tree, QStringLiteral("head %1.%2").arg(layer).arg(head));
      ASSERT_NE(item, nullptr) << "head " << layer << "." << head;
      EXPECT_EQ(item->checkState(0), Qt::Checked);
    }
  }
  EXPECT_EQ(findItem(*tree, QStringLiteral("head 0.4")), nullptr);
  auto* z = findItem(*tree, QStringLiteral("blocks.1.attn.hook_z"));
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->text(1), QStringLiteral("[batch, pos, 4, 16]"));
  // Attention-only model: no MLP hook points, and the tree says so.
  EXPECT_EQ(findItem(*tree, QStringLiteral("blocks.0.mlp.hook_post")), nullptr);
  EXPECT_EQ(
      tree->findItems(QStringLiteral("MLP: none"), Qt::MatchExactly | Qt::MatchRecursive).size(),
      2);
  // The first predictions for the example input arrive on their own.
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.predictions().size() == 5; }, kWaitMs));
}

TEST(MainWindow, UncheckingTheInductionHeadLowersAccuracy) {
  MainWindow window;
  waitUntilReady(window);
  const double baseline = *window.baselineAccuracy();
  EXPECT_GT(baseline, 0.8);
  EXPECT_DOUBLE_EQ(*window.maskedAccuracy(), baseline);

  auto* tree = window.findChild<QTreeWidget*>(QStringLiteral("modelTree"));
  auto* head = findItem(*tree, QStringLiteral("head 0.0"));
  ASSERT_NE(head, nullptr);
  QSignalSpy metrics(&window, &MainWindow::metricsUpdated);
  head->setCheckState(0, Qt::Unchecked);
  EXPECT_EQ(window.masks().size(), 1u);
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 1; }, kWaitMs));
  EXPECT_LT(*window.maskedAccuracy(), baseline - 0.3);
  EXPECT_DOUBLE_EQ(*window.baselineAccuracy(), baseline);

  head->setCheckState(0, Qt::Checked);
  EXPECT_TRUE(window.masks().empty());
  ASSERT_TRUE(QTest::qWaitFor([&]() { return metrics.count() >= 2; }, kWaitMs));
  EXPECT_DOUBLE_EQ(*window.maskedAccuracy(), baseline);
}

TEST(MainWindow, CorruptModelFolderShowsAnErrorAndTheWindowKeepsWorking) {
  MainWindow window;
  waitUntilReady(window);
  QTemporaryDir folder;
  ASSERT_TRUE(folder.isValid());
  QFile config(folder.filePath(QStringLiteral("config.json")));
  ASSERT_TRUE(config.open(QIODevice::WriteOnly));
  config.write("{ \"model_type\": \"gpt2\", \"n_layer\": ");
  config.close();

  QSignalSpy failed(&window, &MainWindow::modelLoadFailed);
  window.openModel(folder.path());
  ASSERT_TRUE(QTest::qWaitFor([&]() { return failed.count() == 1; }, kWaitMs));
  EXPECT_TRUE(failed.at(0).at(0).toString().contains(QStringLiteral("config.json")))
      << failed.at(0).at(0).toString().toStdString();
  auto* log = window.findChild<QPlainTextEdit*>(QStringLiteral("logView"));
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->toPlainText().contains(QStringLiteral("failed")));
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->isVisible());
  EXPECT_FALSE(box->isModal());

  // The built-in model is still loaded and answers a new input: a repeated random sequence,
  // whose continuation the induction heads predict.
  ASSERT_TRUE(window.hasModel());
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setInputIds(QStringLiteral("7, 42, 13, 58, 21, 3, 36, 50, 11, 29, 7, 42, 13, 58"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
  ASSERT_EQ(window.predictions().size(), 5u);
  EXPECT_EQ(window.predictions().front().token, 21);
  for (std::size_t i = 1; i < window.predictions().size(); ++i) {
    EXPECT_LE(window.predictions()[i].probability, window.predictions()[i - 1].probability);
  }
}

TEST(MainWindow, OutOfVocabularyInputIsAnErrorNotACrash) {
  MainWindow window;
  waitUntilReady(window);
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.setInputIds(QStringLiteral("1, 2, 64"));
  auto* log = window.findChild<QPlainTextEdit*>(QStringLiteral("logView"));
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return log->toPlainText().contains(QStringLiteral("outside the vocabulary")); },
      kWaitMs));
  window.setInputIds(QStringLiteral("1, 2, 3"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
  EXPECT_EQ(window.predictions().size(), 5u);
}

}  // namespace
}  // namespace cs::gui
