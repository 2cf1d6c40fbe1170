// Tokenizer::from_folder: tokenizer.json folders, vocab.json + merges.txt folders built from the
// real SmolLM2 vocab (which must encode the shared fixture strings exactly as its tokenizer.json
// does), the post-processors behind encode_with_special, and the folder-level errors.
#include <gtest/gtest.h>

#include <algorithm>
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

namespace smol {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<int32_t>;

fs::path real_dir() { return testing::shared_dir() / "models" / "SmolLM2-135M-Instruct"; }

const json& real_tokenizer_json() {
  static const json j = [] {
    std::ifstream in(real_dir() / "tokenizer.json");
    return json::parse(in);
  }();
  return j;
}

const Tokenizer& real_tokenizer() {
  static const Tokenizer tok = Tokenizer::from_file(real_dir() / "tokenizer.json");
  return tok;
}

std::vector<std::string> fixture_strings() {
  std::ifstream in(testing::fixtures_dir() / "tokenizer" / "cases.jsonl");
  EXPECT_TRUE(in);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line).get<std::string>());
  }
  return out;
}

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("smol_folder_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary | std::ios::trunc) << text;
  }

 private:
  fs::path path_;
};

// The files a slow GPT-2/BART tokenizer saves, from the real tokenizer.json: vocab.json,
// merges.txt with its "#version" header, and tokenizer_config.json holding the real added
// tokens (added_tokens_decoder) plus `config`.
void write_vocab_merges(const TempDir& dir, const json& config) {
  const json& model = real_tokenizer_json().at("model");
  dir.write("vocab.json", model.at("vocab").dump());
  std::string merges = "#version: 0.2\n";
  for (const json& m : model.at("merges")) {
    merges += m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>();
    merges += '\n';
  }
  dir.write("merges.txt", merges);
  json decoder = json::object();
  for (const json& t : real_tokenizer_json().at("added_tokens")) {
    decoder[std::to_string(t.at("id").get<int>())] = {
        {"content", t.at("content")}, {"lstrip", t.at("lstrip")}, {"rstrip", t.at("rstrip")},
        {"normalized", t.at("normalized")}, {"single_word", t.at("single_word")},
        {"special", t.at("special")}};
  }
  json full = {{"added_tokens_decoder", decoder}};
  full.update(config);
  dir.write("tokenizer_config.json", full.dump());
}

// What transformers' GPT2Converter / RobertaConverter write for vocab.json + merges.txt: the
// real tokenizer.json with ByteLevel as its only pre-tokenizer (SmolLM2's own also splits
// digits first, which no vocab.json + merges.txt folder can say).
const Tokenizer& converted_reference() {
  static const Tokenizer tok = [] {
    json j = real_tokenizer_json();
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false},
                          {"trim_offsets", true}, {"use_regex", true}};
    return Tokenizer::from_json_text(j.dump(), "converted.json");
  }();
  return tok;
}

void expect_same_encoding(const Tokenizer& tok, const Tokenizer& reference) {
  const auto strings = fixture_strings();
  ASSERT_EQ(strings.size(), 342u);
  size_t exact = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const Ids want = reference.encode(strings[i]);
    const Ids got = tok.encode(strings[i]);
    EXPECT_EQ(got, want) << "line " << i + 1 << ": " << json(strings[i]).dump();
    EXPECT_EQ(tok.decode(got), reference.decode(want)) << "line " << i + 1;
    exact += got == want;
  }
  std::cout << "[ folder ] encode equal to the reference " << exact << "/" << strings.size() << "\n";
}

void expect_same_as_tokenizer_json(const Tokenizer& tok) { expect_same_encoding(tok, real_tokenizer()); }

// vocab.json + merges.txt against the converter's tokenizer.json: every case equal; against
// SmolLM2's own tokenizer.json, only strings with digits may differ.
void expect_same_as_converted(const Tokenizer& tok) {
  expect_same_encoding(tok, converted_reference());
  size_t same_as_real = 0;
  for (const auto& s : fixture_strings()) {
    const bool same = tok.encode(s) == real_tokenizer().encode(s);
    same_as_real += same;
    const bool digits = std::any_of(s.begin(), s.end(), [](char c) {
      return (c >= '0' && c <= '9') || static_cast<unsigned char>(c) >= 0x80;
    });
    if (!same) {
      EXPECT_TRUE(digits) << json(s).dump();
    }
  }
  std::cout << "[ folder ] equal to SmolLM2's tokenizer.json (Digits pre-tokenizer) " << same_as_real
            << "/342\n";
}

