// The image input of image models (builtin:digits-vit): the evaluation-row selector and File >
// Open image, the chosen image with its patch grid and top classes, the analyses that read it,
// files that do not fit, and language models, which have no image selector. What the window
// shows is checked against a second ModelSession opened by the test.
#include <QAction>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "app/gui/demo_preset.h"
#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"
#include "core/error.h"
#include "viewers/image_attribution_view.h"

namespace cs::gui {
namespace {

// Loading and one analysis take a second or two; the margin is for a loaded machine.
constexpr int kWaitMs = 60000;
constexpr int kTop = 5;
constexpr int kSide = 8;  // the digits' images are 8x8

void waitUntilReady(MainWindow& window) {
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.hasModel(); }, kWaitMs));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return window.baselineAccuracy().has_value(); }, kWaitMs));
}

void waitForImage(MainWindow& window, const std::function<bool(const ImageInput&)>& done) {
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return window.currentImage().has_value() && done(*window.currentImage()); },
      kWaitMs));
}

std::function<bool(const ImageInput&)> row(std::int64_t r) {
  return [r](const ImageInput& image) { return image.row == r && image.file.empty(); };
}

std::function<bool(const ImageInput&)> file(const QString& path) {
  return [path](const ImageInput& image) { return image.file == path.toStdString(); };
}

// The window with digits-vit loaded and its first image shown.
void openDigits(MainWindow& window) {
  waitUntilReady(window);
  waitForImage(window, row(0));
}

std::unique_ptr<ModelSession> digitsSession() {
  Progress progress;
  return ModelSession::open("builtin:digits-vit", progress);
}

QString logText(MainWindow& window) {
  return window.findChild<QPlainTextEdit*>(QStringLiteral("logView"))->toPlainText();
}

QString errorText(MainWindow& window) {
  auto* box = window.findChild<QMessageBox*>(QStringLiteral("errorBox"));
  return box ? box->text() : QString();
}

void expectSamePredictions(const std::vector<Prediction>& shown,
                           const std::vector<Prediction>& expected, double tolerance) {
  ASSERT_EQ(shown.size(), expected.size());
  for (std::size_t i = 0; i < shown.size(); ++i) {
    EXPECT_EQ(shown[i].token, expected[i].token) << "rank " << i;
    EXPECT_NEAR(shown[i].probability, expected[i].probability, tolerance) << "rank " << i;
  }
}

QImage preview(MainWindow& window) {
  return window.findChild<QLabel*>(QStringLiteral("imagePreview"))->pixmap().toImage();
}

// The preview's colour in the middle of image pixel (x, y).
QColor previewColour(const QImage& shown, int x, int y) {
  const int factor = shown.width() / kSide;
  return shown.pixelColor(x * factor + factor / 2, y * factor + factor / 2);
}

// One grey image [1, 8, 8] (values in [0, 1]) as 8-bit grey levels, scaled up `scale` times.
QImage greyImage(const std::vector<float>& pixels, int scale) {
  QImage image(kSide * scale, kSide * scale, QImage::Format_Grayscale8);
  for (int y = 0; y < image.height(); ++y) {
    auto* line = image.scanLine(y);
    for (int x = 0; x < image.width(); ++x) {
      const float v = pixels[static_cast<std::size_t>((y / scale) * kSide + x / scale)];
      line[x] = static_cast<uchar>(std::lround(v * 255.0));
    }
  }
  return image;
}

// A binary PPM written by hand, as a script would.
void writePpm(const QString& path, const std::vector<float>& pixels) {
  QByteArray bytes("P6\n# a digit\n8 8\n255\n");
  for (const float v : pixels) {
    const char grey = static_cast<char>(std::lround(v * 255.0));
    bytes.append(grey).append(grey).append(grey);
  }
  QFile out(path);
  ASSERT_TRUE(out.open(QIODevice::WriteOnly));
  out.write(bytes);
}

void writeBytes(const QString& path, const QByteArray& bytes) {
  QFile out(path);
  ASSERT_TRUE(out.open(QIODevice::WriteOnly));
  out.write(bytes);
}

// A row whose top class differs from row 0's, so that choosing it must change the display.
std::int64_t rowWithAnotherClass(ModelSession& session) {
  Progress progress;
  const auto first = session.chooseImageRow(0, {}, kTop, progress).predictions.at(0).token;
  for (std::int64_t r = 1; r < 50; ++r) {
    if (session.chooseImageRow(r, {}, kTop, progress).predictions.at(0).token != first) return r;
  }
  return -1;
}

