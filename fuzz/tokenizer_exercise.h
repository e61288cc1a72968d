// What the tokenizer targets do with a tokenizer that loaded: encode fixed texts that reach
// the special-token, regex and merge paths, and decode what came out. Loading may refuse a file
// with a cs::Error, and encode may refuse a text the vocabulary cannot spell; but the ids encode
// returns must be in the vocabulary and decode must take them back.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "data/tokenizer.h"
#include "fuzz_support.h"

namespace cs::fuzz {

inline void exerciseTokenizer(const data::Tokenizer& tokenizer) {
  static const std::vector<std::string> kTexts = {
      "Hello world",
      " Mary",
      "When Mary and John went to the store, John gave a drink to",
      "it's 12345 don't  \t\n\n  x",
      "na\xC3\xAFve caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\xA4\x97",
      "<|endoftext|>a<s></s><|begin_of_text|>",
      "",
  };
  const auto vocab = tokenizer.vocabSize();
  if (vocab < 0) fail("negative vocabulary size");
  if (const auto prefix = tokenizer.prefixTokenId(); prefix && (*prefix < 0 || *prefix >= vocab))
    fail("prefix token id " + std::to_string(*prefix) + " outside the vocabulary");
  for (const auto& text : kTexts) {
    for (const bool continuation : {false, true}) {
      std::vector<std::int64_t> ids;
      try {
        ids = continuation ? tokenizer.encodeContinuation(text) : tokenizer.encode(text);
      } catch (const cs::Error&) {
        continue;  // e.g. a byte the vocabulary has no token for
      }
      for (const auto id : ids) {
        if (id < 0 || id >= vocab)
          fail("encode gave id " + std::to_string(id) + " outside the vocabulary of " +
               std::to_string(vocab));
      }
      try {
        (void)tokenizer.decode(ids);
        for (const auto id : ids) (void)tokenizer.displayToken(id);
      } catch (const cs::Error& e) {
        fail(std::string("decode refused ids that encode produced: ") + e.what());
      }
    }
  }
  // Ids nobody produced may be refused (unused slots), but must not crash.
  for (std::int64_t id = -1; id <= std::min<std::int64_t>(vocab, 300); ++id) {
    try {
      (void)tokenizer.displayToken(id);
      (void)tokenizer.decode({id});
    } catch (const cs::Error&) {
    }
  }
}

}  // namespace cs::fuzz
