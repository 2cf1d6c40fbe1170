// Loading tokenizer.json files written here: merges in both forms, Split pre-tokenizers,
// added-token options, model options, and the errors for what is not supported.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/tokenizer.hpp"
#include "tokenizer/byte_level.hpp"

namespace smol {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

// A temporary folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("smol_tok_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

std::string spell(std::string_view bytes) { return byte_level::encode(bytes); }

// A byte-level BPE tokenizer.json: each byte's token has the byte's value as id, and every
// merge result gets the next id. Merges are given as raw bytes ("h","e") and spelled here.
struct Spec {
  std::vector<std::pair<std::string, std::string>> merges;
  bool pair_form = false;
  json pre_tokenizer = json{{"type", "ByteLevel"}, {"add_prefix_space", false},
                            {"trim_offsets", true}, {"use_regex", true}};
  json added_tokens = json::array();
  json model_extra = json::object();
  json normalizer = nullptr;
  json decoder = json{{"type", "ByteLevel"}};
};

json make_tokenizer_json(const Spec& spec) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[spell(std::string(1, static_cast<char>(b)))] = b;
  json merges = json::array();
  int next = 256;
  for (const auto& [a, b] : spec.merges) {
    const std::string joined = spell(a + b);
    if (!vocab.contains(joined)) vocab[joined] = next++;
    if (spec.pair_form) {
      merges.push_back(json::array({spell(a), spell(b)}));
    } else {
      merges.push_back(spell(a) + " " + spell(b));
    }
  }
  json model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                {"byte_fallback", false}, {"vocab", vocab}, {"merges", merges}};
  model.update(spec.model_extra);
  return json{{"version", "1.0"},         {"truncation", nullptr},
              {"padding", nullptr},       {"added_tokens", spec.added_tokens},
              {"normalizer", spec.normalizer}, {"pre_tokenizer", spec.pre_tokenizer},
              {"post_processor", nullptr}, {"decoder", spec.decoder},
              {"model", model}};
}

Tokenizer load(const Spec& spec, const TempDir& dir) {
  return Tokenizer::from_file(dir.write("tokenizer.json", make_tokenizer_json(spec).dump()));
}

int32_t id(const Tokenizer& tok, std::string_view raw) {
  const auto found = tok.token_id(spell(raw));
  EXPECT_TRUE(found.has_value()) << "no token for '" << raw << "'";
  return found.value_or(-1);
}

TEST(TokenizerJson, MergesInPairFormEqualStringForm) {
  TempDir dir;
  Spec spec;
  spec.merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}};
  const Tokenizer as_strings = load(spec, dir);
  spec.pair_form = true;
  const Tokenizer as_pairs = load(spec, dir);
  const Ids want = {id(as_pairs, "hello"), id(as_pairs, " w"), 'o', 'r', 'l', 'd'};
  EXPECT_EQ(as_pairs.encode("hello world"), want);
  EXPECT_EQ(as_strings.encode("hello world"), want);
  EXPECT_EQ(as_pairs.decode(want), "hello world");
}

TEST(TokenizerJson, LowerRankMergesFirstAndLeftmostOnTies) {
  TempDir dir;
  Spec spec;
  spec.merges = {{"b", "c"}, {"a", "b"}};
  const Tokenizer bc_first = load(spec, dir);
  EXPECT_EQ(bc_first.encode("abc"), (Ids{'a', id(bc_first, "bc")}));
  spec.merges = {{"a", "b"}, {"b", "c"}};
  const Tokenizer ab_first = load(spec, dir);
  EXPECT_EQ(ab_first.encode("abc"), (Ids{id(ab_first, "ab"), 'c'}));
  spec.merges = {{"a", "a"}};
  const Tokenizer aa = load(spec, dir);
  EXPECT_EQ(aa.encode("aaaaa"), (Ids{id(aa, "aa"), id(aa, "aa"), 'a'}));
}

