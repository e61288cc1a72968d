// Temporary file plus rename; see atomic_file.h.
#include "data/atomic_file.h"

#include <fstream>

#include "core/error.h"

namespace cs::data {

void writeFileAtomically(const std::filesystem::path& path,
                         const std::function<void(std::ostream&)>& write) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot create " + tmp.string());
    write(out);
    out.flush();
    if (!out) {
      out.close();
      std::filesystem::remove(tmp);
      throw IoError("cannot write " + tmp.string() + " (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw IoError("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  }
}

void writeTextFileAtomically(const std::filesystem::path& path, const std::string& text) {
  writeFileAtomically(path, [&](std::ostream& out) {
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  });
}

}  // namespace cs::data
