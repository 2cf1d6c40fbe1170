// smol translate / summarize under their contract: stdout holds one output per source, in
// input order, decoded as transformers' pipelines print them; the folder's generation config
// decides unless flags say otherwise; --json, --ids and --extractive; one-line errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/json_file.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

using testing::ProcessResult;
using testing::run_process;

namespace fs = std::filesystem;

std::string smol() { return testing::smol_binary().string(); }

fs::path fixture(const std::string& name) { return testing::source_dir() / "tests" / "fixtures" / "seq2seq" / name; }

std::string write_lines(const std::string& name, const std::vector<std::string>& lines) {
  const fs::path path = fs::temp_directory_path() / ("smol-seq2seq-cli-" + std::to_string(getpid()) + "-" + name);
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << "\n";
  return path.string();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

class Seq2SeqCli : public ::testing::TestWithParam<std::string> {
 protected:
  std::string model() const { return fixture(GetParam()).string(); }
  nlohmann::json texts() const { return read_json_file(fixture(GetParam()) / "expected.json")["texts"]; }
};

// Without flags the folder's generation_config.json (or config.json) decides: 4 beams,
// forced EOS, bad words... exactly as the reference generate() ran it.
TEST_P(Seq2SeqCli, FileOfSourcesGivesOneLinePerSourceInOrder) {
  const nlohmann::json cases = texts();
  std::vector<std::string> sources, expected;
  for (const auto& t : cases) {
    sources.push_back(t["text"]);
    expected.push_back(t["generation_config"]["text"]);
  }
  // Reversed and repeated: order must follow the input, whatever the batch.
  std::vector<std::string> input(sources.rbegin(), sources.rend());
  input.insert(input.end(), sources.begin(), sources.end());
  std::vector<std::string> want(expected.rbegin(), expected.rend());
  want.insert(want.end(), expected.begin(), expected.end());
  for (const char* batch : {"1", "16"}) {
    ProcessResult r = run_process({smol(), "translate", "-m", model(), "-f", write_lines("in.txt", input), "--batch",
                                   batch, "-t", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(lines_of(r.out), want) << "batch " << batch;
  }
}

TEST_P(Seq2SeqCli, FlagsOverrideTheFolderConfig) {
  for (const auto& t : texts()) {
    // -n caps the new tokens whatever the folder's max_length says.
    ProcessResult r = run_process({smol(), "summarize", "-m", model(), "-p", t["text"].get<std::string>(), "--beams",
                                   "1", "-n", "12", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json doc = nlohmann::json::parse(r.out);
    ASSERT_EQ(doc["outputs"].size(), 1u);
    EXPECT_LE(doc["outputs"][0]["ids"].size(), 12u);
    EXPECT_TRUE(doc["timings"].contains("tokens_per_second"));
  }
}

TEST_P(Seq2SeqCli, IdsInIdsOutNeedNoTokenizer) {
  const nlohmann::json expected = read_json_file(fixture(GetParam()) / "expected.json");
  std::vector<std::string> lines;
  for (const auto& s : expected["source_ids"]) lines.push_back(s.dump());
  ProcessResult r = run_process({smol(), "translate", "-m", model(), "-f", write_lines("ids.txt", lines), "--ids"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), lines.size());
  for (size_t i = 0; i < out.size(); ++i) {
    std::vector<int32_t> want = expected["generation"]["generation_config"]["sequences_one_by_one"][i];
    want.erase(want.begin());  // the decoder start token
    EXPECT_EQ(nlohmann::json::parse(out[i]).get<std::vector<int32_t>>(), want) << "source " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Seq2SeqCli, ::testing::Values("marian-tied", "marian-untied", "bart-untied"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Every sentence --extractive prints is a verbatim sentence of the source, in source order.
TEST(Seq2SeqCliExtractive, SentencesAreVerbatimAndInSourceOrder) {
  const std::vector<std::string> sentences = {"You may copy it.", "This is free!", "Go now?", "It is so.",
                                              "Read the license."};
  std::string source;
  for (const auto& s : sentences) source += (source.empty() ? "" : " ") + s;
  for (const char* k : {"1", "2", "3"}) {
    ProcessResult r = run_process({smol(), "summarize", "-m", fixture("bart-untied").string(), "-p", source,
                                   "--extractive", "--sentences", k, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json out = nlohmann::json::parse(r.out)["outputs"][0];
    const std::vector<int> chosen = out["sentences"];
    ASSERT_EQ(chosen.size(), static_cast<size_t>(std::stoi(k)));
    EXPECT_TRUE(std::is_sorted(chosen.begin(), chosen.end()));
    std::string joined;
    for (int i : chosen) joined += (joined.empty() ? "" : " ") + sentences.at(i);
    EXPECT_EQ(out["text"], joined);
    EXPECT_NE(source.find(sentences.at(chosen[0])), std::string::npos);
  }
}

TEST(Seq2SeqCliErrors, OneLineErrorsAndExitCodes) {
  const std::string m = fixture("marian-tied").string();
  ProcessResult none = run_process({smol(), "translate", "-m", m});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("-p TEXT or -f FILE"), std::string::npos) << none.err;
  ProcessResult flag = run_process({smol(), "translate", "-m", m, "-p", "x", "--beams", "0"});
  EXPECT_EQ(flag.exit_code, 2) << flag.err;
  ProcessResult weights = run_process({smol(), "translate", "-m", m, "-p", "x", "--weights", "q4_0"});
  EXPECT_EQ(weights.exit_code, 2) << weights.err;
  const std::string long_text(2000, 'a');
  ProcessResult overlong = run_process({smol(), "translate", "-m", m, "-p", long_text});
  EXPECT_EQ(overlong.exit_code, 1);
  EXPECT_NE(overlong.err.find("max_position_embeddings"), std::string::npos) << overlong.err;
  EXPECT_EQ(std::count(overlong.err.begin(), overlong.err.end(), '\n'), 1) << overlong.err;
  ProcessResult ids = run_process({smol(), "translate", "-m", m, "-p", "[1, \"x\"]", "--ids"});
  EXPECT_EQ(ids.exit_code, 1);
  EXPECT_NE(ids.err.find("--ids"), std::string::npos) << ids.err;
  ProcessResult convert = run_process({smol(), "convert", m, (fs::temp_directory_path() / "x.gguf").string()});
  EXPECT_EQ(convert.exit_code, 1);
  EXPECT_NE(convert.err.find("encoder-decoder"), std::string::npos) << convert.err;
}

// generate on an encoder-decoder folder takes the prompt as the source, as translate does.
TEST(Seq2SeqCliErrors, GenerateOnAnEncoderDecoderRunsIt) {
  const std::string m = fixture("marian-tied").string();
  ProcessResult r = run_process({smol(), "generate", "-m", m, "-p", "You may copy it."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json texts = read_json_file(fixture("marian-tied") / "expected.json")["texts"];
  EXPECT_EQ(r.out, texts[1]["generation_config"]["text"].get<std::string>());
}

}  // namespace
}  // namespace smol

namespace smol {
namespace {

// A decoder-only Instruct model: summarize is the chat template with a task instruction, so
// it prints what generate --chat prints for that instruction (greedy).
TEST(Seq2SeqCliInstruct, SummarizeIsTheChatTemplateWithAnInstruction) {
  const std::string m = (testing::source_dir() / "models" / "tiny-random-bf16").string();
  const std::string text = "The cat sat on the mat. It was warm.";
  ProcessResult s = run_process({smol(), "summarize", "-m", m, "-p", text, "-n", "8"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  ProcessResult g = run_process({smol(), "generate", "-m", m, "--chat", "-p",
                                 "Summarize the following text in one or two sentences.\n\n" + text, "-n", "8", "--temp",
                                 "0"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(s.out, g.out + "\n");
  EXPECT_FALSE(g.out.empty());
}

}  // namespace
}  // namespace smol

namespace smol {
namespace {

// config.json's task_specific_params.summarization applies to summarize (not to translate),
// over the generation config, and its prefix goes before every source, as in pipelines.
TEST(Seq2SeqCliTaskParams, SummarizationParamsAndPrefixApplyToSummarize) {
  const fs::path src = fixture("bart-untied");
  const fs::path dir = fs::temp_directory_path() / ("smol-task-params-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::copy(src, dir);
  nlohmann::json config = read_json_file(dir / "config.json");
  config["task_specific_params"] = {{"summarization", {{"num_beams", 1}, {"max_length", 6}, {"prefix", "Go now. "}}}};
  std::ofstream(dir / "config.json") << config.dump();
  const std::string text = "You may copy it.";
  ProcessResult s = run_process({smol(), "summarize", "-m", dir.string(), "-p", text, "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  ProcessResult t = run_process({smol(), "translate", "-m", dir.string(), "-p", "Go now. " + text, "--beams", "1",
                                 "--max-length", "6", "--json"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const auto summary_ids = nlohmann::json::parse(s.out)["outputs"][0]["ids"];
  EXPECT_EQ(summary_ids, nlohmann::json::parse(t.out)["outputs"][0]["ids"]);
  EXPECT_LE(summary_ids.size(), 5u);
  // translate ignores the summarization params: the folder's own 3 beams and max length.
  ProcessResult plain = run_process({smol(), "translate", "-m", dir.string(), "-p", text, "--json"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_GT(nlohmann::json::parse(plain.out)["outputs"][0]["ids"].size(), 5u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace smol
