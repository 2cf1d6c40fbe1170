// smol eval-seq2seq end to end: it generates what `smol translate` generates (the fixture's
// reference outputs), scores them as the metrics library does, and --hyps scores a file of
// outputs to the oracle's corpus values; progress on stderr, JSON on stdout, one-line errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/json_file.hpp"
#include "smol/text_metrics.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using testing::ProcessResult;
using testing::run_process;

namespace fs = std::filesystem;

std::string smol() { return testing::smol_binary().string(); }

fs::path marian() { return testing::source_dir() / "tests" / "fixtures" / "seq2seq" / "marian-tied"; }

std::string write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << "\n";
  return path.string();
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void expect_metrics(const nlohmann::json& got, const TextMetrics& want) {
  EXPECT_NEAR(got["bleu"].get<double>(), want.bleu, 1e-9);
  EXPECT_NEAR(got["chrf"].get<double>(), want.chrf, 1e-9);
  EXPECT_NEAR(got["rouge1"].get<double>(), want.rouge1, 1e-12);
  EXPECT_NEAR(got["rouge2"].get<double>(), want.rouge2, 1e-12);
  EXPECT_NEAR(got["rougeL"].get<double>(), want.rouge_l, 1e-12);
  EXPECT_EQ(got["sentences"].get<int64_t>(), want.sentences);
}

// References that share some words and characters with the fixture's (random-weight)
// outputs, so no score is trivially 0 or 100.
const std::vector<std::string> kReferences = {
    "able able table", "General General General Generalable", "ableableable"};

