// The intervention stack (every change one undoable step) and the neuron-list syntax of the
// model tree's neuron dialog.
#include <QSignalSpy>
#include <QUndoStack>

#include <gtest/gtest.h>

#include "app/gui/intervention_stack.h"
#include "app/gui/model_tree.h"

namespace cs::gui {
namespace {

using hooks::AblationMode;
using hooks::MaskComponent;

TEST(InterventionStack, EachChangeIsOneStepThatUndoAndRedoReplay) {
  InterventionStack stack;
  QSignalSpy changed(&stack, &InterventionStack::masksChanged);
  stack.set({MaskComponent::Head, 0, 1, AblationMode::Zero});
  stack.set({MaskComponent::Head, 1, 2, AblationMode::Scale, 1.5});
  // Same target, another mode: replaces the entry, still one step.
  stack.set({MaskComponent::Head, 0, 1, AblationMode::Mean});
  ASSERT_EQ(stack.masks().size(), 2u);
  EXPECT_EQ(stack.masks().find(MaskComponent::Head, 0, 1)->mode, AblationMode::Mean);
  EXPECT_EQ(changed.count(), 3);
  EXPECT_EQ(stack.undoStack()->count(), 3);

  const auto afterThree = stack.masks();
  stack.undoStack()->undo();
  EXPECT_EQ(stack.masks().find(MaskComponent::Head, 0, 1)->mode, AblationMode::Zero);
  stack.undoStack()->undo();
  stack.undoStack()->undo();
  EXPECT_TRUE(stack.masks().empty());
  stack.undoStack()->redo();
  stack.undoStack()->redo();
  stack.undoStack()->redo();
  EXPECT_EQ(stack.masks(), afterThree);
  EXPECT_EQ(changed.count(), 9);
}

TEST(InterventionStack, NoOpChangesAddNoStep) {
  InterventionStack stack;
  stack.set({MaskComponent::Block, 1, -1, AblationMode::Zero});
  stack.set({MaskComponent::Block, 1, -1, AblationMode::Zero});
  stack.remove(MaskComponent::Head, 0, 0);  // nothing there
  EXPECT_EQ(stack.undoStack()->count(), 1);
  stack.clear();
  stack.clear();
  EXPECT_EQ(stack.undoStack()->count(), 2);
  EXPECT_TRUE(stack.masks().empty());
  EXPECT_EQ(stack.undoStack()->undoText(), QStringLiteral("restore everything"));
}

TEST(InterventionStack, ResetForgetsTheHistory) {
  InterventionStack stack;
  stack.set({MaskComponent::Neuron, 0, 17, AblationMode::Zero});
  stack.reset();
  EXPECT_TRUE(stack.masks().empty());
  EXPECT_FALSE(stack.undoStack()->canUndo());
}

TEST(InterventionStack, EntriesDescribeThemselves) {
  EXPECT_EQ(describeEntry({MaskComponent::Head, 2, 3, AblationMode::Mean}),
            QStringLiteral("head 2.3 mean"));
  EXPECT_EQ(describeEntry({MaskComponent::Head, 0, 1, AblationMode::Scale, 1.5}),
            QStringLiteral("head 0.1 scale x1.5"));
  EXPECT_EQ(describeEntry({MaskComponent::Block, 1, -1, AblationMode::Zero}),
            QStringLiteral("block 1 zero"));
}

TEST(NeuronList, IndicesAndInclusiveRanges) {
  QString error;
  const auto n = parseNeuronList(QStringLiteral("3, 10-12 40"), 64, error);
  ASSERT_TRUE(n.has_value()) << error.toStdString();
  EXPECT_EQ(*n, (std::vector<int>{3, 10, 11, 12, 40}));
}

TEST(NeuronList, BadPiecesAndOutOfRangeAreNamed) {
  for (const auto& [text, expected] :
       {std::pair{QStringLiteral("3, x"), QStringLiteral("'x'")},
        std::pair{QStringLiteral("12-10"), QStringLiteral("'12-10'")},
        std::pair{QStringLiteral("-3"), QStringLiteral("'-3'")},
        std::pair{QStringLiteral("5, 64"), QStringLiteral("outside this MLP's 0..63")},
        std::pair{QStringLiteral("  "), QStringLiteral("give neuron indices")}}) {
    QString error;
    EXPECT_FALSE(parseNeuronList(text, 64, error).has_value()) << text.toStdString();
    EXPECT_TRUE(error.contains(expected)) << error.toStdString();
  }
}

}  // namespace
}  // namespace cs::gui
