#pragma once
// Each `smol CMD` registers its flags on the root CLI11 app and returns how to run it.
#include <CLI/CLI.hpp>
#include <functional>

namespace smol::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_generate_command(CLI::App& root);
Command add_perplexity_command(CLI::App& root);
Command add_tokenize_command(CLI::App& root);
Command add_init_command(CLI::App& root);
Command add_train_command(CLI::App& root);
Command add_bench_command(CLI::App& root);
Command add_convert_command(CLI::App& root);
Command add_chat_command(CLI::App& root);
Command add_serve_command(CLI::App& root);
Command add_pull_command(CLI::App& root);
Command add_translate_command(CLI::App& root);
Command add_summarize_command(CLI::App& root);
Command add_eval_seq2seq_command(CLI::App& root);
Command add_qa_command(CLI::App& root);

}  // namespace smol::cli
