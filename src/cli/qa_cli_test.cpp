// `smol qa` through the real binary with a random-weight model, and POST /v1/qa: an
// extractive answer is always a verbatim span of the context and its code-point offsets
// point at it, on 50 (context, question) pairs sampled with different seeds.
#include <gtest/gtest.h>

#include <fstream>

#include "test_support/run_process.hpp"
#include "test_support/serve_process.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using nlohmann::json;
using testing::ProcessResult;
using testing::run_process;

std::string random_model() { return (testing::source_dir() / "models" / "tiny-random-bf16").string(); }

// The text as code points, to check offsets independently of smol's counting.
std::u32string code_points(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const int n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    char32_t c = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(c);
    i += n;
  }
  return out;
}

// 50 pairs: sentences about places and people, some with accents, quotes, digits and emoji.
std::vector<std::pair<std::string, std::string>> qa_pairs() {
  const std::vector<std::string> subjects = {"Paris", "Zürich", "the river Saône", "Ōsaka", "the old mill",
                                             "Mrs. O'Neil", "the café «Chez Léon»", "Kraków", "the 42nd street", "Δelta"};
  const std::vector<std::string> facts = {"was founded in 1291 by three farmers",
                                          "has 2.1 million inhabitants 🏙️ and many bridges",
                                          "lies 300 km north of the sea, near a lake",
                                          "is known for its bread, cheese and wine",
                                          "closed in 1999 after a long strike"};
  const std::vector<std::string> questions = {"When was it founded?", "How many people live there?",
                                              "Where is it?", "What is it known for?", "What happened in 1999?"};
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < 50; ++i) {
    const std::string& a = subjects[i % subjects.size()];
    const std::string& b = subjects[(i * 7 + 3) % subjects.size()];
    std::string context = a + " " + facts[i % facts.size()] + ". " + b + " " + facts[(i + 2) % facts.size()] + ".";
    if (i % 3 == 0) context += "\nNobody knows why.\n";
    pairs.push_back({context, questions[(i / 2) % questions.size()]});
  }
  return pairs;
}

void expect_span(const std::string& context, const json& out, const std::string& what) {
  ASSERT_TRUE(out["answer"].is_string()) << what << out;
  const std::string answer = out["answer"];
  EXPECT_NE(context.find(answer), std::string::npos) << what << ": '" << answer << "' is not in the context";
  const std::u32string cp = code_points(context);
  const int64_t start = out["start"], end = out["end"];
  ASSERT_TRUE(0 <= start && start <= end && end <= static_cast<int64_t>(cp.size())) << what << out;
  EXPECT_EQ(cp.substr(start, end - start), code_points(answer)) << what << out;
}