TEST(ImageInput, ChoosingARowShowsItWithItsPatchGridAndTopClasses) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  openDigits(window);
  auto session = digitsSession();
  Progress progress;
  const auto k = rowWithAnotherClass(*session);
  ASSERT_GT(k, 0);
  const auto expected = session->chooseImageRow(k, {}, kTop, progress);
  const auto before = preview(window);

  auto* spin = window.findChild<QSpinBox*>(QStringLiteral("imageRowSpin"));
  ASSERT_NE(spin, nullptr);
  EXPECT_EQ(spin->maximum(), 359);  // the digits test split has 360 images
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  spin->setValue(static_cast<int>(k));  // as a user would
  waitForImage(window, row(k));
  EXPECT_GE(predicted.count(), 1);

  expectSamePredictions(window.predictions(), expected.predictions, 1e-9);
  auto* list = window.findChild<QTreeWidget*>(QStringLiteral("predictionList"));
  ASSERT_EQ(list->topLevelItemCount(), kTop);
  EXPECT_EQ(list->topLevelItem(0)->text(0), QString::fromStdString(expected.classNames[0]));
  EXPECT_EQ(list->topLevelItem(0)->text(1),
            QString::number(expected.predictions[0].probability, 'f', 4));
  EXPECT_EQ(list->headerItem()->text(0), QStringLiteral("Class"));
  const auto caption = window.findChild<QLabel*>(QStringLiteral("imageCaption"))->text();
  EXPECT_TRUE(caption.contains(QStringLiteral("row %1 of digits").arg(k))) << caption.toStdString();
  EXPECT_TRUE(caption.contains(QStringLiteral("patches of 2x2"))) << caption.toStdString();

  // Every pixel's middle has the row's colour; the row differs from row 0.
  const auto shown = preview(window);
  ASSERT_EQ(shown.width(), shown.height());
  ASSERT_GE(shown.width() / kSide, 4);
  EXPECT_NE(shown, before);
  ASSERT_EQ(expected.rgb.size(), static_cast<std::size_t>(kSide * kSide * 3));
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      const auto* p = &expected.rgb[static_cast<std::size_t>((y * kSide + x) * 3)];
      EXPECT_EQ(previewColour(shown, x, y), QColor(p[0], p[1], p[2])) << x << ", " << y;
    }
  }
  // The patch grid (2x2 pixels): a line where patch column 1 starts, none inside patch 0.
  const int factor = shown.width() / kSide;
  const QColor line(255, 140, 0);
  EXPECT_EQ(shown.pixelColor(2 * factor, factor / 2), line);
  EXPECT_EQ(shown.pixelColor(factor / 2, 2 * factor), line);
  EXPECT_NE(shown.pixelColor(1 * factor, factor / 2), line);
}

TEST(ImageInput, AnalysesReadTheChosenRowThroughMaskChangesUntilTheDatasetChanges) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  openDigits(window);
  auto session = digitsSession();
  Progress progress;
  constexpr std::int64_t k = 5;
  const auto first = session->relevance({}, {}, progress);  // row 0
  session->chooseImageRow(k, {}, kTop, progress);
  const auto expected = session->relevance({}, {}, progress);

  window.setImageRow(k);
  QSignalSpy relevanceShown(&window, &MainWindow::relevanceShown);
  window.runRelevance();  // started before the row arrives: it still reads row k
  ASSERT_TRUE(QTest::qWaitFor([&]() { return relevanceShown.count() == 1; }, kWaitMs));
  auto* image =
      window.findChild<viewers::ImageAttributionView*>(QStringLiteral("relevanceInputView"));
  ASSERT_NE(image, nullptr);
  const auto& shown = image->data();
  ASSERT_EQ(shown.scores.rows(), kSide);
  ASSERT_EQ(expected.pixelScores.rows(), kSide);
  EXPECT_LT((shown.scores - expected.pixelScores).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_GT((shown.scores - first.pixelScores).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_EQ(shown.image,
            QImage(expected.rgb.data(), kSide, kSide, 3 * kSide, QImage::Format_RGB888));
  EXPECT_NE(expected.rgb, first.rgb);

  // A mask change keeps the image; integrated gradients under the mask read row k too.
  QSignalSpy predicted(&window, &MainWindow::predictionsUpdated);
  window.interventions().set({hooks::MaskComponent::Head, 0, 1});
  ASSERT_TRUE(QTest::qWaitFor([&]() { return predicted.count() >= 1; }, kWaitMs));
  waitForImage(window, row(k));
  EXPECT_EQ(window.findChild<QSpinBox*>(QStringLiteral("imageRowSpin"))->value(), k);
  const auto maskedTop = session->chooseImageRow(k, window.masks(), kTop, progress);
  expectSamePredictions(window.predictions(), maskedTop.predictions, 1e-9);
  const auto ig = session->integratedGradients({}, window.masks(), progress);
  QSignalSpy attributed(&window, &MainWindow::attributionShown);
  window.runIntegratedGradients();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return attributed.count() == 1; }, kWaitMs));
  auto* overlay =
      window.findChild<viewers::ImageAttributionView*>(QStringLiteral("attributionView"));
  ASSERT_NE(overlay, nullptr);
  EXPECT_LT((overlay->data().scores - ig.pixelScores).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_NE(overlay->data().title.find("on row 5"), std::string::npos) << overlay->data().title;

  // Another evaluation set starts again from its row 0.
  window.openDataset(QStringLiteral("digits-train"));
  waitForImage(window, [](const ImageInput& image) {
    return image.row == 0 && image.source.find("train split") != std::string::npos;
  });
  session->setDataset("digits-train", progress);
  const auto train = session->chooseImageRow(0, window.masks(), kTop, progress);
  EXPECT_EQ(window.currentImage()->pixels, train.pixels);
  auto* spin = window.findChild<QSpinBox*>(QStringLiteral("imageRowSpin"));
  EXPECT_EQ(spin->value(), 0);
  EXPECT_EQ(spin->maximum(), train.rows - 1);
}

