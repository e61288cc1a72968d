// circuitscope: the desktop application. `circuitscope [MODEL]` opens MODEL (a Hugging Face
// model folder or builtin:NAME), by default the built-in induction model.
#include <QApplication>

#include "app/gui/main_window.h"

int main(int argc, char** argv) {
  QApplication application(argc, argv);
  QApplication::setApplicationName(QStringLiteral("circuitscope"));
  const auto arguments = QApplication::arguments();
  cs::gui::MainWindow window(arguments.size() > 1 ? arguments.at(1)
                                                  : QStringLiteral("builtin:induction"));
  window.show();
  return QApplication::exec();
}
