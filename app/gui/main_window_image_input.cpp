// The Input panel of image models: which image the analyses of one example read (a row of the
// evaluation set, or a file from File > Open image), shown with the model's patch grid and its
// top classes. Choosing runs as a job that is never cancelled, so an analysis started after a
// choice always reads the chosen image (jobs run in start order).
#include <QAction>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPainter>
#include <QPixmap>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>

#include "app/gui/main_window.h"

namespace cs::gui {

namespace {

constexpr int kTopClasses = 5;
// Small images are scaled up to about this many screen pixels a side.
constexpr int kPreviewSide = 160;

// The image scaled up by a whole factor without smoothing (an 8x8 digit keeps its pixels), with
// the patch boundaries drawn on the first screen pixel of each patch, so that every pixel's
// middle keeps its colour.
QPixmap withPatchGrid(const QImage& image, int patch) {
  const int factor = std::max(1, kPreviewSide / std::max(image.width(), image.height()));
  QImage scaled = image.scaled(image.size() * factor, Qt::IgnoreAspectRatio, Qt::FastTransformation)
                      .convertToFormat(QImage::Format_RGB32);
  if (patch > 0) {
    QPainter painter(&scaled);
    painter.setPen(QPen(QColor(255, 140, 0), 1));
    for (int x = patch; x < image.width(); x += patch) {
      painter.drawLine(x * factor, 0, x * factor, scaled.height() - 1);
    }
    for (int y = patch; y < image.height(); y += patch) {
      painter.drawLine(0, y * factor, scaled.width() - 1, y * factor);
    }
  }
  return QPixmap::fromImage(scaled);
}

}  // namespace

QWidget* MainWindow::buildImageInput() {
  m_imageInput = new QWidget;
  m_imageInput->setObjectName(QStringLiteral("imageInput"));
  auto* layout = new QVBoxLayout(m_imageInput);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* chooser = new QHBoxLayout;
  chooser->addWidget(new QLabel(tr("Image: evaluation row")));
  m_imageRowSpin = new QSpinBox;
  m_imageRowSpin->setObjectName(QStringLiteral("imageRowSpin"));
  // Typing "123" asks for row 123 once, not for rows 1, 12 and 123.
  m_imageRowSpin->setKeyboardTracking(false);
  m_imageRowSpin->setEnabled(false);
  chooser->addWidget(m_imageRowSpin);
  m_imageRows = new QLabel;
  m_imageRows->setObjectName(QStringLiteral("imageRows"));
  chooser->addWidget(m_imageRows);
  auto* open = new QPushButton(tr("Open image..."));
  open->setObjectName(QStringLiteral("openImageButton"));
  chooser->addWidget(open);
  chooser->addStretch(1);
  layout->addLayout(chooser);
  m_imageView = new QLabel;
  m_imageView->setObjectName(QStringLiteral("imagePreview"));
  m_imageView->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  layout->addWidget(m_imageView);
  m_imageCaption = new QLabel;
  m_imageCaption->setObjectName(QStringLiteral("imageCaption"));
  m_imageCaption->setWordWrap(true);
  layout->addWidget(m_imageCaption);
  m_imageInput->hide();

  connect(m_imageRowSpin, &QSpinBox::valueChanged, this,
          [this](int row) { setImageRow(static_cast<std::int64_t>(row)); });
  connect(open, &QPushButton::clicked, this, [this]() {
    if (m_openImageAction) m_openImageAction->trigger();
  });
  // A refused choice leaves the selector on the image still in use.
  connect(&m_runner, &JobRunner::jobEnded, this, [this](int id, JobState state, const QString&) {
    if (id != m_imageJob || state == JobState::Finished) return;
    const QSignalBlocker block(m_imageRowSpin);
    if (m_image && m_image->row >= 0) m_imageRowSpin->setValue(static_cast<int>(m_image->row));
  });
  return m_imageInput;
}

void MainWindow::addOpenImageAction(QMenu* file) {
  m_openImageAction = file->addAction(tr("Open image..."), this, [this]() {
    const auto path =
        QFileDialog::getOpenFileName(this, tr("Open image"), QString(),
                                     tr("Images (*.png *.jpg *.jpeg *.ppm *.pgm);;All files (*)"));
    if (!path.isEmpty()) openImage(path);
  });
  m_openImageAction->setObjectName(QStringLiteral("openImageAction"));
  m_openImageAction->setToolTip(tr("An image file as the input of an image model"));
  m_openImageAction->setEnabled(false);
}

void MainWindow::showInputKind() {
  const bool image = m_session->isImageModel();
  m_idsLabel->setVisible(!image);
  m_idsEdit->setVisible(!image);
  m_imageInput->setVisible(image);
  m_openImageAction->setEnabled(image);
  m_predictionTitle->setText(image ? tr("Top classes of the image")
                                   : tr("Top next tokens at the last position"));
  m_predictionList->setHeaderLabels({image ? tr("Class") : tr("Token"), tr("Probability")});
  m_predictionList->clear();
  m_predictions.clear();
  // A new model starts from row 0 of its own set.
  m_image.reset();
  m_imageView->clear();
  m_imageRows->clear();
  m_imageCaption->clear();
  const QSignalBlocker block(m_imageRowSpin);
  m_imageRowSpin->setRange(0, 0);
  m_imageRowSpin->setEnabled(false);
}

void MainWindow::refreshImage() {
  if (!m_session || !m_session->isImageModel()) return;
  const bool file = m_image && m_image->row < 0;
  if (!file && !m_session->hasDataset()) {
    m_imageCaption->setText(
        tr("No image yet: open an evaluation set (File > Open dataset) or an image file (File > "
           "Open image)."));
    return;
  }
  m_runner.cancel(m_predictJob);
  auto session = m_session;
  m_predictJob = m_runner.start<ImageInput>(
      tr("classify the image"),
      [session, masks = masks()](Progress& progress) {
        return session->imageInput(masks, kTopClasses, progress);
      },
      [this](ImageInput image) { showImage(std::move(image)); });
}

void MainWindow::setImageRow(std::int64_t row) {
  if (!m_session) return;
  // Refused here, the choice never becomes a job: a demo waiting for it must stop too.
  const auto refuse = [this](const QString& message) {
    const QSignalBlocker block(m_imageRowSpin);
    if (m_image && m_image->row >= 0) m_imageRowSpin->setValue(static_cast<int>(m_image->row));
    if (m_demoRunning) {
      stopDemo();
      log(tr("the demo step stopped"));
    }
    log(message);
    showError(message);
  };
  const auto source = QString::fromStdString(m_session->summary().source);
  if (!m_session->isImageModel()) {
    refuse(tr("%1 reads tokens, not images: type token ids instead.").arg(source));
    return;
  }
  if (!m_session->hasDataset()) {
    refuse(tr("%1 has no evaluation set to take row %2 from: open one with File > Open dataset "
              "(e.g. digits-test), or open an image file with File > Open image.")
               .arg(source)
               .arg(row));
    return;
  }
  if (m_image && m_image->rows > 0 && (row < 0 || row >= m_image->rows)) {
    refuse(tr("Row %1 is outside the evaluation set (%2 rows): choose a row from 0 to %3.")
               .arg(row)
               .arg(m_image->rows)
               .arg(m_image->rows - 1));
    return;
  }
  auto session = m_session;
  m_imageJob = m_runner.start<ImageInput>(
      tr("image row %1").arg(row),
      [session, row, masks = masks()](Progress& progress) {
        return session->chooseImageRow(row, masks, kTopClasses, progress);
      },
      [this](ImageInput image) {
        log(tr("image: %1").arg(QString::fromStdString(image.source)));
        showImage(std::move(image));
      });
}

void MainWindow::openImage(const QString& path) {
  if (!m_session) return;
  auto session = m_session;
  m_imageJob = m_runner.start<ImageInput>(
      tr("open image %1").arg(path),
      [session, file = path.toStdString(), masks = masks()](Progress& progress) {
        return session->openImageFile(file, masks, kTopClasses, progress);
      },
      [this](ImageInput image) {
        log(tr("image: %1").arg(QString::fromStdString(image.source)));
        showImage(std::move(image));
      });
}

void MainWindow::showImage(ImageInput image) {
  {
    const QSignalBlocker block(m_imageRowSpin);
    m_imageRowSpin->setRange(0, static_cast<int>(std::max<std::int64_t>(0, image.rows - 1)));
    if (image.row >= 0) m_imageRowSpin->setValue(static_cast<int>(image.row));
    m_imageRowSpin->setEnabled(image.rows > 0);
  }
  m_imageRows->setText(image.rows > 0 ? tr("of %1").arg(image.rows) : tr("(no evaluation set)"));
  const QImage picture(image.rgb.data(), image.imageWidth, image.imageHeight, 3 * image.imageWidth,
                       QImage::Format_RGB888);
  m_imageView->setPixmap(withPatchGrid(picture, image.patchSize));
  QString caption = image.row >= 0 ? QString::fromStdString(image.source)
                                   : tr("File %1").arg(QString::fromStdString(image.file));
  if (!image.label.empty()) caption += tr(", labelled %1").arg(QString::fromStdString(image.label));
  if (image.patchSize > 0) {
    caption += tr("; %1x%2 pixels in patches of %3x%3")
                   .arg(image.imageWidth)
                   .arg(image.imageHeight)
                   .arg(image.patchSize);
  }
  m_imageCaption->setText(caption);

  m_predictionList->clear();
  for (std::size_t i = 0; i < image.predictions.size(); ++i) {
    const auto& p = image.predictions[i];
    auto* item = new QTreeWidgetItem(m_predictionList, {QString::fromStdString(image.classNames[i]),
                                                        QString::number(p.probability, 'f', 4)});
    item->setToolTip(0, tr("class %1").arg(p.token));
  }
  m_predictions = image.predictions;
  m_image = std::move(image);
  Q_EMIT imageShown();
  Q_EMIT predictionsUpdated();
}

}  // namespace cs::gui
