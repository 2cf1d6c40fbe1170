// Marian SentencePiece parity: the committed fixtures (tests/fixtures/marian_tok, written by
// make_fixtures.py with python3-sentencepiece and a re-implementation of transformers'
// MarianTokenizer) give the ids and decoded text for a mixed corpus of 337 strings.
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
#include "test_support/fixtures.hpp"
#include "tokenizer/marian.hpp"

namespace smol {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

fs::path fixture_dir() { return testing::source_dir() / "tests" / "fixtures" / "marian_tok"; }

struct Case {
  std::string text;
  Ids ids, target_ids, sep_target_ids;
  std::string decoded, decoded_skip, target_decoded_skip, sep_target_decoded_skip;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> out;
    std::ifstream in(fixture_dir() / "expected.jsonl");
    EXPECT_TRUE(in) << "cannot open " << fixture_dir() / "expected.jsonl";
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto j = nlohmann::json::parse(line);
      out.push_back({j.at("text"), j.at("ids"), j.at("target_ids"), j.at("sep_target_ids"),
                     j.at("decoded"), j.at("decoded_skip"), j.at("target_decoded_skip"),
                     j.at("sep_target_decoded_skip")});
    }
    return out;
  }();
  return all;
}

const Tokenizer& marian() {
  static const Tokenizer tok = Tokenizer::from_folder(fixture_dir());
  return tok;
}

// A copy of the fixture folder whose files a test may change; removed at the end.
class FolderCopy {
 public:
  FolderCopy() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("smol_marian_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
    for (const char* name : {"source.spm", "target.spm", "vocab.json", "target_vocab.json",
                             "tokenizer_config.json", "special_tokens_map.json"}) {
      fs::copy_file(fixture_dir() / name, path_ / name);
    }
  }
  ~FolderCopy() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary | std::ios::trunc) << text;
  }
  void set_config(const nlohmann::json& changes) const {
    std::ifstream in(path_ / "tokenizer_config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    config.update(changes);
    write("tokenizer_config.json", config.dump());
  }

 private:
  fs::path path_;
};

Ids without_eos(Ids ids) {
  EXPECT_FALSE(ids.empty());
  if (!ids.empty()) ids.pop_back();
  return ids;
}

TEST(MarianTokenizer, CorpusIsLargeAndMixed) {
  ASSERT_GE(cases().size(), 300u);
  size_t with_unk = 0, with_code = 0, with_special_text = 0;
  for (const auto& c : cases()) {
    with_unk += std::count(c.ids.begin(), c.ids.end(), 1) > 0;
    with_code += c.text.starts_with(">>");
    with_special_text += c.text.find("</s>") != std::string::npos;
  }
  // The fixture exercises the unknown-piece, language-code and special-token paths.
  EXPECT_GT(with_unk, 10u);
  EXPECT_GE(with_code, 5u);
  EXPECT_GE(with_special_text, 2u);
}

TEST(MarianTokenizer, SourceIdsMatchSentencePieceOracle) {
  const Tokenizer& tok = marian();
  size_t exact = 0;
  for (size_t i = 0; i < cases().size(); ++i) {
    const Case& c = cases()[i];
    const Ids got = tok.encode_with_special(c.text);
    EXPECT_EQ(got, c.ids) << "case " << i + 1 << ": " << nlohmann::json(c.text).dump();
    EXPECT_EQ(tok.encode(c.text), without_eos(c.ids)) << "case " << i + 1;
    exact += got == c.ids;
  }
  std::cout << "[ marian ] source ids exact " << exact << "/" << cases().size() << "\n";
}

TEST(MarianTokenizer, TargetIdsUseTheTargetModel) {
  const Tokenizer& tok = marian();
  size_t exact = 0, differ_from_source = 0;
  for (size_t i = 0; i < cases().size(); ++i) {
    const Case& c = cases()[i];
    const Ids got = tok.encode_target(c.text);
    EXPECT_EQ(got, c.target_ids) << "case " << i + 1 << ": " << nlohmann::json(c.text).dump();
    exact += got == c.target_ids;
    differ_from_source += c.target_ids != c.ids;
  }
  EXPECT_GT(differ_from_source, 100u);  // the two models really differ
  std::cout << "[ marian ] target ids exact " << exact << "/" << cases().size() << "\n";
}

