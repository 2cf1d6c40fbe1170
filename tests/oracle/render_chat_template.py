#!/usr/bin/env python3
"""Renders chat requests through a chat template as transformers' apply_chat_template does,
with Jinja2 alone (no smol code): an ImmutableSandboxedEnvironment with trim_blocks and
lstrip_blocks and the loopcontrols extension, transformers' own `tojson` (json.dumps with
ensure_ascii=False, no HTML escaping), raise_exception and strftime_now, and the special
tokens of tokenizer_config.json as variables; render(messages=..., tools=..., documents=None,
add_generation_prompt=True, **special_tokens).

An OpenAI request's messages are first put in the form transformers' templates read, the
mapping smol serve documents: "developer" is "system", content null is "" (as vLLM does) and
text parts are joined, tool_calls[].function.arguments (a JSON string) is parsed into a dict
(transformers' chat templating docs: arguments are a dict), and role/content come first, then
name, tool_call_id and tool_calls in the request's order.

  render_chat_template.py write OUT.json SMOLLM2_TOKENIZER_CONFIG HERMES_TEMPLATE
      writes tests/fixtures/tool-calling/renders.json: the cases below with their prompts.
  render_chat_template.py render TOKENIZER_CONFIG [TEMPLATE_FILE] < request.json
      prints one request's prompt (the e2e test's round trip).
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def compile_template(source):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def special_tokens(config):
    out = {}
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            out[key] = value
    extra = config.get("additional_special_tokens")
    if isinstance(extra, list):
        out["additional_special_tokens"] = [t["content"] if isinstance(t, dict) else t for t in extra]
    return out


def template_message(m):
    role = "system" if m["role"] == "developer" else m["role"]
    content = m.get("content")
    if content is None:
        content = ""
    elif isinstance(content, list):
        content = "".join(part["text"] for part in content)
    out = {"role": role, "content": content}
    for key, value in m.items():
        if value is None:
            continue
        if key in ("name", "tool_call_id"):
            out[key] = value
        elif key == "tool_calls":
            calls = []
            for call in value:
                c = {}
                for k, v in call.items():
                    if k == "function":
                        fn = dict(v)
                        if isinstance(fn.get("arguments"), str):
                            fn["arguments"] = json.loads(fn["arguments"])
                        c[k] = fn
                    elif k in ("id", "type"):
                        c[k] = v
                calls.append(c)
            out[key] = calls
    return out


def render(config, source, request):
    template = compile_template(source if source is not None else config["chat_template"])
    return template.render(messages=[template_message(m) for m in request["messages"]], tools=request.get("tools"),
                           documents=None, add_generation_prompt=True, **special_tokens(config))


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {"name": "get_time", "description": "The local time in a city",
                                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                       "required": ["city"]}}}

ONE_CALL = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"celsius\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 21}"},
]
TWO_CALLS = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": [{"type": "text", "text": "Weather and time in Zürich?"}]},
    {"role": "assistant", "content": "Let me check.", "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Zürich\"}"}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{\"city\":\"Zürich\"}"}}]},
    {"role": "tool", "tool_call_id": "call_a", "content": "Sunny, 18 °C"},
    {"role": "tool", "tool_call_id": "call_b", "content": "14:05"},
]
CASES = [
    ("smollm2-first-turn", "smollm2", {"messages": ONE_CALL[:1], "tools": [WEATHER]}),
    ("smollm2-tool-result-turn", "smollm2", {"messages": ONE_CALL, "tools": [WEATHER]}),
    ("hermes-first-turn", "hermes", {"messages": ONE_CALL[:1], "tools": [WEATHER, TIME]}),
    ("hermes-tool-result-turn", "hermes", {"messages": ONE_CALL, "tools": [WEATHER]}),
    ("hermes-parallel-calls-turn", "hermes", {"messages": TWO_CALLS, "tools": [WEATHER, TIME]}),
    ("hermes-without-tools", "hermes", {"messages": TWO_CALLS[:2]}),
]


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "write":
        with open(sys.argv[3], encoding="utf-8") as f:
            smollm2 = json.load(f)
        with open(sys.argv[4], encoding="utf-8") as f:
            hermes = f.read()
        out = []
        for name, template, request in CASES:
            source = hermes if template == "hermes" else None
            out.append({"name": name, "template": template, "request": request,
                        "prompt": render(smollm2, source, request)})
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=1)
            f.write("\n")
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "render":
        with open(sys.argv[2], encoding="utf-8") as f:
            config = json.load(f)
        source = None
        if len(sys.argv) == 4:
            with open(sys.argv[3], encoding="utf-8") as f:
                source = f.read()
        sys.stdout.write(render(config, source, json.load(sys.stdin)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