TEST(TokenizerJson, SplitPreTokenizerBoundsMerges) {
  TempDir dir;
  Spec spec;
  // "3 4" ranks first, so without the split "12345" would become 12|34|5.
  spec.merges = {{"3", "4"}, {"1", "2"}, {"12", "3"}, {"4", "5"}};
  spec.pre_tokenizer = json::parse(R"({"type": "ByteLevel", "add_prefix_space": false,
                                       "trim_offsets": true, "use_regex": true})");
  const Tokenizer plain = load(spec, dir);
  EXPECT_EQ(plain.encode("12345"), (Ids{id(plain, "12"), id(plain, "34"), '5'}));
  spec.pre_tokenizer = json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})");
  const Tokenizer split = load(spec, dir);
  EXPECT_EQ(split.encode("12345"), (Ids{id(split, "123"), id(split, "45")}));
  // A literal String pattern, removed from the text.
  spec.pre_tokenizer = json::parse(R"({"type": "Split", "pattern": {"String": "3"},
                                       "behavior": "Removed", "invert": false})");
  const Tokenizer removed = load(spec, dir);
  EXPECT_EQ(removed.encode("12345"), (Ids{id(removed, "12"), id(removed, "45")}));
}

TEST(TokenizerJson, AddedTokensLongestLeftmostAndVerbatimDecode) {
  TempDir dir;
  Spec spec;
  spec.added_tokens = json::parse(R"([
      {"id": 300, "content": "<a>", "special": true, "normalized": false,
       "single_word": false, "lstrip": false, "rstrip": false},
      {"id": 301, "content": "<a><b>", "special": true, "normalized": false,
       "single_word": false, "lstrip": false, "rstrip": false},
      {"id": 302, "content": "日本", "special": false, "normalized": true,
       "single_word": false, "lstrip": false, "rstrip": false}])");
  const Tokenizer tok = load(spec, dir);
  EXPECT_EQ(tok.encode("x<a><b><a>y"), (Ids{'x', 301, 300, 'y'}));
  EXPECT_EQ(tok.encode("の日本"), (Ids{0xE3, 0x81, 0xAE, 302}));
  EXPECT_TRUE(tok.is_special(301));
  EXPECT_FALSE(tok.is_special(302));
  EXPECT_TRUE(tok.is_added(302));
  EXPECT_EQ(tok.token_id("<a><b>"), 301);
  EXPECT_EQ(tok.vocab_size(), 303u);
  // Added tokens decode to their content, not through the byte-level table.
  EXPECT_EQ(tok.decode(Ids{302, 300}), "日本<a>");
  EXPECT_EQ(tok.decode(Ids{302, 300}, /*skip_special=*/true), "日本");
}

TEST(TokenizerJson, AddedTokenStripAndSingleWord) {
  TempDir dir;
  Spec spec;
  spec.added_tokens = json::parse(R"([
      {"id": 300, "content": "<m>", "special": true, "normalized": false,
       "single_word": false, "lstrip": true, "rstrip": true},
      {"id": 301, "content": "ab", "special": false, "normalized": false,
       "single_word": true, "lstrip": false, "rstrip": false}])");
  const Tokenizer tok = load(spec, dir);
  // lstrip/rstrip: the token swallows the whitespace around it.
  EXPECT_EQ(tok.encode("x  <m>\t y"), (Ids{'x', 300, 'y'}));
  // single_word: only where it is not part of a longer word.
  EXPECT_EQ(tok.encode("ab"), (Ids{301}));
  EXPECT_EQ(tok.encode("(ab)"), (Ids{'(', 301, ')'}));
  EXPECT_EQ(tok.encode("cab"), (Ids{'c', 'a', 'b'}));
  EXPECT_EQ(tok.encode("abé"), (Ids{'a', 'b', 0xC3, 0xA9}));
}

TEST(TokenizerJson, IgnoreMergesTakesWholeWordsFromTheVocab) {
  TempDir dir;
  Spec spec;
  // "abc" is in the vocab, but merging b|c first means the merges never reach it.
  spec.merges = {{"b", "c"}, {"a", "b"}, {"ab", "c"}};
  const Tokenizer merged = load(spec, dir);
  EXPECT_EQ(merged.encode("abc"), (Ids{'a', id(merged, "bc")}));
  spec.model_extra = {{"ignore_merges", true}};
  const Tokenizer whole = load(spec, dir);
  EXPECT_EQ(whole.encode("abc"), (Ids{id(whole, "abc")}));
  EXPECT_EQ(whole.encode("abcb"), (Ids{'a', id(whole, "bc"), 'b'}));
}