TEST(MarianTokenizer, DecodeMatchesMarianTokenizerDecode) {
  const Tokenizer& tok = marian();
  size_t exact = 0;
  for (size_t i = 0; i < cases().size(); ++i) {
    const Case& c = cases()[i];
    const std::string decoded = tok.decode(c.ids);
    EXPECT_EQ(decoded, c.decoded) << "case " << i + 1 << ": " << nlohmann::json(c.text).dump();
    EXPECT_EQ(tok.decode(c.ids, /*skip_special=*/true), c.decoded_skip) << "case " << i + 1;
    EXPECT_EQ(tok.decode(c.target_ids, true), c.target_decoded_skip) << "case " << i + 1;
    exact += decoded == c.decoded;
  }
  std::cout << "[ marian ] decode exact " << exact << "/" << cases().size() << "\n";
}

TEST(MarianTokenizer, StreamDecoderConcatenatesToDecode) {
  const Tokenizer& tok = marian();
  for (const bool skip : {false, true}) {
    for (size_t i = 0; i < cases().size(); ++i) {
      const Case& c = cases()[i];
      StreamDecoder stream(tok, skip);
      std::string text;
      for (const int32_t id : c.target_ids) text += stream.push(id);
      text += stream.flush();
      EXPECT_EQ(text, tok.decode(c.target_ids, skip)) << "case " << i + 1 << " skip " << skip;
    }
  }
}

TEST(MarianTokenizer, SeparateVocabs) {
  FolderCopy dir;
  dir.set_config({{"separate_vocabs", true}, {"target_vocab_file", "/elsewhere/target_vocab.json"}});
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  for (size_t i = 0; i < cases().size(); ++i) {
    const Case& c = cases()[i];
    EXPECT_EQ(tok.encode_with_special(c.text), c.ids) << "case " << i + 1;
    EXPECT_EQ(tok.encode_target(c.text), c.sep_target_ids) << "case " << i + 1;
    EXPECT_EQ(tok.decode(c.sep_target_ids, true), c.sep_target_decoded_skip) << "case " << i + 1;
  }
  std::filesystem::remove(dir.path() / "target_vocab.json");
  EXPECT_THROW(Tokenizer::from_folder(dir.path()), Error);
}

TEST(MarianTokenizer, SpecialTokensAndRoles) {
  const Tokenizer& tok = marian();
  EXPECT_EQ(tok.special_id("eos"), 0);
  EXPECT_EQ(tok.special_id("unk"), 1);
  const int32_t pad = static_cast<int32_t>(tok.vocab_size()) - 1;
  EXPECT_EQ(tok.special_id("pad"), pad);
  EXPECT_EQ(tok.token_text(pad), "<pad>");
  EXPECT_FALSE(tok.special_id("bos").has_value());
  EXPECT_TRUE(tok.is_special(0) && tok.is_special(1) && tok.is_special(pad));
  EXPECT_FALSE(tok.is_special(2));
  // A language code is one token, from the vocab.
  const auto de = tok.token_id(">>de<<");
  ASSERT_TRUE(de.has_value());
  const Ids ids = tok.encode(">>de<< Hello");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), *de);
  EXPECT_EQ(Ids(ids.begin() + 1, ids.end()), tok.encode("Hello"));
  // Special tokens written in the text are cut out before SentencePiece sees the text.
  EXPECT_EQ(tok.encode("</s>"), Ids{0});
  EXPECT_EQ(tok.decode(Ids{*de, 0}), ">>de<<</s>");
  EXPECT_EQ(tok.decode(Ids{*de, 0}, true), ">>de<<");
  EXPECT_THROW(tok.decode(Ids{static_cast<int32_t>(tok.vocab_size())}), Error);
  EXPECT_THROW(tok.encode("bad \xFF utf-8"), Error);
}

