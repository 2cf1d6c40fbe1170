// Tool calling with the official OpenAI client against `smol serve`, with two chat templates:
// the real SmolLM2 one (the fixture's) and a Hermes-style one (tests/fixtures/tool-calling).
// A random-weight model calls a tool reliably only when forced (tool_choice "required" or a
// named function: the call is grammar-constrained). The tool result goes back, and the next
// turn's prompt must equal what tests/oracle/render_chat_template.py (Jinja2 as transformers
// configures it) renders for the same conversation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { startServer, fixture, ensureOutputDir } from "./support.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const toolFixtures = path.join(root, "tests/fixtures/tool-calling");
const hermesTemplate = path.join(toolFixtures, "hermes_tools.jinja");
const oracle = path.join(root, "tests/oracle/render_chat_template.py");

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather", description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 16 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["city", "unit"], additionalProperties: false,
    },
  },
};
const TIME = { type: "function", function: { name: "get_time", description: "Local time", parameters: { type: "object", properties: {}, additionalProperties: false } } };
const TOOLS = [WEATHER, TIME];
const QUESTION = [{ role: "user", content: "What is the weather in Paris?" }];

// A copy of the fixture whose tokenizer_config.json carries the Hermes-style template.
function hermesModel() {
  const dir = path.join(ensureOutputDir(), "hermes-model");
  mkdirSync(dir, { recursive: true });
  for (const f of ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json"]) {
    copyFileSync(path.join(fixture("tiny-f32"), f), path.join(dir, f));
  }
  const config = JSON.parse(readFileSync(path.join(fixture("tiny-f32"), "tokenizer_config.json"), "utf8"));
  config.chat_template = readFileSync(hermesTemplate, "utf8");
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(config));
  return dir;
}

const servers = {};
before(async () => {
  servers.smollm2 = await startServer(["--ctx", "1024"]);
  servers.hermes = await startServer(["--ctx", "1024"], hermesModel());
});
after(async () => {
  for (const s of Object.values(servers)) assert.equal(await s.stop(), 0);
});

const clientOf = (name) => new OpenAI({ baseURL: servers[name].url + "/v1", apiKey: "none", maxRetries: 0 });

// What Jinja2, configured as transformers does, renders for this request.
function transformersPrompt(name, request) {
  const args = ["render", path.join(fixture("tiny-f32"), "tokenizer_config.json")];
  if (name === "hermes") args.push(hermesTemplate);
  return execFileSync("python3", [oracle, ...args], { input: JSON.stringify(request), encoding: "utf8" });
}

async function appliedTemplate(name, request) {
  const res = await fetch(servers[name].url + "/apply-template", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
  });
  assert.equal(res.status, 200);
  return (await res.json()).prompt;
}

function checkCall(call) {
  assert.equal(call.type, "function");
  assert.match(call.id, /^call_/);
  const args = JSON.parse(call.function.arguments);
  if (call.function.name === "get_time") {
    assert.deepEqual(args, {});
    return;
  }
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(Object.keys(args).sort(), ["city", "unit"]);
  assert.equal(typeof args.city, "string");
  assert.ok([...args.city].length <= 16);
  assert.ok(["celsius", "fahrenheit"].includes(args.unit));
}

for (const name of ["smollm2", "hermes"]) {
  test(`${name}: a required tool call comes back parsed, and the result goes back`, async () => {
    const client = clientOf(name);
    const r = await client.chat.completions.create({
      model: "tiny", messages: QUESTION, tools: TOOLS, tool_choice: "required", temperature: 1, seed: 3, max_tokens: 300,
    });
    const message = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    assert.equal(message.content, null);
    assert.ok(message.tool_calls.length >= 1);
    message.tool_calls.forEach(checkCall);

    // The next turn: the assistant's calls as the client got them, and one result per call.
    const messages = [...QUESTION, message,
      ...message.tool_calls.map((c, i) => ({ role: "tool", tool_call_id: c.id, content: `{"result": ${i}}` }))];
    const next = await client.chat.completions.create({ model: "tiny", messages, tools: TOOLS, max_tokens: 8, temperature: 0 });
    assert.equal(next.object, "chat.completion");
    const request = { messages, tools: TOOLS };
    const prompt = await appliedTemplate(name, request);
    assert.equal(prompt, transformersPrompt(name, request));
    // The Hermes template shows the calls (arguments as an object); SmolLM2's only the results.
    const shown = name === "hermes"
      ? `<tool_call>\n{"name": "${message.tool_calls[0].function.name}", "arguments": {`
      : '<|im_start|>tool\n{"result": 0}<|im_end|>';
    assert.ok(prompt.includes(shown), prompt);
  });

  test(`${name}: a named tool call streams as tool_call deltas`, async () => {
    const client = clientOf(name);
    const stream = await client.chat.completions.create({
      model: "tiny", messages: QUESTION, tools: TOOLS, temperature: 1, seed: 11, max_tokens: 300, stream: true,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const calls = [];
    let finish = null, content = "";
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.finish_reason) finish = choice.finish_reason;
      if (choice.delta.content) content += choice.delta.content;
      for (const d of choice.delta.tool_calls ?? []) {
        calls[d.index] ??= { id: "", type: "", function: { name: "", arguments: "" } };
        const c = calls[d.index];
        if (d.id) c.id = d.id;
        if (d.type) c.type = d.type;
        if (d.function?.name) c.function.name += d.function.name;
        if (d.function?.arguments) c.function.arguments += d.function.arguments;
      }
    }
    assert.equal(finish, "tool_calls");
    assert.equal(content, "");
    assert.equal(calls.length, 1);
    assert.equal(calls[0].function.name, "get_weather");
    checkCall(calls[0]);

    // The client library's own accumulation of the same stream gives the same call.
    const runner = client.chat.completions.stream({
      model: "tiny", messages: QUESTION, tools: TOOLS, temperature: 1, seed: 11, max_tokens: 300,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    assert.deepEqual(final.choices[0].message.tool_calls.map((c) => c.function), calls.map((c) => c.function));
  });
}

test("fixed tool conversations render as transformers renders them", async () => {
  const cases = JSON.parse(readFileSync(path.join(toolFixtures, "renders.json"), "utf8"));
  for (const c of cases) {
    assert.equal(await appliedTemplate(c.template, c.request), c.prompt, c.name);
    assert.equal(transformersPrompt(c.template, c.request), c.prompt, `${c.name}: the oracle itself`);
  }
});

test("tool mistakes are 400 BadRequestError naming the field", async () => {
  const client = clientOf("smollm2");
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: QUESTION, tools: TOOLS,
      tool_choice: { type: "function", function: { name: "launch_rockets" } } }),
    (e) => e instanceof OpenAI.BadRequestError && e.error?.param === "tool_choice.function.name");
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: QUESTION, tool_choice: "required" }),
    (e) => e instanceof OpenAI.BadRequestError && e.error?.param === "tool_choice");
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: [...QUESTION,
      { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "get_time", arguments: "{" } }] }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.error?.param === "messages[1].tool_calls[0].function.arguments");
});