TEST(FolderTokenizer, TokenizerJsonFolderReadsTheConfigRoles) {
  const Tokenizer tok = Tokenizer::from_folder(real_dir());
  expect_same_as_tokenizer_json(tok);
  EXPECT_EQ(tok.special_id("bos"), 1);  // <|im_start|>
  EXPECT_EQ(tok.special_id("eos"), 2);  // <|im_end|>
  EXPECT_EQ(tok.special_id("pad"), 2);
  EXPECT_EQ(tok.special_id("unk"), 0);  // <|endoftext|>
  EXPECT_FALSE(tok.special_id("mask").has_value());
  EXPECT_EQ(tok.clean_up_tokenization_spaces(), false);
  EXPECT_EQ(tok.vocab_size(), 49152u);
  // No post-processor: nothing is added.
  EXPECT_EQ(tok.encode_with_special("Hello world"), tok.encode("Hello world"));
  EXPECT_EQ(tok.encode_target("Hello world"), tok.encode("Hello world"));
  // from_file sees no config.
  EXPECT_FALSE(real_tokenizer().special_id("eos").has_value());
}

TEST(FolderTokenizer, Gpt2VocabMergesEqualsTokenizerJson) {
  TempDir dir;
  write_vocab_merges(dir, {{"tokenizer_class", "GPT2Tokenizer"}});
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  expect_same_as_converted(tok);
  EXPECT_EQ(tok.vocab_size(), 49152u);
  EXPECT_EQ(tok.encode_with_special("Hello"), tok.encode("Hello"));
  EXPECT_EQ(tok.special_id("eos"), 0);  // GPT-2's default <|endoftext|>
  EXPECT_TRUE(tok.is_special(2));
}

TEST(FolderTokenizer, BartVocabMergesAddsRobertaSpecialTokens) {
  TempDir dir;
  write_vocab_merges(dir, {{"tokenizer_class", "BartTokenizer"}});
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  expect_same_as_converted(tok);
  // Not in this vocab: appended in transformers' order bos, eos, unk, (sep), pad, (cls), mask.
  EXPECT_EQ(tok.token_id("<s>"), 49152);
  EXPECT_EQ(tok.token_id("</s>"), 49153);
  EXPECT_EQ(tok.token_id("<unk>"), 49154);
  EXPECT_EQ(tok.token_id("<pad>"), 49155);
  EXPECT_EQ(tok.token_id("<mask>"), 49156);
  EXPECT_EQ(tok.vocab_size(), 49157u);
  EXPECT_EQ(tok.special_id("bos"), 49152);
  EXPECT_EQ(tok.special_id("cls"), 49152);
  EXPECT_EQ(tok.special_id("sep"), 49153);
  EXPECT_TRUE(tok.is_special(49156));
  for (const std::string text : {"Hello world", "", " leading", "naïve café"}) {
    Ids want = {49152};
    const Ids body = tok.encode(text);
    want.insert(want.end(), body.begin(), body.end());
    want.push_back(49153);
    EXPECT_EQ(tok.encode_with_special(text), want) << text;
    EXPECT_EQ(tok.encode_target(text), want) << text;
  }
  EXPECT_EQ(tok.encode("<s>x</s>"), (Ids{49152, *tok.token_id("x"), 49153}));
  EXPECT_EQ(tok.decode(tok.encode_with_special("Hi there"), /*skip_special=*/true), "Hi there");
  EXPECT_EQ(tok.decode(tok.encode_with_special("Hi there")), "<s>Hi there</s>");
}

