// The official OpenAI client library against `smol serve` with a fixture model.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, generate } from "./support.mjs";

const QUESTION = "What is 2+2?";
let server, client, expected;

before(async () => {
  server = await startServer(["--parallel", "2", "--ctx", "128", "--api-key", "sk-e2e"]);
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "sk-e2e", maxRetries: 0 });
  expected = generate(["--chat", "-p", QUESTION, "-n", "20"]);
  assert.ok(expected.length > 0);
});

after(async () => {
  assert.equal(await server.stop(), 0);
});

test("models list names the served model", async () => {
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].object, "model");
});

test("non-streamed chat completion equals smol generate --chat --temp 0", async () => {
  const r = await client.chat.completions.create({
    model: "tiny", messages: [{ role: "user", content: QUESTION }], max_tokens: 20, temperature: 0,
  });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, expected);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 20);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 20);
});

test("streamed chat completion equals smol generate --chat --temp 0", async () => {
  const stream = await client.chat.completions.create({
    model: "tiny", messages: [{ role: "user", content: QUESTION }], max_tokens: 20, temperature: 0,
    stream: true, stream_options: { include_usage: true },
  });
  let text = "", chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.delta?.content) { text += choice.delta.content; chunks++; }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  assert.equal(text, expected);
  assert.ok(chunks > 1, "text arrived in several chunks");
  assert.equal(finish, "length");
  assert.equal(usage.completion_tokens, 20);
});

test("completions endpoint equals smol generate --temp 0", async () => {
  const prompt = "The capital of France is";
  const want = generate(["-p", prompt, "-n", "12"]);
  const r = await client.completions.create({ model: "tiny", prompt, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices[0].text, want);
  const stream = await client.completions.create({ model: "tiny", prompt, max_tokens: 12, temperature: 0, stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
  assert.equal(text, want);
});

test("stop sequences end the text with finish_reason stop", async () => {
  const full = generate(["--chat", "-p", QUESTION, "-n", "20"]);
  const stop = full.slice(8, 11);
  const r = await client.chat.completions.create({
    model: "tiny", messages: [{ role: "user", content: QUESTION }], max_tokens: 20, temperature: 0, stop: [stop],
  });
  assert.equal(r.choices[0].message.content, full.slice(0, full.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, "stop");
});

test("malformed fields are 400 BadRequestError", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.error?.param === "temperature");
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], n: 2 }),
    (e) => e instanceof OpenAI.BadRequestError && e.error?.param === "n");
});

test("a prompt longer than the context is 400 context_length_exceeded", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "word ".repeat(200) }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded");
});

test("a wrong or missing API key is 401 AuthenticationError", async () => {
  const wrong = new OpenAI({ baseURL: server.url + "/v1", apiKey: "sk-wrong", maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const res = await fetch(server.url + "/v1/chat/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
  });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.code, "invalid_api_key");
});

test("a full queue is 503 at once", async () => {
  const busy = await startServer(["--parallel", "1", "--queue", "0", "--ctx", "4096", "--debug-step-delay-ms", "20"]);
  try {
    const c = new OpenAI({ baseURL: busy.url + "/v1", apiKey: "none", maxRetries: 0 });
    const first = await c.chat.completions.create({
      model: "tiny", messages: [{ role: "user", content: "Hi" }], max_tokens: 2000, temperature: 0, stream: true,
    });
    const it = first[Symbol.asyncIterator]();
    await it.next();  // the slot is taken
    const start = Date.now();
    await assert.rejects(
      c.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hi" }], max_tokens: 4 }),
      (e) => e instanceof OpenAI.APIError && e.status === 503 && e.code === "queue_full");
    assert.ok(Date.now() - start < 1000, "refused without waiting");
    first.controller.abort();  // disconnect: frees the slot
    let freed = false;
    for (let i = 0; i < 100 && !freed; i++) {
      const m = await (await fetch(busy.url + "/metrics")).text();
      freed = /\nsmol_active_slots 0\n/.test(m) && /\nsmol_requests_cancelled_total 1\n/.test(m);
      if (!freed) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(freed, "the disconnected stream's slot was freed");
    const r = await c.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hi" }], max_tokens: 4 });
    assert.equal(r.usage.completion_tokens, 4);
  } finally {
    assert.equal(await busy.stop(), 0);
  }
});
