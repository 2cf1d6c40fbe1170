// ChatTemplate against the real SmolLM2 template and real-world template styles. Expected
// strings are what transformers' apply_chat_template(tokenize=False) returns for the same input.
#include "smol/chat_template.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

std::filesystem::path smollm2_config() {
  return testing::shared_dir() / "models" / "SmolLM2-135M-Instruct" / "tokenizer_config.json";
}

const std::string kDefaultSystem =
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n";

// A scratch folder for tokenizer_config.json variants, removed after each test.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("smol_chat_template_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return path_ / name;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// ---- the real SmolLM2-Instruct template ----

TEST(SmolLM2Template, MatchesFixturePromptForOneUserTurn) {
  auto expected =
      nlohmann::json::parse(std::ifstream(testing::fixtures_dir() / "tiny-f32" / "expected.json"));
  std::string want = expected["prompts"][1]["text"].get<std::string>();
  auto t = ChatTemplate::from_tokenizer_config(smollm2_config());
  EXPECT_EQ(t.render({{"user", "What is 2+2?"}}, true), want);
}

TEST(SmolLM2Template, InjectsDefaultSystemPromptWithoutSystemMessage) {
  auto t = ChatTemplate::from_tokenizer_config(smollm2_config());
  EXPECT_EQ(t.render({{"user", "Hi"}}, false), kDefaultSystem + "<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_EQ(t.render({{"user", "Hi"}}, true),
            kDefaultSystem + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(SmolLM2Template, GivenSystemMessageReplacesTheDefault) {
  auto t = ChatTemplate::from_tokenizer_config(smollm2_config());
  EXPECT_EQ(t.render({{"system", "You are a pirate."}, {"user", "Hi"}}, false),
            "<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_EQ(t.render({{"system", "You are a pirate."}, {"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(SmolLM2Template, MultiTurnKeepsContentVerbatim) {
  auto t = ChatTemplate::from_tokenizer_config(smollm2_config());
  std::vector<ChatMessage> chat = {
      {"user", "Hello!"}, {"assistant", " Hi, how can I help? "}, {"user", "Tell me a joke.\n"}};
  std::string turns =
      "<|im_start|>user\nHello!<|im_end|>\n"
      "<|im_start|>assistant\n Hi, how can I help? <|im_end|>\n"
      "<|im_start|>user\nTell me a joke.\n<|im_end|>\n";
  EXPECT_EQ(t.render(chat, false), kDefaultSystem + turns);
  EXPECT_EQ(t.render(chat, true), kDefaultSystem + turns + "<|im_start|>assistant\n");
}

TEST(SmolLM2Template, ReadsSpecialTokensAndSource) {
  auto t = ChatTemplate::from_tokenizer_config(smollm2_config());
  EXPECT_EQ(t.bos_token(), "<|im_start|>");
  EXPECT_EQ(t.eos_token(), "<|im_end|>");
  EXPECT_NE(t.source().find("SmolLM"), std::string::npos);
}

TEST(SmolLM2Template, JsonContextRendersLikeMessages) {
  auto t = ChatTemplate::from_tokenizer_config(smollm2_config());
  nlohmann::json context = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                            {"add_generation_prompt", true}};
  EXPECT_EQ(t.render(context), t.render({{"user", "Hi"}}, true));
}

// ---- real-world template styles ----

const char* kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% "
    "endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

TEST(Llama3StyleTemplate, BosOnFirstTurnAndTrimmedContent) {
  ChatTemplate t(kLlama3, "<|begin_of_text|>", "<|eot_id|>");
  std::vector<ChatMessage> chat = {{"system", "You are terse."},
                                   {"user", "  Hello!  "},
                                   {"assistant", "Hi. "},
                                   {"user", "Weather in Paris?"}};
  EXPECT_EQ(
      t.render(chat, true),
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\nHi.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nWeather in Paris?<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(t.render({{"user", "  Hello!  "}}, false),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>");
}

const char* kMistral =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] "
    "' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are supported!') }}{% endif %}{% endfor %}";

TEST(MistralStyleTemplate, RendersAlternatingTurns) {
  ChatTemplate t(kMistral, "<s>", "</s>");
  EXPECT_EQ(t.render({{"user", "  Hello!  "}, {"assistant", "Hi. "}, {"user", "Weather?"}}, false),
            "<s>[INST]   Hello!   [/INST]Hi. </s>[INST] Weather? [/INST]");
}

TEST(MistralStyleTemplate, RaiseExceptionReportsTheTemplatesMessage) {
  ChatTemplate t(kMistral, "<s>", "</s>");
  for (auto chat : {std::vector<ChatMessage>{{"user", "a"}, {"user", "b"}},
                    std::vector<ChatMessage>{{"system", "s"}, {"user", "a"}}}) {
    try {
      t.render(chat, false);
      FAIL() << "expected raise_exception to throw";
    } catch (const Error& e) {
      EXPECT_STREQ(e.what(), "Conversation roles must alternate user/assistant/user/assistant/...");
    }
  }
}

// Gemma-3 style: whitespace control everywhere, system folded into the first user turn.
const char* kGemma = R"TPL({{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- else -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
)TPL";

TEST(GemmaStyleTemplate, FoldsSystemIntoFirstUserTurn) {
  ChatTemplate t(kGemma, "<bos>", "<eos>");
  EXPECT_EQ(t.render({{"system", "You are terse."},
                      {"user", "  Hello!  "},
                      {"assistant", "Hi. "},
                      {"user", "Weather in Paris?"}},
                     true),
            "<bos><start_of_turn>user\nYou are terse.\n\nHello!<end_of_turn>\n"
            "<start_of_turn>model\nHi.<end_of_turn>\n"
            "<start_of_turn>user\nWeather in Paris?<end_of_turn>\n"
            "<start_of_turn>model\n");
}

TEST(GemmaStyleTemplate, MultimodalContentList) {
  ChatTemplate t(kGemma, "<bos>", "<eos>");
  auto context = nlohmann::json::parse(R"({"messages": [{"role": "user", "content": [
      {"type": "image"}, {"type": "text", "text": " Describe it. "}]}]})");
  EXPECT_EQ(t.render(context),
            "<bos><start_of_turn>user\n<start_of_image>Describe it.<end_of_turn>\n");
}