TEST(EvalSeq2SeqCli, GeneratesAsTranslateDoesAndScoresTheOutputs) {
  const nlohmann::json texts = read_json_file(marian() / "expected.json")["texts"];
  ASSERT_EQ(texts.size(), kReferences.size());
  std::vector<std::string> sources, expected;
  for (const auto& t : texts) {
    sources.push_back(t["text"]);
    expected.push_back(t["generation_config"]["text"]);
  }
  testing::TempDir dir;
  const std::string src = write_lines(dir / "src.txt", sources);
  const std::string refs = write_lines(dir / "refs.txt", kReferences);
  // Batches of 2 over 3 sources: the order must still follow the input.
  ProcessResult r = run_process({smol(), "eval-seq2seq", "-m", marian().string(), "-f", src, "--refs", refs, "--json",
                                 "--batch", "2", "-o", (dir / "hyps.txt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_lines(dir / "hyps.txt"), expected);
  const nlohmann::json got = nlohmann::json::parse(r.out);
  for (const char* key : {"bleu", "chrf", "rouge1", "rouge2", "rougeL", "sentences", "seconds"}) {
    EXPECT_TRUE(got.contains(key)) << key << " in " << r.out;
  }
  expect_metrics(got, score_corpus(expected, kReferences));
  EXPECT_GT(got["chrf"].get<double>(), 0.0);
  EXPECT_LT(got["chrf"].get<double>(), 100.0);
  EXPECT_NE(r.err.find("3/3 sentences"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2/3 sentences"), std::string::npos) << r.err;

  // The fixture's outputs as references: a perfect BLEU and chrF.
  ProcessResult self = run_process({smol(), "eval-seq2seq", "-m", marian().string(), "-f", src, "--refs",
                                    write_lines(dir / "expected.txt", expected), "--json"});
  ASSERT_EQ(self.exit_code, 0) << self.err;
  const nlohmann::json perfect = nlohmann::json::parse(self.out);
  EXPECT_NEAR(perfect["bleu"].get<double>(), 100.0, 1e-9);
  EXPECT_NEAR(perfect["chrf"].get<double>(), 100.0, 1e-9);
  EXPECT_NEAR(perfect["rougeL"].get<double>(), 1.0, 1e-12);
}

// --hyps without a model, on the oracle's generated corpus (no newlines inside its strings).
TEST(EvalSeq2SeqCli, HypsFileScoresToTheOracleValues) {
  const nlohmann::json doc = read_json_file(testing::source_dir() / "tests" / "fixtures" / "metrics" / "cases.json");
  const nlohmann::json* corpus = nullptr;
  for (const auto& c : doc["corpora"]) {
    if (c["name"] == "generated") corpus = &c;
  }
  ASSERT_NE(corpus, nullptr);
  std::vector<std::string> hyps, refs;
  for (size_t i = (*corpus)["first"]; i < (*corpus)["last"].get<size_t>(); ++i) {
    hyps.push_back(doc["cases"][i]["hypothesis"]);
    refs.push_back(doc["cases"][i]["reference"]);
  }
  testing::TempDir dir;
  ProcessResult r = run_process({smol(), "eval-seq2seq", "--hyps", write_lines(dir / "h.txt", hyps), "--refs",
                                 write_lines(dir / "r.txt", refs), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json got = nlohmann::json::parse(r.out);
  EXPECT_NEAR(got["bleu"].get<double>(), (*corpus)["bleu"].get<double>(), 1e-9);
  EXPECT_NEAR(got["chrf"].get<double>(), (*corpus)["chrf"].get<double>(), 1e-9);
  EXPECT_NEAR(got["rouge1"].get<double>(), (*corpus)["rouge1"].get<double>(), 1e-12);
  EXPECT_NEAR(got["rouge2"].get<double>(), (*corpus)["rouge2"].get<double>(), 1e-12);
  EXPECT_NEAR(got["rougeL"].get<double>(), (*corpus)["rougeL"].get<double>(), 1e-12);
  EXPECT_EQ(got["sentences"].get<size_t>(), hyps.size());

  // Without --json: one human-readable line.
  ProcessResult text = run_process({smol(), "eval-seq2seq", "--hyps", (dir / "h.txt").string(), "--refs",
                                    (dir / "r.txt").string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("BLEU ", 0), 0u) << text.out;
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 1) << text.out;
}

TEST(EvalSeq2SeqCli, OneLineErrors) {
  testing::TempDir dir;
  const std::string two = write_lines(dir / "two.txt", {"a", "b"});
  const std::string three = write_lines(dir / "three.txt", {"a", "b", "c"});
  ProcessResult counts = run_process({smol(), "eval-seq2seq", "--hyps", two, "--refs", three});
  EXPECT_EQ(counts.exit_code, 1);
  EXPECT_NE(counts.err.find("one reference line per hypothesis"), std::string::npos) << counts.err;
  EXPECT_EQ(std::count(counts.err.begin(), counts.err.end(), '\n'), 1) << counts.err;
  ProcessResult sources = run_process({smol(), "eval-seq2seq", "-m", marian().string(), "-f", two, "--refs", three});
  EXPECT_EQ(sources.exit_code, 1);
  EXPECT_NE(sources.err.find("one reference line per source"), std::string::npos) << sources.err;
  ProcessResult no_refs = run_process({smol(), "eval-seq2seq", "--hyps", two});
  EXPECT_EQ(no_refs.exit_code, 2) << no_refs.err;
  ProcessResult nothing = run_process({smol(), "eval-seq2seq", "--refs", two});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("--hyps FILE"), std::string::npos) << nothing.err;
  ProcessResult both = run_process({smol(), "eval-seq2seq", "-m", marian().string(), "--hyps", two, "--refs", two});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("leave out -m"), std::string::npos) << both.err;
  const std::string decoder_only = (testing::source_dir() / "models" / "tiny-random-bf16").string();
  ProcessResult llama = run_process({smol(), "eval-seq2seq", "-m", decoder_only, "-f", two, "--refs", two});
  EXPECT_EQ(llama.exit_code, 1);
  EXPECT_NE(llama.err.find("not an encoder-decoder"), std::string::npos) << llama.err;
  ProcessResult empty = run_process({smol(), "eval-seq2seq", "--hyps", write_lines(dir / "e.txt", {}), "--refs",
                                     (dir / "e.txt").string()});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("nothing to score"), std::string::npos) << empty.err;
}

}  // namespace
}  // namespace smol
