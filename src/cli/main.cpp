// smol: run, score and tokenize SmolLM2 models. Every failure ends in one line on stderr and
// a non-zero exit status: 2 for a bad command line, 1 for everything else.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <vector>

#include "cli/commands.hpp"
#include "smol/error.hpp"

int main(int argc, char** argv) {
  // Generation allocates and frees step-sized buffers (logits of every beam, attention scores)
  // many times a second; glibc would map each big block fresh and zero its pages again.
  // Keeping freed blocks in the heap makes that reuse free.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  CLI::App app{"smol: run, serve and train SmolLM2 models"};
  app.name("smol");
  app.require_subcommand(1);
  app.set_version_flag("--version", "smol 0.1.0");
  std::vector<smol::cli::Command> commands = {
      smol::cli::add_generate_command(app),
      smol::cli::add_perplexity_command(app),
      smol::cli::add_tokenize_command(app),
      smol::cli::add_init_command(app),
      smol::cli::add_train_command(app),
      smol::cli::add_bench_command(app),
      smol::cli::add_convert_command(app),
      smol::cli::add_chat_command(app),
      smol::cli::add_serve_command(app),
      smol::cli::add_pull_command(app),
      smol::cli::add_translate_command(app),
      smol::cli::add_summarize_command(app),
      smol::cli::add_eval_seq2seq_command(app),
      smol::cli::add_qa_command(app),
  };

  // CLI11 would only say "a subcommand is required" for a misspelt command.
  auto is_command = [&](const char* name) {
    for (const auto& c : commands) {
      if (c.app->get_name() == name) return true;
    }
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !is_command(argv[1])) {
    std::fprintf(stderr, "smol: error: unknown command '%s' (see smol --help)\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "smol: error: %s (see smol --help)\n", e.what());
    return 2;
  }

  for (const auto& command : commands) {
    if (!command.app->parsed()) continue;
    try {
      return command.run();
    } catch (const smol::Error& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "smol %s: error: %s\n", command.app->get_name().c_str(), e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "smol %s: error: out of memory\n", command.app->get_name().c_str());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "smol %s: internal error: %s\n", command.app->get_name().c_str(), e.what());
      return 1;
    }
  }
  return 0;
}
