// `smol train` on an encoder-decoder end to end: a Marian fixture with a real SentencePiece
// tokenizer trained on JSONL / TSV pairs; the loss falls, the checkpoint is a transformers
// folder that `smol translate` runs, resume and MPI are exact, bf16 tracks fp32.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

namespace fs = std::filesystem;
using testing::run_process;

fs::path marian() { return testing::source_dir() / "tests" / "fixtures" / "seq2seq" / "marian-tied"; }

class TrainSeq2SeqCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("smol-train-s2s-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // A toy word-for-word English->German task: learnable in a few dozen steps.
    const std::map<std::string, std::string> de = {
        {"the", "das"},  {"house", "Haus"}, {"is", "ist"},   {"small", "klein"}, {"big", "groß"},
        {"a", "ein"},    {"dog", "Hund"},   {"cat", "Katze"}, {"red", "rot"},    {"blue", "blau"},
        {"and", "und"},  {"runs", "läuft"}, {"here", "hier"}, {"there", "dort"}};
    std::vector<std::string> words;
    for (const auto& [w, _] : de) words.push_back(w);
    std::mt19937 rng(7);
    std::ofstream jsonl(dir_ / "pairs.jsonl"), tsv(dir_ / "pairs.tsv");
    for (int i = 0; i < 64; ++i) {
      const int n = 2 + static_cast<int>(rng() % 8);
      std::string s, t;
      for (int k = 0; k < n; ++k) {
        const std::string& w = words[rng() % words.size()];
        s += (k ? " " : "") + w;
        t += (k ? " " : "") + de.at(w);
      }
      jsonl << nlohmann::json{{"source", s}, {"target", t}}.dump() << "\n";
      tsv << s << "\t" << t << "\n";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> args(const fs::path& out, int steps, const std::string& data = "pairs.jsonl") const {
    return {testing::smol_binary().string(), "train", "-m", marian().string(), "--data", (dir_ / data).string(),
            "--out", out.string(), "--steps", std::to_string(steps), "--batch", "4", "--lr", "3e-3",
            "--val-fraction", "0.125", "-t", "2", "-q"};
  }
  static std::vector<nlohmann::json> read_log(const fs::path& out, const std::string& type) {
    std::vector<nlohmann::json> records;
    std::ifstream in(out / "train_log.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      if (j["type"] == type) records.push_back(j);
    }
    return records;
  }
  static std::vector<double> losses(const fs::path& out) {
    std::vector<double> v;
    for (const auto& r : read_log(out, "train")) v.push_back(r["loss"].get<double>());
    return v;
  }
  static double mean(const std::vector<double>& v, size_t from, size_t to) {
    double s = 0.0;
    for (size_t i = from; i < to; ++i) s += v[i];
    return s / static_cast<double>(to - from);
  }

  fs::path dir_;
};

TEST_F(TrainSeq2SeqCli, LossFallsAndTheCheckpointIsATransformersFolder) {
  const fs::path out = dir_ / "out";
  auto a = args(out, 40);
  a.erase(std::find(a.begin(), a.end(), "-q"));
  const auto r = run_process(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("56 training pairs, 8 held out"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dropout 0.1 / attention 0 / activation 0"), std::string::npos) << r.err;  // config.json's
  const auto l = losses(out);
  ASSERT_EQ(l.size(), 40u);
  EXPECT_LT(mean(l, 35, 40), 0.8 * mean(l, 0, 5)) << l.front() << " -> " << l.back();
  const auto eval = read_log(out, "eval");
  ASSERT_EQ(eval.size(), 1u);
  EXPECT_GT(eval[0]["tokens"].get<int>(), 0);
  EXPECT_LT(eval[0]["val_loss"].get<double>(), l.front());

  // Names and shapes of every tensor, and the config's keys, as the fixture (save_pretrained).
  const SafetensorsFile got = SafetensorsFile::open(out / "model.safetensors");
  const SafetensorsFile want = SafetensorsFile::open(marian() / "model.safetensors");
  ASSERT_EQ(got.tensors().size(), want.tensors().size());
  for (const auto& [name, w] : want.tensors()) {
    ASSERT_NE(got.find(name), nullptr) << name;
    EXPECT_EQ(got.get(name).shape, w.shape) << name;
  }
  const auto cfg = read_json_file(out / "config.json"), fixture_cfg = read_json_file(marian() / "config.json");
  for (const auto& [k, v] : fixture_cfg.items()) EXPECT_EQ(cfg.at(k), v) << k;
  EXPECT_EQ(cfg.size(), fixture_cfg.size());
  for (const char* f : {"source.spm", "target.spm", "vocab.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  const auto tr = run_process({testing::smol_binary().string(), "translate", "-m", out.string(), "-p",
                               "the house is small", "--max-new-tokens", "8"});
  ASSERT_EQ(tr.exit_code, 0) << tr.err;
  EXPECT_EQ(std::count(tr.out.begin(), tr.out.end(), '\n'), 1) << tr.out;

  // The cache is used on the second run, and TSV gives the same pairs as JSONL.
  auto again = args(dir_ / "again", 2);
  again.erase(std::find(again.begin(), again.end(), "-q"));
  const auto r2 = run_process(again);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_NE(r2.err.find("read from"), std::string::npos) << r2.err;
  const auto r3 = run_process(args(dir_ / "tsv", 2, "pairs.tsv"));
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_EQ(losses(dir_ / "again"), losses(dir_ / "tsv"));
}

TEST_F(TrainSeq2SeqCli, TruncationIsReported) {
  auto a = args(dir_ / "out", 1);
  a.erase(std::find(a.begin(), a.end(), "-q"));
  for (const char* extra : {"--max-source-len", "4", "--max-target-len", "5"}) a.push_back(extra);
  const auto r = run_process(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("to --max-source-len 4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("to --max-target-len 5"), std::string::npos) << r.err;
}

TEST_F(TrainSeq2SeqCli, ResumeIsBitForBit) {
  // Shuffled buckets, all three dropouts, label smoothing, warmup, accumulation, cosine.
  auto run = [&](const fs::path& out, int steps) {
    auto a = args(out, steps);
    for (const char* extra : {"--grad-accum", "2", "--warmup", "2", "--seed", "3", "--label-smoothing", "0.1",
                              "--attention-dropout", "0.1", "--activation-dropout", "0.1", "--schedule", "cosine"}) {
      a.push_back(extra);
    }
    return a;
  };
  ASSERT_EQ(run_process(run(dir_ / "straight", 4)).exit_code, 0);
  ASSERT_EQ(run_process(run(dir_ / "half", 2)).exit_code, 0);
  auto resume = run(dir_ / "resumed", 4);
  resume.push_back("--resume");
  resume.push_back((dir_ / "half").string());
  const auto r = run_process(resume);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    const std::string a = testing::slurp(dir_ / "straight" / file), b = testing::slurp(dir_ / "resumed" / file);
    EXPECT_FALSE(a.empty());
    EXPECT_TRUE(a == b) << file << " differs after 2 + resume + 2 steps";
  }
  const auto half = losses(dir_ / "half"), resumed = losses(dir_ / "resumed"), straight = losses(dir_ / "straight");
  ASSERT_EQ(straight.size(), 4u);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(straight[2], resumed[0]);
  EXPECT_EQ(straight[3], resumed[1]);
  EXPECT_EQ(straight[0], half[0]);
}

TEST_F(TrainSeq2SeqCli, Bf16TracksTheFp32LossCurve) {
  auto run = [&](const std::string& precision) {
    auto a = args(dir_ / precision, 30);
    for (const char* extra : {"--precision", precision.c_str(), "--seed", "1"}) a.push_back(extra);
    const auto r = run_process(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return losses(dir_ / precision);
  };
  const auto fp32 = run("fp32"), bf16 = run("bf16");
  ASSERT_EQ(fp32.size(), 30u);
  ASSERT_EQ(bf16.size(), 30u);
  EXPECT_NE(fp32, bf16);  // bf16 really ran in bf16
  double worst = 0.0;
  for (size_t i = 0; i < fp32.size(); ++i) worst = std::max(worst, std::fabs(bf16[i] - fp32[i]) / fp32[i]);
  EXPECT_LT(worst, 0.03) << "worst relative gap of the bf16 loss curve";
  EXPECT_LT(fp32.back(), 0.85 * fp32.front());
  std::printf("bf16 vs fp32 loss curve: worst relative gap %.4f (fp32 %.3f -> %.3f)\n", worst, fp32.front(),
              fp32.back());
}

TEST_F(TrainSeq2SeqCli, WrongDataFailsWithOneLine) {
  std::ofstream(dir_ / "bad.jsonl") << R"({"text": "not a pair"})" << "\n";
  const auto r = run_process(args(dir_ / "out", 1, "bad.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("\"source\" and \"target\""), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

#ifdef SMOL_MPIEXEC
TEST_F(TrainSeq2SeqCli, MpiTwoRanksEqualOneProcess) {
  auto run = [&](const fs::path& out) {
    auto a = args(out, 3);
    *(std::find(a.begin(), a.end(), "-t") + 1) = "1";
    for (const char* extra : {"--seed", "5", "--label-smoothing", "0.1"}) a.push_back(extra);
    return a;
  };
  const auto single = run_process(run(dir_ / "np1"));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  std::vector<std::string> mpi = {SMOL_MPIEXEC, "--allow-run-as-root", "--oversubscribe", "-np", "2"};
  for (const auto& a : run(dir_ / "np2")) mpi.push_back(a);
  const auto parallel = run_process(mpi);
  ASSERT_EQ(parallel.exit_code, 0) << parallel.out << parallel.err;
  const auto l1 = read_log(dir_ / "np1", "train"), l2 = read_log(dir_ / "np2", "train");
  ASSERT_EQ(l1.size(), 3u);
  ASSERT_EQ(l2.size(), 3u);
  for (int s = 0; s < 3; ++s) {
    EXPECT_NEAR(l1[s]["loss"].get<double>(), l2[s]["loss"].get<double>(), 1e-6 * l1[s]["loss"].get<double>());
    EXPECT_NEAR(l1[s]["grad_norm"].get<double>(), l2[s]["grad_norm"].get<double>(),
                1e-5 * l1[s]["grad_norm"].get<double>());
  }
  const SafetensorsFile a = SafetensorsFile::open(dir_ / "np1" / "model.safetensors");
  const SafetensorsFile b = SafetensorsFile::open(dir_ / "np2" / "model.safetensors");
  for (const auto& [name, t] : a.tensors()) {
    double worst = 0.0;
    for (int64_t i = 0; i < t.numel(); ++i) worst = std::max(worst, std::fabs(double(t.f32()[i]) - b.get(name).f32()[i]));
    EXPECT_LT(worst, 2e-5) << name;
  }
}
#endif

}  // namespace
}  // namespace smol
