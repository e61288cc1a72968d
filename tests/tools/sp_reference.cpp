// The reference for the SentencePiece differential test: libsentencepiece itself, in a process
// of its own. It must never link libtorch or any circuitscope library: Debian's
// libsentencepiece exports a bundled protobuf-lite that clashes with libtorch's libprotobuf.
//
// Usage: sp_reference MODEL < lines. Each input line is a text in hex (empty line: empty text);
// each output line is "ID ID ...<TAB>HEX" with the ids SentencePiece's Encode gives and the hex
// of DecodeIds of those ids, or "!error MESSAGE" when SentencePiece fails on that text. Hex keeps
// newlines, tabs and any byte out of the line protocol. A line "#ID ID ..." decodes those ids
// only and answers "<TAB>HEX".
#include <sentencepiece_processor.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool fromHex(const std::string& hex, std::string& out) {
  out.clear();
  if (hex.size() % 2 != 0) return false;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hexValue(hex[i]);
    const int low = hexValue(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
  }
  return true;
}

std::string toHex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sp_reference MODEL < hex lines\n";
    return 2;
  }
  sentencepiece::SentencePieceProcessor processor;
  if (const auto status = processor.Load(argv[1]); !status.ok()) {
    std::cerr << "sp_reference: " << status.ToString() << "\n";
    return 1;
  }
  std::string line;
  std::string text;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line.front() == '#') {
      std::vector<int> ids;
      std::size_t pos = 1;
      while (pos < line.size()) {
        std::size_t used = 0;
        ids.push_back(std::stoi(line.substr(pos), &used));
        pos += used;
        while (pos < line.size() && line[pos] == ' ') ++pos;
      }
      std::string decoded;
      if (const auto status = processor.Decode(ids, &decoded); !status.ok()) {
        std::cout << "!error " << status.ToString() << "\n";
      } else {
        std::cout << "\t" << toHex(decoded) << "\n";
      }
      continue;
    }
    if (!fromHex(line, text)) {
      std::cout << "!error input line is not hex\n";
      continue;
    }
    std::vector<int> ids;
    if (const auto status = processor.Encode(text, &ids); !status.ok()) {
      std::cout << "!error " << status.ToString() << "\n";
      continue;
    }
    std::string decoded;
    if (const auto status = processor.Decode(ids, &decoded); !status.ok()) {
      std::cout << "!error " << status.ToString() << "\n";
      continue;
    }
    for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\t" << toHex(decoded) << "\n";
  }
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}