TEST(FolderTokenizer, BartMaskSwallowsTheSpaceBeforeIt) {
  TempDir dir;
  write_vocab_merges(dir, {{"tokenizer_class", "BartTokenizer"}, {"mask_token", "<mask>"}});
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  const int32_t mask = *tok.token_id("<mask>");
  auto join = [](std::initializer_list<Ids> parts) {
    Ids out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  // lstrip: "Hello <mask> world" is "Hello" + <mask> + " world".
  EXPECT_EQ(tok.encode("Hello <mask> world"), join({tok.encode("Hello"), {mask}, tok.encode(" world")}));
  EXPECT_EQ(tok.encode("Hello   <mask>"), join({tok.encode("Hello"), {mask}}));
  EXPECT_EQ(tok.encode("<mask>!"), join({{mask}, tok.encode("!")}));

  // Spelled as an AddedToken object, the config's flags win: no lstrip, the space stays.
  TempDir plain;
  write_vocab_merges(plain, {{"tokenizer_class", "BartTokenizer"},
                             {"mask_token", {{"content", "<mask>"}, {"lstrip", false}, {"rstrip", false},
                                             {"normalized", false}, {"single_word", false},
                                             {"__type", "AddedToken"}}}});
  const Tokenizer no_strip = Tokenizer::from_folder(plain.path());
  EXPECT_EQ(no_strip.encode("Hello <mask> world"),
            join({no_strip.encode("Hello "), {mask}, no_strip.encode(" world")}));
}

TEST(FolderTokenizer, AddPrefixSpaceFromConfig) {
  TempDir dir;
  write_vocab_merges(dir, {{"tokenizer_class", "BartTokenizer"}, {"add_prefix_space", true}});
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  EXPECT_EQ(tok.encode("Hello world"), converted_reference().encode(" Hello world"));
  EXPECT_EQ(tok.encode(" Hello"), converted_reference().encode(" Hello"));
  EXPECT_EQ(tok.encode("a\nb"), converted_reference().encode(" a\nb"));
}

TEST(FolderTokenizer, SpecialTokensMapAndAddedTokensJson) {
  TempDir dir;
  write_vocab_merges(dir, {{"tokenizer_class", "BartTokenizer"}, {"eos_token", "<|im_end|>"}});
  dir.write("special_tokens_map.json", R"({"bos_token": "<|im_start|>"})");
  dir.write("added_tokens.json", R"({"<extra_1>": 49160})");
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  EXPECT_EQ(tok.special_id("bos"), 1);
  EXPECT_EQ(tok.special_id("eos"), 2);
  EXPECT_EQ(tok.token_id("<extra_1>"), 49160);
  EXPECT_TRUE(tok.is_added(49160));
  EXPECT_FALSE(tok.is_special(49160));
  EXPECT_EQ(tok.encode("a<extra_1>"), (Ids{*tok.token_id("a"), 49160}));
  const Ids body = tok.encode("Hi");
  Ids want = {*tok.special_id("cls")};
  want.insert(want.end(), body.begin(), body.end());
  want.push_back(*tok.special_id("sep"));
  EXPECT_EQ(tok.encode_with_special("Hi"), want);
}

// Found by review while building the fuzz targets: an id past int32 in added_tokens.json
// wrapped to a negative id.
TEST(FolderTokenizer, AddedTokensJsonIdPastInt32IsAnError) {
  TempDir dir;
  write_vocab_merges(dir, {{"tokenizer_class", "BartTokenizer"}});
  dir.write("added_tokens.json", R"({"<extra_1>": 4294967295})");
  EXPECT_THROW(Tokenizer::from_folder(dir.path()), Error);
}

// The same out_of_range as in tokenizer.json (fuzzing): tokenizer_config.json with 1e400.
TEST(FolderTokenizer, NumberOverflowInTokenizerConfigIsAnError) {
  TempDir dir;
  write_vocab_merges(dir, {{"tokenizer_class", "BartTokenizer"}});
  dir.write("tokenizer_config.json", R"({"tokenizer_class": "BartTokenizer", "model_max_length": 1e400})");
  EXPECT_THROW(Tokenizer::from_folder(dir.path()), Error);
}

TEST(FolderTokenizer, MergesTxtIsReadAsGpt2TokenizerReadsIt) {
  // Toy byte-level vocab: a, b, ab. The first line is always the header; the text after the
  // last newline is dropped (split("\n")[1:-1]).
  TempDir dir;
  dir.write("vocab.json", R"({"a": 0, "b": 1, "ab": 2, "c": 3, "bc": 4})");
  dir.write("tokenizer_config.json", R"({"tokenizer_class": "GPT2Tokenizer"})");
  dir.write("merges.txt", "#version: 0.2\na b\nb c");
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  EXPECT_EQ(tok.encode("ab"), (Ids{2}));
  EXPECT_EQ(tok.encode("bc"), (Ids{1, 3}));  // "b c" had no newline after it
  dir.write("merges.txt", "#version: 0.2\na b\nb c\n");
  EXPECT_EQ(Tokenizer::from_folder(dir.path()).encode("bc"), (Ids{4}));
  dir.write("merges.txt", "#version: 0.2\na b c\n");
  EXPECT_THROW(Tokenizer::from_folder(dir.path()), Error);
}

json with_post_processor(const json& post) {
  json j = real_tokenizer_json();
  j["post_processor"] = post;
  return j;
}

TEST(FolderTokenizer, PostProcessorsOfTokenizerJson) {
  const Tokenizer& base = real_tokenizer();
  const Ids body = base.encode("Hello world");
  auto wrapped = [&](Ids prefix, Ids suffix) {
    prefix.insert(prefix.end(), body.begin(), body.end());
    prefix.insert(prefix.end(), suffix.begin(), suffix.end());
    return prefix;
  };
  const json roberta = {{"type", "RobertaProcessing"}, {"sep", {"<|im_end|>", 2}},
                        {"cls", {"<|im_start|>", 1}}, {"trim_offsets", true}, {"add_prefix_space", false}};
  const json bert = {{"type", "BertProcessing"}, {"sep", {"<|im_end|>", 2}}, {"cls", {"<|im_start|>", 1}}};
  const json templ = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<|im_start|>"}, {"type_id", 0}}}},
                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                  {{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}}}},
      {"pair", json::array()},
      {"special_tokens", {{"<|im_start|>", {{"id", "<|im_start|>"}, {"ids", {1}}, {"tokens", {"<|im_start|>"}}}},
                          {"<|endoftext|>", {{"id", "<|endoftext|>"}, {"ids", {0}}, {"tokens", {"<|endoftext|>"}}}}}}};
  const json sequence = {{"type", "Sequence"},
                         {"processors", {{{"type", "ByteLevel"}, {"trim_offsets", false}}, templ}}};
  const std::pair<json, Ids> cases[] = {
      {roberta, wrapped({1}, {2})}, {bert, wrapped({1}, {2})}, {templ, wrapped({1}, {0})},
      {sequence, wrapped({1}, {0})}, {json{{"type", "ByteLevel"}}, body}};
  for (const auto& [post, want] : cases) {
    const Tokenizer tok = Tokenizer::from_json_text(with_post_processor(post).dump(), "t.json");
    EXPECT_EQ(tok.encode_with_special("Hello world"), want) << post.dump();
    EXPECT_EQ(tok.encode("Hello world"), body) << post.dump();
  }
  EXPECT_THROW(Tokenizer::from_json_text(with_post_processor({{"type", "Magic"}}).dump(), "t.json"), Error);
}

TEST(FolderTokenizer, FolderWithoutTokenizerFilesSaysWhatWasLookedFor) {
  TempDir dir;
  dir.write("vocab.json", "{}");  // vocab.json alone is not enough
  try {
    Tokenizer::from_folder(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const char* name : {"tokenizer.json", "merges.txt", "source.spm", "target.spm", "vocab.json"}) {
      EXPECT_NE(what.find(name), std::string::npos) << what;
    }
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
  EXPECT_THROW(Tokenizer::from_folder(dir.path() / "missing"), Error);
}

TEST(FolderTokenizer, CleanUpTokenizationLikeTransformers) {
  EXPECT_EQ(clean_up_tokenization("Hello , world ! Is it ? Yes . I do n't know , he 's here ."),
            "Hello, world! Is it? Yes. I don't know, he's here.");
  EXPECT_EQ(clean_up_tokenization("we 're you 've I 'm a ' b"), "we're you've I'm a'b");
  EXPECT_EQ(clean_up_tokenization("nothing to do"), "nothing to do");
}

}  // namespace
}  // namespace smol
