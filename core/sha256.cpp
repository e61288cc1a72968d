// OpenSSL's EVP digest: it uses the CPU's SHA extensions where present (about 2 GB/s), which
// matters for multi-gigabyte checkpoints.
#include "core/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>

#include "core/error.h"

namespace cs {

namespace {

using Sha256Context = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Sha256Context newSha256() {
  Sha256Context context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
    throw Error("SHA-256 is not available from OpenSSL");
  return context;
}

std::string finalHex(EVP_MD_CTX* context) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace

std::string sha256OfFiles(const std::vector<std::filesystem::path>& files, Progress& progress) {
  auto context = newSha256();
  std::uintmax_t total = 0, done = 0;
  for (const auto& file : files) {
    std::error_code error;
    total += std::filesystem::file_size(file, error);
  }
  std::vector<unsigned char> buffer(std::size_t{4} << 20);
  for (const auto& file : files) {
    std::unique_ptr<FILE, decltype(&std::fclose)> in(std::fopen(file.c_str(), "rb"), std::fclose);
    if (!in) throw IoError("cannot read " + file.string() + " to compute its digest");
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), in.get())) > 0) {
      EVP_DigestUpdate(context.get(), buffer.data(), n);
      done += n;
      if (total > 0) progress.setFraction(static_cast<double>(done) / static_cast<double>(total));
      progress.check();
    }
    if (std::ferror(in.get()))
      throw IoError("error reading " + file.string() + " to compute its digest");
  }
  return finalHex(context.get());
}

std::string sha256OfBytes(std::string_view bytes) {
  auto context = newSha256();
  EVP_DigestUpdate(context.get(), bytes.data(), bytes.size());
  return finalHex(context.get());
}

}  // namespace cs