TEST(ImageInput, AnOpenedFileReadsAsTheRowItWasWrittenFrom) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  openDigits(window);
  auto session = digitsSession();
  Progress progress;
  const auto expected = session->chooseImageRow(7, {}, kTop, progress);
  ASSERT_EQ(expected.channels, 1);
  QTemporaryDir dir;
  const auto ppm = dir.filePath(QStringLiteral("digit.ppm"));
  writePpm(ppm, expected.pixels);
  // Four times larger: shrunk by 4x4 blocks, as the set's images were made.
  const auto png = dir.filePath(QStringLiteral("digit-32.png"));
  ASSERT_TRUE(greyImage(expected.pixels, 4).save(png, "PNG"));

  window.openImage(ppm);
  waitForImage(window, file(ppm));
  EXPECT_EQ(window.currentImage()->pixels, expected.pixels);
  EXPECT_EQ(window.currentImage()->row, -1);
  expectSamePredictions(window.predictions(), expected.predictions, 1e-9);
  const auto caption = window.findChild<QLabel*>(QStringLiteral("imageCaption"))->text();
  EXPECT_TRUE(caption.contains(QStringLiteral("digit.ppm"))) << caption.toStdString();
  // The analyses read the file.
  QSignalSpy dla(&window, &MainWindow::logitAttributionShown);
  window.runLogitAttribution();
  ASSERT_TRUE(QTest::qWaitFor([&]() { return dla.count() == 1; }, kWaitMs));
  EXPECT_TRUE(logText(window).contains(QStringLiteral("image: %1").arg(ppm)));
  EXPECT_EQ(session->openImageFile(ppm.toStdString(), {}, kTop, progress).pixels, expected.pixels);
  const auto fileDla = session->logitAttribution({}, {}, progress);
  EXPECT_NE(fileDla.title.find("on digit.ppm"), std::string::npos) << fileDla.title;

  window.openImage(png);
  waitForImage(window, file(png));
  EXPECT_EQ(window.currentImage()->pixels, expected.pixels);
  expectSamePredictions(window.predictions(), expected.predictions, 1e-9);
  // Back to the set: the selector is still there.
  window.setImageRow(2);
  waitForImage(window, row(2));
}

TEST(ImageInput, FilesAndRowsThatDoNotFitAreErrorsAndTheWindowKeepsWorking) {
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  openDigits(window);
  window.setImageRow(4);
  waitForImage(window, row(4));
  QTemporaryDir dir;

  const auto corrupt = dir.filePath(QStringLiteral("corrupt.png"));
  writeBytes(corrupt, QByteArray("this is not an image"));
  window.openImage(corrupt);
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return errorText(window).contains(QStringLiteral("not a readable PNG")); }, kWaitMs));
  EXPECT_TRUE(errorText(window).contains(corrupt));

  const auto truncated = dir.filePath(QStringLiteral("truncated.ppm"));
  writeBytes(truncated, QByteArray("P6\n8 8\n255\n") + QByteArray(10, '\x7f'));
  window.openImage(truncated);
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return errorText(window).contains(QStringLiteral("truncated")); }, kWaitMs));

  const auto oblong = dir.filePath(QStringLiteral("oblong.png"));
  QImage wide(12, 8, QImage::Format_Grayscale8);
  wide.fill(Qt::black);
  ASSERT_TRUE(wide.save(oblong, "PNG"));
  window.openImage(oblong);
  ASSERT_TRUE(QTest::qWaitFor(
      [&]() { return errorText(window).contains(QStringLiteral("crop it to a square")); },
      kWaitMs));
  EXPECT_TRUE(errorText(window).contains(QStringLiteral("12x8")))
      << errorText(window).toStdString();
  EXPECT_TRUE(errorText(window).contains(oblong));

  window.setImageRow(100000);
  EXPECT_TRUE(errorText(window).contains(QStringLiteral("choose a row from 0 to 359")))
      << errorText(window).toStdString();
  EXPECT_EQ(window.findChild<QSpinBox*>(QStringLiteral("imageRowSpin"))->value(), 4);

  // Nothing above replaced the image, and the window goes on.
  EXPECT_TRUE(row(4)(*window.currentImage()));
  window.setImageRow(9);
  waitForImage(window, row(9));
}