TEST(TokenizerJson, UnkTokenForCharactersOutsideTheVocab) {
  // Not byte-level: characters are the initial symbols (the Rust library's own unk tests).
  TempDir dir;
  json j = json::parse(R"({"added_tokens": [], "normalizer": null, "pre_tokenizer": null,
      "post_processor": null, "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": false,
                "vocab": {"<unk>": 0, "a": 1, "b": 2}, "merges": []}})");
  const Tokenizer separate = Tokenizer::from_file(dir.write("t.json", j.dump()));
  EXPECT_EQ(separate.encode("accb"), (Ids{1, 0, 0, 2}));
  j["model"]["fuse_unk"] = true;
  const Tokenizer fused = Tokenizer::from_file(dir.write("t.json", j.dump()));
  EXPECT_EQ(fused.encode("accb"), (Ids{1, 0, 2}));
}

void expect_error(const TempDir& dir, const Spec& spec, const std::string& needle) {
  const auto path = dir.write("bad.json", make_tokenizer_json(spec).dump());
  try {
    Tokenizer::from_file(path);
    ADD_FAILURE() << "expected an error containing: " << needle;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(TokenizerJson, UnsupportedComponentsAreNamed) {
  TempDir dir;
  Spec nfc;
  nfc.normalizer = {{"type", "NFC"}};
  expect_error(dir, nfc, "unsupported tokenizer component normalizer NFC");
  Spec metaspace;
  metaspace.pre_tokenizer = {{"type", "Metaspace"}, {"replacement", "▁"}};
  expect_error(dir, metaspace, "unsupported tokenizer component pre_tokenizer Metaspace");
  Spec fallback;
  fallback.model_extra = {{"byte_fallback", true}};
  expect_error(dir, fallback, "unsupported tokenizer component model BPE byte_fallback");
  Spec dropout;
  dropout.model_extra = {{"dropout", 0.1}};
  expect_error(dir, dropout, "unsupported tokenizer component model BPE dropout");
  Spec wordpiece;
  wordpiece.model_extra = {{"type", "WordPiece"}};
  expect_error(dir, wordpiece, "unsupported tokenizer component model WordPiece");
  Spec decoder;
  decoder.decoder = {{"type", "WordPiece"}};
  expect_error(dir, decoder, "unsupported tokenizer component decoder WordPiece");
  Spec behavior;
  behavior.pre_tokenizer = json::parse(
      R"({"type": "Split", "pattern": {"Regex": "x"}, "behavior": "Sideways", "invert": false})");
  expect_error(dir, behavior, "unsupported tokenizer component Split behavior Sideways");
}

TEST(TokenizerJson, BadFilesAreNamed) {
  TempDir dir;
  const auto missing = dir.write("x", "") .parent_path() / "missing" / "tokenizer.json";
  EXPECT_THROW(
      {
        try {
          Tokenizer::from_file(missing);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos);
          throw;
        }
      },
      Error);
  const auto malformed = dir.write("malformed.json", "{\"model\": {\"vocab\": {\"a\": 0,");
  try {
    Tokenizer::from_file(malformed);
    ADD_FAILURE() << "malformed JSON was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(malformed.string() + ": malformed JSON"),
              std::string::npos)
        << e.what();
  }
  // Found by fuzzing: a number too large for a double is nlohmann's out_of_range, not a
  // parse_error, and escaped as a foreign exception.
  const auto overflow = dir.write("overflow.json", "{\"model\": {\"vocab\": {\"a\": 1e400}}}");
  EXPECT_THROW(Tokenizer::from_file(overflow), Error);
  Spec bad_regex;
  bad_regex.pre_tokenizer = json::parse(
      R"({"type": "Split", "pattern": {"Regex": "(x"}, "behavior": "Isolated", "invert": false})");
  expect_error(dir, bad_regex, "Split pre_tokenizer: regex '(x'");
  // A merge whose parts are not tokens.
  Spec bad_merge;
  json j = make_tokenizer_json(bad_merge);
  j["model"]["merges"].push_back("zz q");
  const auto path = dir.write("merge.json", j.dump());
  EXPECT_THROW(Tokenizer::from_file(path), Error);
  j["model"]["merges"] = json::array({"a b c"});
  EXPECT_THROW(Tokenizer::from_file(dir.write("merge2.json", j.dump())), Error);
  j["model"].erase("vocab");
  EXPECT_THROW(Tokenizer::from_file(dir.write("novocab.json", j.dump())), Error);
}

}  // namespace
}  // namespace smol
