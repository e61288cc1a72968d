// Context-prefixing rethrow that keeps the concrete error type.
#include "core/error.h"

#include <exception>

namespace cs {

void rethrowWithContext(const std::string& context) {
  try {
    throw;
  } catch (const Cancelled&) {
    throw;
  } catch (const IoError& e) {
    throw IoError(context + ": " + e.what());
  } catch (const FormatError& e) {
    throw FormatError(context + ": " + e.what());
  } catch (const ShapeError& e) {
    throw ShapeError(context + ": " + e.what());
  } catch (const ConfigError& e) {
    throw ConfigError(context + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace cs
