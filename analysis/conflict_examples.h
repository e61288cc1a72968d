// The knowledge-conflict examples of the memory-vs-context-heads analysis (docs/analyses.md,
// "analyze memory-heads"): a JSON-lines file, one object per line (blank lines skipped):
//   {"question": "The capital of France is", "context": "The capital of France is Rome. ",
//    "memory_answer": " Paris", "context_answer": " Rome", "split": "find"}
// x_conf = context + question and x_ref = reference_context + question (default: the question
// alone), each encoded as one prompt; answers by the first token of their text as a continuation.
// Without a tokenizer: question_ids, context_ids, reference_context_ids (concatenated as given)
// and memory_answer_id, context_answer_id. "split" is optional: find, validation or test.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analysis/memory_heads.h"

namespace cs::data {
class Tokenizer;
}

namespace cs::analysis {

struct ConflictSplits {
  std::vector<ConflictExample> find, validation, test;
};

/// Reads and validates the examples file. Examples without a split go to head finding (the
/// first `findFraction` of them) and validation (the rest). `encodePrompt` turns a prompt text
/// into ids (the tokenizer's prompt encoding); `tokenizer` may be null, and then only the *_ids
/// fields are accepted. IoError for an unreadable file; ConfigError naming the file and line for
/// anything else (bad JSON, unknown or missing fields, token ids outside [0, vocabulary), equal
/// answers, no head-finding or no validation examples).
ConflictSplits readConflictExamples(
    const std::string& path, std::int64_t vocabulary, const data::Tokenizer* tokenizer,
    const std::function<std::vector<std::int64_t>(const std::string&)>& encodePrompt,
    double findFraction);

}  // namespace cs::analysis
