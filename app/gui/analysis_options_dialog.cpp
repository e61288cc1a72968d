#include "app/gui/analysis_options_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QDoubleValidator>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

#include <cmath>

namespace cs::gui {

namespace {

using Kind = OptionField::Kind;

OptionField makeField(const QString& key, const QString& label, const QString& toolTip, Kind kind,
                      const QVariant& defaultValue) {
  OptionField f;
  f.key = key;
  f.label = label;
  f.toolTip = toolTip;
  f.kind = kind;
  f.defaultValue = defaultValue;
  return f;
}

// A remembered value as the field takes it, or nothing when it does not fit: the settings file
// is the user's to edit, and an old version may have stored other choices or ranges.
QVariant fitted(const OptionField& field, const QVariant& value) {
  if (!value.isValid()) return {};
  bool ok = false;
  switch (field.kind) {
    case Kind::Int: {
      const auto v = value.toLongLong(&ok);
      if (!ok || v < field.minimum || v > field.maximum) return {};
      return QVariant(static_cast<int>(v));
    }
    case Kind::Double: {
      const auto v = value.toDouble(&ok);
      if (!ok || !std::isfinite(v) || v < field.minimum || v > field.maximum) return {};
      return QVariant(v);
    }
    case Kind::Choice: {
      const auto v = value.toString();
      return field.choices.contains(v) ? QVariant(v) : QVariant();
    }
    case Kind::Bool: {
      // QSettings' text formats give "true" / "false" back as strings.
      const auto text = value.toString().toLower();
      if (value.typeId() == QMetaType::Bool) return value;
      if (text == QStringLiteral("true") || text == QStringLiteral("false")) {
        return QVariant(text == QStringLiteral("true"));
      }
      return {};
    }
    case Kind::Text:
      return QVariant(value.toString());
  }
  return {};
}

QString numberText(double value) { return QString::number(value, 'g', 12); }

}  // namespace

OptionField intField(const QString& key, const QString& label, const QString& toolTip,
                     int defaultValue, int minimum, int maximum) {
  auto f = makeField(key, label, toolTip, Kind::Int, defaultValue);
  f.minimum = minimum;
  f.maximum = maximum;
  return f;
}

OptionField doubleField(const QString& key, const QString& label, const QString& toolTip,
                        double defaultValue, double minimum, double maximum, int decimals) {
  auto f = makeField(key, label, toolTip, Kind::Double, defaultValue);
  f.minimum = minimum;
  f.maximum = maximum;
  f.decimals = decimals;
  return f;
}

OptionField scientificField(const QString& key, const QString& label, const QString& toolTip,
                            double defaultValue, double minimum, double maximum) {
  auto f = doubleField(key, label, toolTip, defaultValue, minimum, maximum);
  f.scientific = true;
  return f;
}

OptionField choiceField(const QString& key, const QString& label, const QString& toolTip,
                        const QString& defaultValue, const QStringList& choices,
                        const QStringList& choiceLabels) {
  auto f = makeField(key, label, toolTip, Kind::Choice, defaultValue);
  f.choices = choices;
  f.choiceLabels = choiceLabels;
  return f;
}

OptionField boolField(const QString& key, const QString& label, const QString& toolTip,
                      bool defaultValue) {
  return makeField(key, label, toolTip, Kind::Bool, defaultValue);
}

OptionField textField(const QString& key, const QString& label, const QString& toolTip,
                      const QString& defaultValue) {
  return makeField(key, label, toolTip, Kind::Text, defaultValue);
}

AnalysisOptionsDialog::AnalysisOptionsDialog(const QString& analysis, const QString& title,
                                             std::vector<OptionField> fields, QWidget* parent)
    : QDialog(parent), m_analysis(analysis), m_fields(std::move(fields)) {
  setWindowTitle(title);
  setObjectName(QStringLiteral("analysisOptions_") + analysis);
  auto* layout = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  layout->addLayout(form);
  for (const auto& field : m_fields) {
    QWidget* widget = nullptr;
    switch (field.kind) {
      case Kind::Int: {
        auto* spin = new QSpinBox;
        spin->setRange(static_cast<int>(field.minimum), static_cast<int>(field.maximum));
        widget = spin;
        break;
      }
      case Kind::Double:
        if (field.scientific) {
          auto* edit = new QLineEdit;
          auto* validator = new QDoubleValidator(field.minimum, field.maximum, 17, edit);
          validator->setNotation(QDoubleValidator::ScientificNotation);
          validator->setLocale(QLocale::c());
          edit->setValidator(validator);
          widget = edit;
        } else {
          auto* spin = new QDoubleSpinBox;
          spin->setDecimals(field.decimals);
          spin->setRange(field.minimum, field.maximum);
          spin->setSingleStep(std::pow(10.0, -std::min(field.decimals, 2)));
          widget = spin;
        }
        break;
      case Kind::Choice: {
        auto* combo = new QComboBox;
        for (int i = 0; i < field.choices.size(); ++i) {
          combo->addItem(i < field.choiceLabels.size() ? field.choiceLabels[i] : field.choices[i],
                         field.choices[i]);
        }
        widget = combo;
        break;
      }
      case Kind::Bool:
        widget = new QCheckBox;
        break;
      case Kind::Text:
        widget = new QLineEdit;
        break;
    }
    widget->setObjectName(QStringLiteral("option_") + field.key);
    widget->setToolTip(field.toolTip);
    auto* label = new QLabel(field.label);
    label->setToolTip(field.toolTip);
    label->setBuddy(widget);
    form->addRow(label, widget);
    m_widgets.insert(field.key, widget);
  }
  auto* error = new QLabel;
  error->setObjectName(QStringLiteral("optionsError"));
  error->setWordWrap(true);
  error->hide();
  layout->addWidget(error);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Run"));
  auto* restore = buttons->addButton(tr("Restore defaults"), QDialogButtonBox::ResetRole);
  restore->setObjectName(QStringLiteral("restoreDefaults"));
  connect(restore, &QPushButton::clicked, this, &AnalysisOptionsDialog::restoreDefaults);
  connect(buttons, &QDialogButtonBox::accepted, this, &AnalysisOptionsDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &AnalysisOptionsDialog::reject);
  layout->addWidget(buttons);

  setValues(remembered(m_analysis, m_fields));
}

QString AnalysisOptionsDialog::settingsKey(const QString& analysis, const QString& field) {
  return QStringLiteral("analysisOptions/%1/%2").arg(analysis, field);
}

QVariantMap AnalysisOptionsDialog::defaults(const std::vector<OptionField>& fields) {
  QVariantMap values;
  for (const auto& field : fields) values.insert(field.key, field.defaultValue);
  return values;
}

QVariantMap AnalysisOptionsDialog::remembered(const QString& analysis,
                                              const std::vector<OptionField>& fields) {
  const QSettings settings;
  QVariantMap values;
  for (const auto& field : fields) {
    const auto value = fitted(field, settings.value(settingsKey(analysis, field.key)));
    values.insert(field.key, value.isValid() ? value : field.defaultValue);
  }
  return values;
}

void AnalysisOptionsDialog::setValue(const OptionField& field, const QVariant& value) {
  auto* widget = m_widgets.value(field.key);
  if (!widget) return;
  const auto checked = fitted(field, value);
  const auto v = checked.isValid() ? checked : field.defaultValue;
  switch (field.kind) {
    case Kind::Int:
      static_cast<QSpinBox*>(widget)->setValue(v.toInt());
      break;
    case Kind::Double:
      if (field.scientific) {
        static_cast<QLineEdit*>(widget)->setText(numberText(v.toDouble()));
      } else {
        static_cast<QDoubleSpinBox*>(widget)->setValue(v.toDouble());
      }
      break;
    case Kind::Choice: {
      auto* combo = static_cast<QComboBox*>(widget);
      combo->setCurrentIndex(combo->findData(v.toString()));
      break;
    }
    case Kind::Bool:
      static_cast<QCheckBox*>(widget)->setChecked(v.toBool());
      break;
    case Kind::Text:
      static_cast<QLineEdit*>(widget)->setText(v.toString());
      break;
  }
}

QVariant AnalysisOptionsDialog::valueOf(const OptionField& field) const {
  auto* widget = m_widgets.value(field.key);
  switch (field.kind) {
    case Kind::Int:
      return static_cast<QSpinBox*>(widget)->value();
    case Kind::Double:
      if (field.scientific) {
        bool ok = false;
        const auto v =
            QLocale::c().toDouble(static_cast<QLineEdit*>(widget)->text().trimmed(), &ok);
        return ok ? QVariant(v) : QVariant();
      }
      return static_cast<QDoubleSpinBox*>(widget)->value();
    case Kind::Choice:
      return static_cast<QComboBox*>(widget)->currentData();
    case Kind::Bool:
      return static_cast<QCheckBox*>(widget)->isChecked();
    case Kind::Text:
      return static_cast<QLineEdit*>(widget)->text();
  }
  return {};
}

QVariantMap AnalysisOptionsDialog::values() const {
  QVariantMap values;
  for (const auto& field : m_fields) {
    // A number typed as text that does not parse, or is out of range, counts as the default;
    // accept() refuses it first, so this only matters for callers that read values() early.
    const auto value = fitted(field, valueOf(field));
    values.insert(field.key, value.isValid() ? value : field.defaultValue);
  }
  return values;
}

void AnalysisOptionsDialog::setValues(const QVariantMap& values) {
  for (const auto& field : m_fields) {
    setValue(field, values.contains(field.key) ? values.value(field.key) : field.defaultValue);
  }
}

void AnalysisOptionsDialog::restoreDefaults() { setValues(defaults(m_fields)); }

void AnalysisOptionsDialog::remember() const {
  QSettings settings;
  const auto current = values();
  for (auto it = current.cbegin(); it != current.cend(); ++it) {
    settings.setValue(settingsKey(m_analysis, it.key()), it.value());
  }
}

void AnalysisOptionsDialog::accept() {
  auto* error = findChild<QLabel*>(QStringLiteral("optionsError"));
  for (const auto& field : m_fields) {
    if (field.kind != Kind::Double || !field.scientific) continue;
    if (!fitted(field, valueOf(field)).isValid()) {
      error->setText(tr("%1 takes a number from %2 to %3, e.g. %4")
                         .arg(field.label, numberText(field.minimum), numberText(field.maximum),
                              numberText(field.defaultValue.toDouble())));
      error->show();
      m_widgets.value(field.key)->setFocus();
      return;
    }
  }
  error->hide();
  remember();
  QDialog::accept();
}

}  // namespace cs::gui
