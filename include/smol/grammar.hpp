#pragma once
// Grammar-constrained sampling: llama.cpp's GBNF format, JSON Schema turned into GBNF, and a
// matcher that says which tokens keep the output a valid prefix of the grammar.
//
//   Grammar g = Grammar::from_gbnf(text);                   // compiled once
//   auto vocab = std::make_shared<GrammarVocab>(tokenizer);  // once per tokenizer
//   GrammarMatcher m(g, vocab, eos_ids);                     // one per generation
//   sampler.sample(logits, history, &m); m.accept(token);
//
// Tokens are matched on their bytes: a token may cross several terminals or end inside a
// UTF-8 character. The matcher is a pushdown automaton over byte strings whose states (sets
// of grammar stacks) and transitions are built lazily and memoized, and a token mask per state
// is computed by one walk of a trie over the vocabulary, pruning a subtree at the first byte
// the state rejects.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smol/sampler.hpp"

namespace smol {

class Tokenizer;

// A compiled grammar: immutable, cheap to copy (shared).
class Grammar {
 public:
  // llama.cpp's GBNF: `name ::= alternatives`, "literals", [classes] with ranges and [^...],
  // `.`, ( groups ), `?` `*` `+` `{m}` `{m,}` `{m,n}` `{,n}`, `#` comments, escapes \n \r \t
  // \\ \" \] \xHH \uHHHH \UHHHHHHHH; `root` (or `root_rule`) is the start. Throws
  // smol::Error "grammar LINE:COL: ..." for syntax errors, undefined rules, left recursion
  // and rules that can never finish.
  static Grammar from_gbnf(std::string_view text, std::string_view root_rule = "root");

  size_t rule_count() const;

  // The same grammar for JSON output (json_schema_to_gbnf, json_object_gbnf, tool calls): its
  // objects must also have unique keys, which no context-free grammar can say, so generation
  // wraps its matcher in a JsonKeyGuard that refuses a token closing a repeated key.
  Grammar with_unique_json_keys() const {
    Grammar g = *this;
    g.unique_json_keys_ = true;
    return g;
  }
  bool unique_json_keys() const { return unique_json_keys_; }

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Grammar(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
  bool unique_json_keys_ = false;
};

// GBNF text for JSON Schema (draft 2020-12 subset; see docs in the README): objects with
// properties in schema order, required/optional, additionalProperties; arrays with items,
// prefixItems, minItems/maxItems; enum, const; strings with minLength/maxLength and the
// formats date, time, date-time, uuid; integer/number with minimum/maximum/exclusive*;
// anyOf, oneOf (disjoint branches), allOf of one schema, $ref to local JSON pointers ($defs,
// definitions), type lists, nullable. Whitespace between tokens is bounded (at most one
// space, or one newline with up to 20 spaces/tabs). Throws smol::Error naming the keyword
// and its JSON pointer for anything that would otherwise be silently ignored.
std::string json_schema_to_gbnf(std::string_view schema_json);
// Any JSON object ("response_format": {"type": "json_object"}, `--json`).
std::string json_object_gbnf();

// The vocabulary as byte strings in a trie, built once per tokenizer and shared by matchers.
// Special tokens are left out (a grammar never produces them); the end ids are the only
// tokens allowed where the grammar may end.
class GrammarVocab {
 public:
  explicit GrammarVocab(const Tokenizer& tokenizer, size_t logits_size = 0);
  // For tests: token i has bytes tokens[i]; an empty string is a token never allowed.
  explicit GrammarVocab(const std::vector<std::string>& tokens);
  ~GrammarVocab();
  size_t size() const;  // logits row length the masks cover

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// One generation's position in the grammar. Copies share the memoized automaton (states,
// transitions, masks), so a copy made before generating is a cheap fresh start; a matcher and
// its copies must be used from one thread at a time.
class GrammarMatcher final : public SequenceConstraint {
 public:
  GrammarMatcher(const Grammar& grammar, std::shared_ptr<const GrammarVocab> vocab, std::vector<int32_t> end_ids);
  ~GrammarMatcher() override;
  GrammarMatcher(const GrammarMatcher&);
  GrammarMatcher& operator=(const GrammarMatcher&);

  // How many more tokens may be generated (this one included). When it runs short, only
  // tokens after which the grammar can still be completed in time are allowed, so a document
  // ends before the token limit whenever single-byte tokens make that possible. Default:
  // unlimited.
  void set_remaining(int64_t tokens) override { remaining_ = tokens; }

  bool allows(int32_t token) override;             // a valid continuation (end ids: can_end())
  void mask(std::span<float> logits) override;     // -inf for every token allows() refuses
  // Advances over a token; throws smol::Error if allows(token) is false.
  void accept(int32_t token) override;
  // Advances over raw bytes (tests, prefixes); false (and no change) if they leave the grammar.
  bool accept_bytes(std::string_view bytes);
  bool can_end() const override;   // the text so far is a complete sentence of the grammar
  bool finished() const override;  // ... and nothing can follow it: only an end token is allowed
  // The allowed tokens as a bitset over the vocabulary (end ids included when can_end()),
  // without the token-limit filter.
  std::vector<bool> allowed_tokens();
  // The fewest bytes that complete the text so far (0 when can_end()).
  int64_t bytes_to_end() const;

  struct Automaton;

 private:
  std::shared_ptr<Automaton> automaton_;
  std::vector<int32_t> end_ids_;
  int32_t state_ = 0;
  int64_t remaining_ = INT64_MAX;
};

// Keeps JSON output strict where the grammar cannot: refuses a token after which an object
// would hold the same key twice (keys compared after decoding escapes, as a JSON parser does).
// Everything else is the inner constraint's (a matcher of a JSON grammar). If refusing would
// leave no token at all (only near the token limit), the inner constraint's choice stands.
class JsonKeyGuard final : public SequenceConstraint {
 public:
  JsonKeyGuard(std::unique_ptr<SequenceConstraint> inner, std::shared_ptr<const GrammarVocab> vocab);
  ~JsonKeyGuard() override;

  bool allows(int32_t token) override;
  void mask(std::span<float> logits) override;
  void accept(int32_t token) override;
  bool can_end() const override { return inner_->can_end(); }
  bool finished() const override { return inner_->finished(); }
  void set_remaining(int64_t tokens) override { inner_->set_remaining(tokens); }
  // Advances the key tracker over raw bytes (tests); false (and no change) if they would
  // repeat a key. The inner constraint is not involved.
  bool accept_bytes(std::string_view bytes);

  struct Tracker;

 private:
  bool keeps_keys_unique(int32_t token) const;
  std::unique_ptr<SequenceConstraint> inner_;
  std::shared_ptr<const GrammarVocab> vocab_;
  std::unique_ptr<Tracker> tracker_;
  std::vector<int32_t> quote_tokens_;  // the only tokens that can close a key
};

}  // namespace smol
