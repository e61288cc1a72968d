// The desktop application on a real X server (Xvfb): `circuitscope --screenshot FILE` opens the
// built-in model, and the PNG it saves shows a window, not a blank rectangle. The PNG stays in
// the build folder (tests/gui-screenshot.png) for a look.
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QImage>
#include <QProcess>
#include <QSet>
#include <QStandardPaths>

#include <gtest/gtest.h>

#include <algorithm>

namespace {

TEST(Screenshot, MainWindowUnderXvfbIsNotBlank) {
  const auto xvfbRun = QStandardPaths::findExecutable(QStringLiteral("xvfb-run"));
  if (xvfbRun.isEmpty()) GTEST_SKIP() << "xvfb-run is not installed (scripts/setup installs it)";
  const QString app = QStringLiteral(CS_GUI_EXECUTABLE);
  const QString png = QStringLiteral(CS_SCREENSHOT_PATH);
  QFile::remove(png);

  QProcess process;
  auto env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("xcb"));
  // The test's own settings folder, so that no saved layout or device changes the picture.
  env.insert(QStringLiteral("XDG_CONFIG_HOME"),
             QFileInfo(png).absolutePath() + QStringLiteral("/gui-screenshot-config"));
  process.setProcessEnvironment(env);
  process.start(xvfbRun, {QStringLiteral("-a"), QStringLiteral("-s"),
                          QStringLiteral("-screen 0 1600x1000x24"), app,
                          QStringLiteral("--screenshot"), png});
  ASSERT_TRUE(process.waitForFinished(180000)) << "circuitscope did not finish";
  ASSERT_EQ(process.exitCode(), 0) << process.readAllStandardError().toStdString();

  QImage image(png);
  ASSERT_FALSE(image.isNull()) << "no PNG at " << png.toStdString();
  EXPECT_GE(image.width(), 800);
  EXPECT_GE(image.height(), 500);
  // A real window has text, frames and a chart: many colours, and no colour covers it all.
  QHash<QRgb, int> counts;
  for (int y = 0; y < image.height(); y += 2) {
    for (int x = 0; x < image.width(); x += 2) ++counts[image.pixel(x, y)];
  }
  int largest = 0;
  int total = 0;
  for (const int c : counts) {
    largest = std::max(largest, c);
    total += c;
  }
  EXPECT_GT(counts.size(), 50);
  EXPECT_LT(largest, total * 9 / 10);
}

}  // namespace
