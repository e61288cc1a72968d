// report.html and its figures. Figures are the viewers' own widgets rendered offscreen, so the
// report shows exactly what the GUI shows; the page is one file with inline CSS that references
// the PNGs beside it.
#include "app/report/demo_report.h"

#include <unistd.h>
#include <QApplication>
#include <QSize>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "viewers/chart_view.h"
#include "viewers/heatmap_view.h"
#include "viewers/render.h"

namespace cs::report {

namespace {
namespace fs = std::filesystem;

// The widgets need a QApplication; the command line has none, so one is made here, offscreen.
void ensureApplication() {
  if (QApplication::instance()) return;
  qputenv("QT_QPA_PLATFORM", "offscreen");
  // Qt warns on stderr without a runtime folder; a private one under the temp folder will do.
  if (qEnvironmentVariableIsEmpty("XDG_RUNTIME_DIR")) {
    const auto runtime =
        fs::temp_directory_path() / ("circuitscope-runtime-" + std::to_string(::getuid()));
    std::error_code ec;
    fs::create_directories(runtime, ec);
    fs::permissions(runtime, fs::perms::owner_all, ec);
    if (!ec) qputenv("XDG_RUNTIME_DIR", QByteArray::fromStdString(runtime.string()));
  }
  static int argc = 1;
  static char name[] = "circuitscope";
  static char* argv[] = {name, nullptr};
  static auto app = std::make_unique<QApplication>(argc, argv);
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string number(double value, int decimals = 4) {
  if (!std::isfinite(value)) return "–";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// Largest differences span many orders of magnitude (0, 1e-7, 0.3): significant digits, not
// fixed decimals that would print 1e-9 as 0.00000000.
std::string differenceNumber(double value) {
  if (!std::isfinite(value)) return "–";
  char text[64];
  std::snprintf(text, sizeof text, "%.2g", value);
  return text;
}

std::string signedNumber(double value, int decimals = 4) {
  char text[64];
  std::snprintf(text, sizeof text, "%+.*f", decimals, value);
  return text;
}

std::string headName(int layer, int head) {
  return std::to_string(layer) + "." + std::to_string(head);
}

void renderHeatmap(const viewers::HeatmapData& data, const fs::path& file, QSize size) {
  viewers::HeatmapView view;
  view.setData(data);
  viewers::renderToPng(view, file, size);
}

// Figures --------------------------------------------------------------------------------------

std::string headAblationFigure(const DemoReport& r, const fs::path& folder) {
  viewers::HeatmapData d;
  d.values = r.headAblation.accuracy;
  d.rowTitle = "layer";
  d.columnTitle = "head";
  d.title = "Induction accuracy with one head removed (baseline " +
            number(r.headAblation.baseline.accuracy, 3) + ")";
  d.scale = viewers::ScaleKind::Sequential;
  d.min = 0.0;
  d.max = 1.0;
  d.annotate = true;
  const std::string file = "head-ablation.png";
  renderHeatmap(d, folder / file, QSize(640, 360));
  return file;
}

std::string patternFigure(const DemoReport& r, const fs::path& folder) {
  viewers::HeatmapData d;
  d.values = r.pattern;
  d.rowLabels = r.patternTokens;
  d.columnLabels = r.patternTokens;
  d.rowTitle = "query token";
  d.columnTitle = "key token";
  d.title =
      "Attention of head " + headName(r.patternLayer, r.patternHead) + " on a repeated sequence";
  d.scale = viewers::ScaleKind::Sequential;
  d.min = 0.0;
  d.max = 1.0;
  const std::string file = "attention-pattern.png";
  renderHeatmap(d, folder / file, QSize(760, 720));
  return file;
}

std::string latencyFigure(const DemoReport& r, const fs::path& folder) {
  viewers::ChartData d;
  d.kind = viewers::ChartKind::Bar;
  d.title = "Latency of the induction model, batch of " +
            std::to_string(r.hurtful.pruning.variants.front().latency.batch);
  d.xTitle = "model";
  d.yTitle = "median ms per batch";
  for (const auto* e : {&r.hurtful, &r.harmless}) {
    viewers::ChartSeries s;
    s.name = "head " + headName(e->layer, e->head) + " removed";
    for (const auto& v : e->pruning.variants) {
      if (e == &r.hurtful) d.categories.push_back(v.name);
      s.values.push_back(v.present ? v.latency.medianMs : std::nan(""));
    }
    d.series.push_back(std::move(s));
  }
  viewers::ChartView view;
  view.setData(d);
  const std::string file = "latency.png";
  viewers::renderToPng(view, folder / file, QSize(640, 400));
  return file;
}

// Page -----------------------------------------------------------------------------------------

void modelsTable(std::ostream& html, const DemoReport& r) {
  html << "<table><tr><th>model</th><th>test set</th><th>accuracy</th><th>stated</th>"
          "<th>mean loss</th><th>median ms</th><th>p10–p90 ms</th><th>throughput</th>"
          "<th>parameters</th><th>MFLOP / example</th></tr>\n";
  for (const auto& m : r.models) {
    const auto& l = m.latency;
    html << "<tr><td><b>" << escape(m.name) << "</b><br><small>" << escape(m.description)
         << "</small></td><td>" << escape(m.eval.dataset) << "</td><td>" << number(m.eval.accuracy)
         << "</td><td>" << number(m.manifestTestAccuracy) << "</td><td>" << number(m.eval.meanLoss)
         << "</td><td>" << number(l.medianMs, 3) << "</td><td>" << number(l.p10Ms, 3) << "–"
         << number(l.p90Ms, 3) << "</td><td>" << number(l.itemsPerSecond, 0) << " "
         << escape(l.itemUnit) << "/s</td><td>" << l.parameters << "</td><td>"
         << number(l.flopsPerExample / 1e6, 3) << "</td></tr>\n";
  }
  html << "</table>\n";
}

void pruningTable(std::ostream& html, const HeadExperiment& e) {
  const auto& full = e.pruning.variants.front();
  html << "<h3>Head " << headName(e.layer, e.head) << " removed</h3>\n"
       << "<p>Mask file: <a href=\"" << escape(e.maskFile) << "\">" << escape(e.maskFile)
       << "</a>. Compacted vs masked logits differ by at most "
       << differenceNumber(e.pruning.compactedVsMaskedMaxDiff) << ".</p>\n"
       << "<table><tr><th>model</th><th>accuracy</th><th>change</th><th>mean loss</th>"
          "<th>median ms</th><th>p10–p90 ms</th><th>parameters</th><th>MFLOP / example</th>"
          "</tr>\n";
  for (const auto& v : e.pruning.variants) {
    if (!v.present) {
      html << "<tr><td>" << escape(v.name) << "</td><td colspan=7>" << escape(v.absentReason)
           << "</td></tr>\n";
      continue;
    }
    html << "<tr><td>" << escape(v.name) << "</td><td>" << number(v.eval.accuracy) << "</td><td>"
         << signedNumber(v.eval.accuracy - full.eval.accuracy) << "</td><td>"
         << number(v.eval.meanLoss) << "</td><td>" << number(v.latency.medianMs, 3) << "</td><td>"
         << number(v.latency.p10Ms, 3) << "–" << number(v.latency.p90Ms, 3) << "</td><td>"
         << v.latency.parameters << "</td><td>" << number(v.latency.flopsPerExample / 1e6, 3)
         << "</td></tr>\n";
  }
  html << "</table>\n";
}

void headTable(std::ostream& html, const DemoReport& r) {
  const auto& a = r.headAblation;
  html << "<table><tr><th>head removed</th><th>accuracy</th><th>change</th>"
          "<th>mean loss</th></tr>\n";
  for (int l = 0; l < a.accuracy.rows(); ++l) {
    for (int h = 0; h < a.accuracy.cols(); ++h) {
      if (!std::isfinite(a.accuracy(l, h))) continue;
      html << "<tr><td>" << headName(l, h) << "</td><td>" << number(a.accuracy(l, h)) << "</td><td>"
           << signedNumber(a.accuracy(l, h) - a.baseline.accuracy) << "</td><td>"
           << number(a.meanLoss(l, h)) << "</td></tr>\n";
    }
  }
  html << "</table>\n";
}

constexpr const char* kStyle = R"(
body { font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
code, pre { background: #f6f6f6; padding: 2px 4px; }
)";

}  // namespace

std::vector<std::string> writeDemoReport(const DemoReport& r, const fs::path& folder) {
  ensureApplication();
  fs::create_directories(folder);
  std::vector<std::string> files;
  const auto ablationPng = headAblationFigure(r, folder);
  const auto patternPng = patternFigure(r, folder);
  const auto latencyPng = latencyFigure(r, folder);
  files.insert(files.end(), {ablationPng, patternPng, latencyPng});

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       << "<title>circuitscope demo</title><style>" << kStyle << "</style></head><body>\n"
       << "<h1>circuitscope demo</h1>\n<p>circuitscope " << escape(r.toolVersion) << ", "
       << escape(r.created) << ", " << r.threads << " threads, " << number(r.seconds, 1)
       << " s. Everything below ran offline on the built-in models.</p>\n";

  html << "<h2>Built-in models</h2>\n<p>Each model evaluated on its recipe's test set; latency "
          "is the median of timed forward passes of a batch of its first test rows "
          "(\"stated\" is the accuracy its manifest records from training).</p>\n";
  modelsTable(html, r);

  html << "<h2>Recorded activations</h2>\n<p><a href=\"" << escape(r.storeFile) << "\">"
       << escape(r.storeFile) << "</a>: " << r.storeRows << " examples of "
       << escape(r.storeDataset) << ", " << number(r.storeMegabytes, 2)
       << " MB, hooks:</p>\n<ul>\n";
  for (const auto& hook : r.storeHooks) html << "<li><code>" << escape(hook) << "</code></li>\n";
  html << "</ul>\n<pre>import h5py\nwith h5py.File(\"" << escape(r.storeFile)
       << "\") as f:\n    print(list(f[\"activations\"]))</pre>\n";

  html << "<h2>Which heads matter for induction?</h2>\n<p>The induction model evaluated on "
       << escape(r.headAblation.dataset) << " with each head removed ("
       << escape(r.headAblation.mode) << " ablation) in turn; "
       << "baseline accuracy " << number(r.headAblation.baseline.accuracy) << ".</p>\n"
       << "<img src=\"" << ablationPng << "\" alt=\"accuracy with each head removed\">\n";
  headTable(html, r);

  html << "<h2>Pruning: masked and compacted</h2>\n<p>The head whose removal hurts most ("
       << headName(r.hurtful.layer, r.hurtful.head) << ") against one whose removal does not ("
       << headName(r.harmless.layer, r.harmless.head)
       << "). <i>Masked</i> zeroes the head in the full model; <i>compacted</i> is a smaller "
          "model without it, so its latency is real.</p>\n";
  pruningTable(html, r.hurtful);
  pruningTable(html, r.harmless);
  html << "<img src=\"" << latencyPng << "\" alt=\"latency of full, masked and compacted\">\n";

  // Only what the figure shows for any trained model: the shipped one does not attend at the
  // textbook offset (its layer 0 moves tokens several positions forward, not by one).
  html << "<h2>An induction head at work</h2>\n<p>Attention of head "
       << headName(r.patternLayer, r.patternHead)
       << " (the head of the last layer whose removal hurts induction most) on one test sequence "
          "(random tokens, then the same tokens again). In the first half a query has nothing "
          "to match and its attention spreads out or rests on the first tokens; in the repeated "
          "half it falls sharply on a few earlier positions, chosen by content (the model was "
          "trained on repeats of varying length and place, so no fixed offset would "
          "work).</p>\n<img src=\""
       << patternPng << "\" alt=\"attention pattern\">\n</body></html>\n";

  const auto page = folder / "report.html";
  std::ofstream out(page, std::ios::binary | std::ios::trunc);
  out << html.str();
  out.flush();
  if (!out) throw IoError("cannot write " + page.string());
  files.push_back("report.html");
  return files;
}

}  // namespace cs::report
