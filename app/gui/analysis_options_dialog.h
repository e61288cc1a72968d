// The options dialog every analysis of the Analyses menu opens before it runs: a form built from
// a list of fields (integer, number, choice, check box, text), a "Restore defaults" button, and
// the last accepted values remembered per analysis in QSettings
// ("analysisOptions/<analysis>/<field>"), so that the next run starts from them.
#pragma once

#include <QDialog>
#include <QHash>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <QVariantMap>

#include <vector>

namespace cs::gui {

struct OptionField {
  enum class Kind { Int, Double, Choice, Bool, Text };

  QString key;  ///< the value's name in values() and QSettings; the widget is "option_<key>"
  QString label;
  QString toolTip;
  Kind kind = Kind::Int;
  QVariant defaultValue;  ///< an int, double, bool or string (a choice: one of `choices`)
  double minimum = 0.0;   ///< Int and Double
  double maximum = 0.0;
  int decimals = 3;          ///< Double
  bool scientific = false;   ///< Double: typed as text (1e-15), for values no spin box holds
  QStringList choices;       ///< Choice: the values returned
  QStringList choiceLabels;  ///< Choice: what the user reads (empty: the values)
};

OptionField intField(const QString& key, const QString& label, const QString& toolTip,
                     int defaultValue, int minimum, int maximum);
OptionField doubleField(const QString& key, const QString& label, const QString& toolTip,
                        double defaultValue, double minimum, double maximum, int decimals = 3);
/// A number typed as text (e.g. 1e-15), for values a spin box cannot hold.
OptionField scientificField(const QString& key, const QString& label, const QString& toolTip,
                            double defaultValue, double minimum, double maximum);
OptionField choiceField(const QString& key, const QString& label, const QString& toolTip,
                        const QString& defaultValue, const QStringList& choices,
                        const QStringList& choiceLabels = {});
OptionField boolField(const QString& key, const QString& label, const QString& toolTip,
                      bool defaultValue);
OptionField textField(const QString& key, const QString& label, const QString& toolTip,
                      const QString& defaultValue);

class AnalysisOptionsDialog : public QDialog {
  Q_OBJECT

 public:
  /// `analysis` names the settings group (e.g. "integratedGradients"); the fields start from the
  /// remembered values, or the defaults where nothing (or nothing valid) is remembered.
  AnalysisOptionsDialog(const QString& analysis, const QString& title,
                        std::vector<OptionField> fields, QWidget* parent = nullptr);

  /// The values the fields hold now, one per key.
  QVariantMap values() const;
  void setValues(const QVariantMap& values);
  void restoreDefaults();

  /// Writes values() to QSettings. accept() does it; so "Cancel" forgets what was typed.
  void remember() const;
  void accept() override;

  /// The field's widget (a QSpinBox, QDoubleSpinBox, QLineEdit, QComboBox or QCheckBox).
  QWidget* fieldWidget(const QString& key) const { return m_widgets.value(key); }
  const std::vector<OptionField>& fields() const { return m_fields; }

  static QVariantMap defaults(const std::vector<OptionField>& fields);
  /// The remembered values of `analysis`, each checked against its field (a value out of range
  /// or not among the choices falls back to the default), without showing a dialog.
  static QVariantMap remembered(const QString& analysis, const std::vector<OptionField>& fields);
  static QString settingsKey(const QString& analysis, const QString& field);

 private:
  void setValue(const OptionField& field, const QVariant& value);
  QVariant valueOf(const OptionField& field) const;

  QString m_analysis;
  std::vector<OptionField> m_fields;
  QHash<QString, QWidget*> m_widgets;
};

}  // namespace cs::gui
