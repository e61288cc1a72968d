// circuitscope: the desktop application. `circuitscope [MODEL] [--screenshot FILE.png]` opens
// MODEL (a Hugging Face model folder or builtin:NAME), by default the built-in induction model.
// With --screenshot it waits until the model's metrics and first latency measurement are shown,
// saves the window as a PNG and exits (0 when written): the screenshot test runs it under Xvfb.
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>

#include "app/gui/main_window.h"

int main(int argc, char** argv) {
  QApplication application(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("circuitscope"));
  QApplication::setApplicationName(QStringLiteral("circuitscope"));
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("circuitscope: look inside a neural network"));
  parser.addHelpOption();
  parser.addPositionalArgument(QStringLiteral("model"),
                               QStringLiteral("model folder or builtin:NAME (default "
                                              "builtin:induction)"));
  const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                      QStringLiteral("save the window as FILE.png and exit"),
                                      QStringLiteral("FILE"));
  parser.addOption(screenshot);
  parser.process(application);
  const auto positional = parser.positionalArguments();
  cs::gui::MainWindow window(positional.isEmpty() ? QStringLiteral("builtin:induction")
                                                  : positional.front());
  window.show();
  if (parser.isSet(screenshot)) {
    const auto path = parser.value(screenshot);
    QObject::connect(&window, &cs::gui::MainWindow::pruningMeasured, &window, [&window, path]() {
      const bool saved = window.grab().save(path, "PNG");
      if (!saved) std::fprintf(stderr, "circuitscope: cannot write %s\n", qPrintable(path));
      QApplication::exit(saved ? 0 : 1);
    });
    QObject::connect(&window, &cs::gui::MainWindow::modelLoadFailed, &window,
                     [](const QString& message) {
                       std::fprintf(stderr, "circuitscope: %s\n", qPrintable(message));
                       QApplication::exit(1);
                     });
    QTimer::singleShot(120000, &window, []() {
      std::fprintf(stderr, "circuitscope: no screenshot within two minutes\n");
      QApplication::exit(2);
    });
  }
  return QApplication::exec();
}
