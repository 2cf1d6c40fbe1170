// smol chat: a terminal conversation with the model's chat template. Interactive on a
// terminal; with piped stdin every line is one user turn and stdout carries only the replies,
// one per line, so it can be scripted.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/seq2seq_options.hpp"
#include "smol/chat_template.hpp"
#include "smol/error.hpp"
#include "smol/generate.hpp"

namespace smol::cli {

namespace {

struct ChatArgs {
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string weights;  // --weights: convert the matrices at load time
  std::string system;
  int n_predict = -1;
  int context = 0;
  int threads = 1;
  WeightType cache_type = WeightType::F32;
  SamplingParams sampling;
};

// The conversation and the KV cache of its tokens. Each turn re-renders the whole
// conversation with the template but runs only the tokens after the longest prefix already in
// the cache, so a long chat does not re-read its history every turn.
class ChatSession {
 public:
  ChatSession(Engine& engine, const ChatArgs& args)
      : engine_(engine),
        system_(args.system),
        n_predict_(args.n_predict),
        kv_(engine.model().config(), capacity(engine, args.context), args.cache_type),
        buf_(engine.model().config(), 256, engine.pool().size(), kv_.capacity()),
        sampler_(args.sampling) {
    reset();
  }

  void reset() {
    messages_.clear();
    if (!system_.empty()) messages_.push_back({"system", system_});
  }

  // Streams the reply to `on_text` (which may return false to stop it) and keeps both turns.
  void reply(const std::string& user, const std::atomic<bool>& interrupt, const TextCallback& on_text) {
    messages_.push_back({"user", user});
    const std::vector<int32_t> prompt = fit_prompt();
    prefill(prompt);

    const ModelConfig& config = engine_.model().config();
    const std::vector<int>& eos = config.eos_token_ids;
    std::vector<int32_t> history = prompt;
    StreamDecoder decoder(engine_.tokenizer());
    std::string text;
    std::span<float> logits(buf_.logits.data(), config.vocab_size);
    for (int i = 0; n_predict_ < 0 || i < n_predict_; ++i) {
      const int32_t next = sampler_.sample(logits, history);
      if (std::find(eos.begin(), eos.end(), next) != eos.end()) break;
      history.push_back(next);
      const std::string piece = decoder.push(next);
      text += piece;
      if ((!piece.empty() && !on_text(piece)) || interrupt) break;
      if (i + 1 == n_predict_ || kv_.size() >= kv_.capacity()) break;
      const int32_t token[1] = {next};
      engine_.model().forward(token, kv_, buf_, engine_.pool(), Logits::Last);
      cached_.push_back(next);
    }
    const std::string rest = decoder.flush();
    if (!rest.empty()) on_text(rest);
    messages_.push_back({"assistant", text + rest});
  }

 private:
  static int capacity(const Engine& engine, int context) {
    const int max = engine.model().config().max_position_embeddings;
    return context > 0 ? std::min(context, max) : std::min(4096, max);
  }

  // The rendered conversation; the oldest turns are dropped (the system message stays) until
  // it leaves room to answer.
  std::vector<int32_t> fit_prompt() {
    const int room = std::min(kv_.capacity() / 4, 256);
    for (;;) {
      std::vector<int32_t> ids =
          engine_.tokenizer().encode(engine_.chat_template().render(messages_, /*add_generation_prompt=*/true));
      if (static_cast<int>(ids.size()) + room <= kv_.capacity()) return ids;
      const size_t first = !messages_.empty() && messages_[0].role == "system" ? 1 : 0;
      if (messages_.size() - first <= 1) {
        messages_.pop_back();
        throw Error(fmt::format("the message has {} tokens with the template; the context holds {}: "
                                "shorten it or raise --ctx",
                                ids.size(), kv_.capacity()));
      }
      // Drop the oldest exchange: everything up to the next user message.
      auto it = messages_.begin() + first + 1;
      while (it != messages_.end() && it->role != "user") ++it;
      messages_.erase(messages_.begin() + first, it);
    }
  }

