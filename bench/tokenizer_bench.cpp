// Single-thread encode throughput of smol::Tokenizer on a corpus of real text found on the
// machine (see kCorpus). With --write-corpus it also saves that corpus (one JSON string per
// line) so bench/tokenizers_js/bench.mjs measures Hugging Face tokenizers.js on the same text;
// with --ids-out it writes the ids of every document so the two can be compared.
//
//   tokenizer_bench [--tokenizer tokenizer.json] [--shared DIR] [--seconds S]
//                   [--write-corpus FILE] [--ids-out FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;

// Mixed real text: English prose (licenses, the Vim user manual), multilingual UI strings
// (Vim's menu translations: Japanese, Chinese, Korean, Russian, Ukrainian, Czech, Polish,
// Turkish, Serbian, Esperanto), source code (C++ and Python from the system), plus every
// string of the tokenizer fixtures (many scripts, emoji, whitespace runs, digits).
// Missing files are skipped and the list actually used is printed.
const char* const kCorpus[] = {
    "/usr/share/common-licenses/GPL-3",
    "/usr/share/common-licenses/LGPL-2.1",
    "/usr/share/common-licenses/Apache-2.0",
    "/usr/share/common-licenses/MPL-2.0",
    "/usr/share/common-licenses/GFDL-1.3",
    "/usr/share/common-licenses/Artistic",
    "/usr/share/vim/vim90/doc/usr_01.txt",
    "/usr/share/vim/vim90/doc/usr_02.txt",
    "/usr/share/vim/vim90/doc/usr_03.txt",
    "/usr/share/vim/vim90/doc/usr_04.txt",
    "/usr/share/vim/vim90/doc/usr_05.txt",
    "/usr/share/vim/vim90/lang/menu_ja_jp.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_zh_cn.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_zh_tw.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_ko_kr.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_ru_ru.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_uk_ua.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_cs_cz.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_pl_pl.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_tr_tr.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_sr_rs.utf-8.vim",
    "/usr/share/vim/vim90/lang/menu_eo.utf-8.vim",
    "/usr/include/c++/12/bits/stl_vector.h",
    "/usr/include/pcre2.h",
    "/usr/lib/python3.11/textwrap.py",
    "/usr/lib/python3.11/json/decoder.py",
};

fs::path default_shared_dir() {
  if (const char* env = std::getenv("SMOL_SHARED"); env && *env) return env;
#ifdef SMOL_BENCH_SHARED_DIR
  return SMOL_BENCH_SHARED_DIR;
#else
  return "/work/shared";
#endif
}

struct Options {
  fs::path shared = default_shared_dir();
  fs::path tokenizer;
  double seconds = 3.0;
  std::string write_corpus, ids_out;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> build_corpus(const Options& opt) {
  std::vector<std::string> docs;
  size_t files = 0;
  for (const char* path : kCorpus) {
    if (!fs::exists(path)) {
      std::fprintf(stderr, "corpus: skipping missing %s\n", path);
      continue;
    }
    docs.push_back(read_file(path));
    ++files;
    std::fprintf(stderr, "corpus: %8zu bytes  %s\n", docs.back().size(), path);
  }
  const fs::path cases = opt.shared / "fixtures" / "tokenizer" / "cases.jsonl";
  std::ifstream in(cases);
  std::string line;
  size_t case_bytes = 0, case_count = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    docs.push_back(nlohmann::json::parse(line).get<std::string>());
    case_bytes += docs.back().size();
    ++case_count;
  }
  std::fprintf(stderr, "corpus: %8zu bytes  %zu strings of %s\n", case_bytes, case_count,
               cases.c_str());
  size_t total = 0;
  for (const auto& d : docs) total += d.size();
  std::fprintf(stderr, "corpus: %zu documents (%zu files), %zu bytes\n", docs.size(), files, total);
  return docs;
}

Options parse_args(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw smol::Error(arg + ": missing value");
      return argv[++i];
    };
    if (arg == "--tokenizer") opt.tokenizer = value();
    else if (arg == "--shared") opt.shared = value();
    else if (arg == "--seconds") opt.seconds = std::stod(value());
    else if (arg == "--write-corpus") opt.write_corpus = value();
    else if (arg == "--ids-out") opt.ids_out = value();
    else throw smol::Error("unknown argument " + arg);
  }
  if (opt.tokenizer.empty()) {
    opt.tokenizer = opt.shared / "models" / "SmolLM2-135M-Instruct" / "tokenizer.json";
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse_args(argc, argv);
  const std::vector<std::string> docs = build_corpus(opt);
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  if (bytes < 400 * 1024) std::fprintf(stderr, "warning: corpus is under 400 KB\n");
  if (!opt.write_corpus.empty()) {
    std::ofstream out(opt.write_corpus, std::ios::binary);
    for (const auto& d : docs) out << nlohmann::json(d).dump() << '\n';
  }

  using clock = std::chrono::steady_clock;
  const auto load_start = clock::now();
  const smol::Tokenizer tok = smol::Tokenizer::from_file(opt.tokenizer);
  const double load_s = std::chrono::duration<double>(clock::now() - load_start).count();

  // Pass 0 starts with an empty word cache; later passes show the steady state.
  std::vector<double> pass_s;
  size_t tokens = 0;
  std::vector<std::vector<int32_t>> ids(docs.size());
  const auto bench_start = clock::now();
  while (pass_s.size() < 3 ||
         std::chrono::duration<double>(clock::now() - bench_start).count() < opt.seconds) {
    const auto t0 = clock::now();
    for (size_t i = 0; i < docs.size(); ++i) ids[i] = tok.encode(docs[i]);
    pass_s.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  for (const auto& v : ids) tokens += v.size();
  if (!opt.ids_out.empty()) {
    std::ofstream out(opt.ids_out);
    for (const auto& v : ids) out << nlohmann::json(v).dump() << '\n';
  }
  const double mb = static_cast<double>(bytes) / 1e6;
  std::vector<double> warm(pass_s.begin() + 1, pass_s.end());
  std::sort(warm.begin(), warm.end());
  const double median = warm[warm.size() / 2];
  std::printf("smol: load %.0f ms; %zu bytes -> %zu tokens; first pass %.1f MB/s; "
              "median of %zu warm passes %.1f MB/s\n",
              load_s * 1e3, bytes, tokens, mb / pass_s[0], warm.size(), mb / median);
  std::printf("SMOL_MBPS %.3f\n", mb / median);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
  return 1;
}