TEST(ImageInput, TheSessionRefusesWhatItCannotReadAndKeepsItsImage) {
  auto session = digitsSession();
  Progress progress;
  session->chooseImageRow(3, {}, kTop, progress);
  try {
    session->chooseImageRow(360, {}, kTop, progress);
    ADD_FAILURE() << "row 360 of 360 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("outside the evaluation set"), std::string::npos)
        << e.what();
  }
  QTemporaryDir dir;
  const auto small = dir.filePath(QStringLiteral("small.png"));
  QImage tiny(4, 4, QImage::Format_Grayscale8);
  tiny.fill(Qt::white);
  ASSERT_TRUE(tiny.save(small, "PNG"));
  try {
    session->openImageFile(small.toStdString(), {}, kTop, progress);
    ADD_FAILURE() << "a 4x4 image was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 8x8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(session->openImageFile(dir.filePath(QStringLiteral("missing.png")).toStdString(), {},
                                      kTop, progress),
               IoError);
  const auto current = session->imageInput({}, kTop, progress);
  EXPECT_EQ(current.row, 3);
  EXPECT_EQ(current.pixels, session->chooseImageRow(3, {}, kTop, progress).pixels);
}

TEST(ImageInput, TheDigitsDemoShowsItsDatasetRow) {
  const auto catalog = listDemoPresets();
  const auto preset = std::find_if(catalog.presets.begin(), catalog.presets.end(),
                                   [](const DemoPreset& p) { return p.id == "digits-vit"; });
  ASSERT_NE(preset, catalog.presets.end());
  MainWindow window(QStringLiteral("builtin:digits-vit"));
  openDigits(window);
  window.openDemo(*preset);
  QSignalSpy finished(&window, &MainWindow::demoStepFinished);
  window.runDemoStep(0);  // loads the model again, then row 3: a handwritten 5
  ASSERT_TRUE(QTest::qWaitFor([&]() { return finished.count() == 1; }, kWaitMs));
  ASSERT_TRUE(row(3)(*window.currentImage()));
  EXPECT_EQ(window.currentImage()->label, "5");
  EXPECT_EQ(window.currentImage()->classNames.at(0), "5");
}

TEST(ImageInput, LanguageModelsHaveNoImageSelector) {
  MainWindow window;  // builtin:induction
  waitUntilReady(window);
  auto* input = window.findChild<QWidget*>(QStringLiteral("imageInput"));
  auto* open = window.findChild<QAction*>(QStringLiteral("openImageAction"));
  auto* ids = window.findChild<QLineEdit*>(QStringLiteral("idsEdit"));
  ASSERT_NE(input, nullptr);
  ASSERT_NE(open, nullptr);
  EXPECT_TRUE(input->isHidden());
  EXPECT_FALSE(open->isEnabled());
  EXPECT_FALSE(ids->isHidden());
  EXPECT_FALSE(window.currentImage().has_value());
  window.setImageRow(1);
  EXPECT_TRUE(errorText(window).contains(QStringLiteral("reads tokens, not images")));

  // An image model brings the selector and its menu entry, and hides the token ids.
  QSignalSpy loaded(&window, &MainWindow::modelLoaded);
  window.openModel(QStringLiteral("builtin:digits-vit"));
  ASSERT_TRUE(QTest::qWaitFor([&]() { return loaded.count() == 1; }, kWaitMs));
  waitForImage(window, row(0));
  EXPECT_FALSE(input->isHidden());
  EXPECT_TRUE(open->isEnabled());
  EXPECT_TRUE(ids->isHidden());
}

}  // namespace
}  // namespace cs::gui