TEST(MarianTokenizer, LanguageCodeLikeTransformersRegex) {
  auto split = [](std::string_view s) {
    const auto r = split_language_code(s);
    return std::pair{r.code, r.rest};
  };
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(split(">>de<< Hallo"), (P{">>de<<", " Hallo"}));
  EXPECT_EQ(split(">>de<<"), (P{">>de<<", ""}));
  EXPECT_EQ(split(">><<"), (P{"", ">><<"}));  // .+ needs a character
  EXPECT_EQ(split(">><<<"), (P{">><<<", ""}));
  EXPECT_EQ(split(">>a<< b <<c"), (P{">>a<< b <<", "c"}));  // greedy up to the last <<
  EXPECT_EQ(split(">>de\n<<"), (P{"", ">>de\n<<"}));        // '.' stops at a newline
  EXPECT_EQ(split("x >>fr<< y"), (P{"", "x  y"}));          // removed anywhere (re.sub)
  EXPECT_EQ(split(">>a<<\n>>b<<"), (P{">>a<<", "\n"}));
  EXPECT_EQ(split("ü>>é<<ü"), (P{"", "üü"}));
}

TEST(MarianTokenizer, PythonStrip) {
  EXPECT_EQ(python_strip(" \t\n\x1c a b \xC2\xA0\xE3\x80\x80"), "a b");  // U+001C, NBSP, U+3000
  EXPECT_EQ(python_strip("\xE2\x80\x8B" "a"), "\xE2\x80\x8B" "a");  // U+200B is not a space
  EXPECT_EQ(python_strip("   "), "");
  EXPECT_EQ(spaces_for_underlines("\xE2\x96\x81" "a" "\xE2\x96\x81\xE2\x96\x81" "b"), " a  b");
}

TEST(MarianTokenizer, LoadErrorsNameTheProblem) {
  {
    FolderCopy dir;
    dir.write("vocab.json", R"({"</s>": 0, "a": 1})");
    try {
      Tokenizer::from_folder(dir.path());
      FAIL() << "a vocab without <unk> must be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("<unk>"), std::string::npos) << e.what();
    }
  }
  {
    FolderCopy dir;
    dir.write("source.spm", "not a sentencepiece model");
    try {
      Tokenizer::from_folder(dir.path());
      FAIL() << "a broken model must be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("source.spm"), std::string::npos) << e.what();
    }
  }
  {
    FolderCopy dir;
    dir.set_config({{"unk_token", "<unknown>"}});
    // special_tokens_map.json wins over tokenizer_config.json, as in from_pretrained.
    EXPECT_NO_THROW(Tokenizer::from_folder(dir.path()));
    dir.write("special_tokens_map.json", R"({"unk_token": "<unknown>"})");
    EXPECT_THROW(Tokenizer::from_folder(dir.path()), Error);
  }
}

TEST(MarianTokenizer, ConfigNamesTheSpecialTokens) {
  FolderCopy dir;
  // pad outside the vocab is appended after it; an additional special token too.
  dir.set_config({{"pad_token", "<newpad>"}, {"additional_special_tokens", {">>fr<<"}}});
  dir.write("special_tokens_map.json", R"({"eos_token": "</s>", "unk_token": "<unk>"})");
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  const auto pad = tok.special_id("pad");
  ASSERT_TRUE(pad.has_value());
  EXPECT_EQ(static_cast<size_t>(*pad), marian().vocab_size());
  const auto fr = tok.token_id(">>fr<<");
  ASSERT_TRUE(fr.has_value());
  EXPECT_TRUE(tok.is_special(*fr));
  EXPECT_EQ(tok.encode("<newpad>"), Ids{*pad});
  EXPECT_EQ(tok.decode(Ids{*fr, *pad}, true), "");
}

}  // namespace
}  // namespace smol