  // Runs the prompt's tokens that are not in the cache yet; leaves the last one's logits.
  void prefill(const std::vector<int32_t>& prompt) {
    size_t common = 0;
    while (common < cached_.size() && common < prompt.size() && cached_[common] == prompt[common]) ++common;
    common = std::min(common, prompt.size() - 1);  // the last token must run to give logits
    kv_.truncate(static_cast<int>(common));
    cached_.assign(prompt.begin(), prompt.end());
    const std::span<const int32_t> rest(prompt.data() + common, prompt.size() - common);
    for (size_t done = 0; done < rest.size(); done += buf_.max_tokens) {
      const size_t n = std::min<size_t>(buf_.max_tokens, rest.size() - done);
      engine_.model().forward(rest.subspan(done, n), kv_, buf_, engine_.pool(), Logits::Last);
    }
  }

  Engine& engine_;
  std::string system_;
  int n_predict_;
  std::vector<ChatMessage> messages_;
  KvCache kv_;
  ForwardBuffers buf_;
  std::vector<int32_t> cached_;  // the tokens whose keys and values are in kv_
  Sampler sampler_;
};

bool write_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return true;
}

int run_chat(const ChatArgs& args) {
  args.sampling.validate();
  const bool interactive = isatty(fileno(stdin));
  // On a terminal Ctrl-C stops the reply being written, and at the prompt ends the chat.
  // The signal is blocked and taken by a sigwait thread, so no handler and no global flag.
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  if (interactive) pthread_sigmask(SIG_BLOCK, &sigint, nullptr);

  Engine engine(resolve_model(args.model), args.threads, args.load,
                args.weights.empty() ? std::nullopt : std::optional(weight_type_from_flag(args.weights)));
  (void)engine.chat_template();  // fail now, not at the first message, when there is none
  ChatSession session(engine, args);

  std::atomic<bool> generating{false}, interrupt{false}, quitting{false};
  std::thread waiter;
  if (interactive) {
    waiter = std::thread([&] {
      for (int sig = 0; sigwait(&sigint, &sig) == 0 && !quitting;) {
        if (generating) {
          interrupt = true;
        } else {
          std::fputc('\n', stdout);
          std::fflush(stdout);
          _exit(0);
        }
      }
    });
    std::fprintf(stderr, "smol chat: %s — /reset starts over, /quit (or Ctrl-D) ends, Ctrl-C stops a reply\n",
                 args.model.c_str());
  }

  std::string line;
  for (;;) {
    if (interactive) write_out("> ");
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line == "/quit" || line == "/exit") break;
    if (line == "/reset") {
      session.reset();
      if (interactive) std::fprintf(stderr, "(conversation cleared)\n");
      continue;
    }
    try {
      interrupt = false;
      generating = true;
      session.reply(line, interrupt, write_out);
      generating = false;
    } catch (const Error& e) {
      generating = false;
      if (!interactive) throw;
      std::fprintf(stderr, "\nsmol chat: error: %s\n", e.what());
      continue;
    }
    write_out(interactive ? "\n\n" : "\n");
  }
  if (interactive) {
    quitting = true;
    pthread_kill(waiter.native_handle(), SIGINT);
    waiter.join();
  }
  return 0;
}

}  // namespace

Command add_chat_command(CLI::App& root) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* app = root.add_subcommand("chat", "Chat with the model in the terminal (piped stdin: one turn per line)");
  add_model_option(*app, args->model);
  add_mmap_option(*app, args->load);
  app->add_option("--system", args->system, "System message");
  app->add_option("-n,--n-predict", args->n_predict, "Most tokens per reply (-1: until the context is full)")
      ->check(CLI::Range(-1, 1 << 30))->capture_default_str();
  app->add_option("-c,--ctx", args->context, "Context size in tokens (default: 4096 or the model's maximum)")
      ->check(non_negative_number());
  add_threads_option(*app, args->threads);
  add_cache_type_option(*app, args->cache_type);
  add_weights_option(*app, args->weights);
  add_sampling_options(*app, args->sampling);
  return {app, [args] { return run_chat(*args); }};
}

}  // namespace smol::cli