// ---- loading from tokenizer_config.json ----

TEST(ChatTemplateConfig, AcceptsAddedTokenObjectsAndNamedTemplateLists) {
  TempDir dir;
  auto path = dir.write("tokenizer_config.json", R"({
    "bos_token": {"__type": "AddedToken", "content": "<B>", "lstrip": false},
    "eos_token": "<E>",
    "pad_token": null,
    "chat_template": [
      {"name": "tool_use", "template": "tools:{{ bos_token }}"},
      {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}|{{ pad_token is defined }}"}
    ]})");
  auto t = ChatTemplate::from_tokenizer_config(path);
  EXPECT_EQ(t.bos_token(), "<B>");
  EXPECT_EQ(t.render({{"user", "x"}}, false), "<B>x<E>|False");
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(path, "tool_use").render({}, false), "tools:<B>");
  EXPECT_THROW(ChatTemplate::from_tokenizer_config(path, "rag"), Error);
}

TEST(ChatTemplateConfig, FallsBackToChatTemplateJinjaFile) {
  TempDir dir;
  auto path = dir.write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  dir.write("chat_template.jinja",
            "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}\n");
  auto t = ChatTemplate::from_tokenizer_config(path);
  EXPECT_EQ(t.render({{"user", "a"}, {"assistant", "b"}}, false), "user: a\nassistant: b\n");
}

TEST(ChatTemplateConfig, MissingTemplateIsAnErrorNamingTheFile) {
  TempDir dir;
  auto path = dir.write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  try {
    ChatTemplate::from_tokenizer_config(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chat_template"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ChatTemplate::from_tokenizer_config(dir.write("bad.json", "{not json")), Error);
  EXPECT_THROW(ChatTemplate::from_tokenizer_config(path.parent_path() / "absent.json"), Error);
}

TEST(ChatTemplateConfig, SyntaxErrorNamesFileLineAndColumn) {
  TempDir dir;
  auto path =
      dir.write("tokenizer_config.json",
                R"({"chat_template": "{% for m in messages %}\n{{ m.content }\n{% endfor %}"})");
  try {
    ChatTemplate::from_tokenizer_config(path);
    FAIL() << "expected a syntax error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 2, column 14"), std::string::npos) << msg;
  }
}

TEST(ChatTemplateRender, ContextMustBeAnObject) {
  ChatTemplate t("{{ messages }}", "", "");
  EXPECT_THROW(t.render(nlohmann::json::array()), Error);
}

TEST(ChatTemplateRender, DefaultsMatchApplyChatTemplate) {
  // transformers passes tools=None and documents=None, so they are defined but none.
  ChatTemplate t(
      "{{ tools is defined }} {{ tools is none }} {{ documents is none }} "
      "{{ add_generation_prompt }} {{ custom is defined }}",
      "", "");
  EXPECT_EQ(t.render(nlohmann::json::object()), "True True True False False");
  EXPECT_EQ(t.render(nlohmann::json{{"custom", 1}, {"tools", {1}}}), "True False True False True");
}

}  // namespace
}  // namespace smol