TEST(QaCli, ExtractiveAnswersAreSpansWithTheirOffsetsOn50Pairs) {
  testing::TempDir dir;
  int non_empty = 0;
  const auto pairs = qa_pairs();
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& [context, question] = pairs[i];
    const auto file = dir.path() / ("context-" + std::to_string(i) + ".txt");
    std::ofstream(file, std::ios::binary) << context;
    const ProcessResult r = run_process({testing::smol_binary().string(), "qa", "-m", random_model(), "--context",
                                         file.string(), "-q", question, "--extractive", "--json", "--temp", "1.0",
                                         "--seed", std::to_string(i), "-n", "12", "-t", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json out;
    ASSERT_NO_THROW(out = json::parse(r.out)) << r.out;
    EXPECT_EQ(out.size(), 3u) << out;
    expect_span(context, out, "pair " + std::to_string(i));
    non_empty += !out["answer"].get<std::string>().empty();
  }
  // An end token is refused until the span holds more than whitespace: only a span cut by the
  // token limit can be empty.
  EXPECT_GE(non_empty, 45);
  std::printf("extractive answers: 50/50 spans with right offsets, %d non-empty\n", non_empty);
}

TEST(QaCli, PlainOutputAndFreeAnswers) {
  testing::TempDir dir;
  const auto file = dir.path() / "context.txt";
  const std::string context = "The bridge in Zürich is 120 m long.";
  std::ofstream(file, std::ios::binary) << context;
  ProcessResult r = run_process({testing::smol_binary().string(), "qa", "-m", random_model(), "--context", file.string(),
                                 "-q", "How long is it?", "--extractive", "-n", "8", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_NE(context.find(r.out.substr(0, r.out.size() - 1)), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("characters "), std::string::npos) << r.err;

  // Without --extractive the answer is free text: offsets only when it occurs in the context.
  r = run_process({testing::smol_binary().string(), "qa", "-m", random_model(), "--context", file.string(), "-q",
                   "How long is it?", "--json", "-n", "6", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  if (out["start"].is_null()) {
    EXPECT_EQ(context.find(out["answer"].get<std::string>()), std::string::npos) << out;
    EXPECT_TRUE(out["end"].is_null());
  } else {
    expect_span(context, out, "free answer");
  }
}

TEST(QaCli, MistakesAreOneLineErrors) {
  testing::TempDir dir;
  const auto empty = dir.path() / "empty.txt";
  std::ofstream(empty) << "";
  const auto bad = dir.path() / "latin1.txt";
  std::ofstream(bad, std::ios::binary) << "caf\xE9";
  const std::string smol = testing::smol_binary().string();
  struct Call {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Call> calls = {
      {{"--context", empty.string(), "-q", "x"}, 1, "the context file is empty"},
      {{"--context", bad.string(), "-q", "x", "--extractive"}, 1, "not valid UTF-8"},
      {{"--context", (dir.path() / "missing.txt").string(), "-q", "x"}, 2, "missing.txt"},
      {{"--context", empty.string()}, 2, "--question"},
  };
  for (const Call& c : calls) {
    std::vector<std::string> argv = {smol, "qa", "-m", random_model()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const ProcessResult r = run_process(argv);
    EXPECT_EQ(r.exit_code, c.code) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const ProcessResult r = run_process({smol, "qa", "-m", (testing::source_dir() / "models" / "smol-apt-en-de").string(),
                                       "--context", bad.string(), "-q", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("decoder-only"), std::string::npos) << r.err;
}

TEST(QaServe, ExtractiveAnswersAndErrors) {
  testing::ServeProcess server({"--parallel", "2", "--ctx", "512"}, "tiny-bf16");
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  const auto pairs = qa_pairs();
  for (size_t i = 0; i < 10; ++i) {
    int status = 0;
    const json out = json::parse(testing::post_json(c, "/v1/qa",
                                                    {{"context", pairs[i].first}, {"question", pairs[i].second},
                                                     {"extractive", true}, {"max_tokens", 10}, {"temperature", 1.0},
                                                     {"seed", i}},
                                                    status));
    ASSERT_EQ(status, 200) << out;
    expect_span(pairs[i].first, out, "request " + std::to_string(i));
    EXPECT_EQ(out["extractive"], true);
    EXPECT_GT(out["usage"]["completion_tokens"].get<int>(), 0);
  }
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "one two three ";
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"question", "q"}}, "context"},
      {{{"context", ""}, {"question", "q"}}, "context"},
      {{{"context", "c"}}, "question"},
      {{{"context", "c"}, {"question", "q"}, {"extractive", "yes"}}, "extractive"},
      {{{"context", "c"}, {"question", "q"}, {"max_tokens", 0}}, "max_tokens"},
      {{{"context", "c"}, {"question", "q"}, {"span", 1}}, "span"},
      {{{"context", long_text}, {"question", "q"}}, "context"},  // more tokens than --ctx
  };
  for (const auto& [body, param] : bad) {
    int status = 0;
    const json out = json::parse(testing::post_json(c, "/v1/qa", body, status));
    EXPECT_EQ(status, 400) << body;
    EXPECT_EQ(out["error"]["param"], param) << out;
  }
}

}  // namespace
}  // namespace smol
