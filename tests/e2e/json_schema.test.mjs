// Structured output through the official OpenAI client, checked by a real JSON Schema
// validator (Ajv, draft 2020-12, with ajv-formats for date/time/date-time/uuid): completions
// sampled at temperature 1.0 from the repo's random-weight model (which, unconstrained, almost
// never writes JSON) under each schema of tests/grammars/schemas, with response_format
// json_schema (strict), streamed and not; and forced tool calls whose arguments must validate
// against the tool's parameters. Every document must also parse strictly: no duplicate keys,
// no NaN/Infinity (JSON.parse already refuses those), nothing around it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { startServer } from "./support.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const schemaDir = path.join(root, "tests/grammars/schemas");
const model = path.join(root, "models/tiny-random-bf16");
const PER_SCHEMA = Number(process.env.SMOL_E2E_SCHEMA_RUNS ?? 20);
const PARALLEL = 8;

const schemas = readdirSync(schemaDir).filter((f) => f.endsWith(".json")).sort()
  .map((f) => ({ name: f.replace(/\.json$/, ""), schema: JSON.parse(readFileSync(path.join(schemaDir, f), "utf8")) }));

function validator(schema) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

// JSON.parse keeps the last of two equal keys; strict parsing refuses them. A scan of the
// text that tracks the keys of every open object (strings decoded as JSON.parse decodes them).
function duplicateKey(text) {
  const stack = [];
  let i = 0;
  const string = () => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  while (i < text.length) {
    const c = text[i];
    if (c === "{") { stack.push({ keys: new Set(), expectKey: true }); i++; }
    else if (c === "[") { stack.push(null); i++; }
    else if (c === "}" || c === "]") { stack.pop(); i++; }
    else if (c === ",") { const top = stack.at(-1); if (top) top.expectKey = true; i++; }
    else if (c === '"') {
      const top = stack.at(-1);
      const s = string();
      if (top && top.expectKey) {
        if (top.keys.has(s)) return s;
        top.keys.add(s);
        top.expectKey = false;
      }
    } else i++;
  }
  return null;
}

function checkDocument(text, validate, what) {
  let doc;
  assert.doesNotThrow(() => { doc = JSON.parse(text); }, `${what}: not JSON: ${JSON.stringify(text)}`);
  assert.equal(duplicateKey(text), null, `${what}: duplicate key in ${text}`);
  assert.ok(validate(doc), `${what}: ${JSON.stringify(validate.errors)} for ${text}`);
}

async function inBatches(n, run) {
  for (let i = 0; i < n; i += PARALLEL) {
    await Promise.all(Array.from({ length: Math.min(PARALLEL, n - i) }, (_, j) => run(i + j)));
  }
}

let server;
let client;
before(async () => {
  server = await startServer(["--parallel", String(PARALLEL)], model);
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused" });
});
after(async () => { if (server) assert.equal(await server.stop(), 0); });

for (const { name, schema } of schemas) {
  test(`response_format json_schema ${name}: ${PER_SCHEMA} completions at temperature 1 parse strictly and validate`, async () => {
    const validate = validator(schema);
    await inBatches(PER_SCHEMA, async (i) => {
      const r = await client.chat.completions.create({
        model: "smol", temperature: 1.0, seed: 1000 + i, max_tokens: 512,
        messages: [{ role: "user", content: "Reply in JSON." }],
        response_format: { type: "json_schema", json_schema: { name, schema, strict: true } },
      });
      const choice = r.choices[0];
      assert.equal(choice.finish_reason, "stop", `${name} seed ${1000 + i}: the document did not end`);
      checkDocument(choice.message.content, validate, `${name} seed ${1000 + i}`);
    });
  });
}

test("response_format json_schema streamed: the concatenated deltas validate", async () => {
  for (const { name, schema } of schemas.slice(0, 3)) {
    const validate = validator(schema);
    const stream = await client.chat.completions.create({
      model: "smol", temperature: 1.0, seed: 7, max_tokens: 512, stream: true,
      messages: [{ role: "user", content: "Reply in JSON." }],
      response_format: { type: "json_schema", json_schema: { name, schema, strict: true } },
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    checkDocument(text, validate, `${name} streamed`);
  }
});

test("response_format json_object: any JSON object", async () => {
  const validate = validator({ type: "object" });
  await inBatches(PARALLEL, async (i) => {
    const r = await client.chat.completions.create({
      model: "smol", temperature: 1.0, seed: 50 + i, max_tokens: 512,
      messages: [{ role: "user", content: "Reply in JSON." }], response_format: { type: "json_object" },
    });
    checkDocument(r.choices[0].message.content, validate, `json_object seed ${50 + i}`);
  });
});

test("forced tool calls: the arguments validate against the tool's parameters", async () => {
  const tools = schemas.slice(0, 5).map(({ name, schema }) => ({
    type: "function",
    function: { name: "f" + name.replace(/[^a-z0-9]/gi, "_"), description: "takes " + name, parameters: schema },
  }));
  const byName = new Map(tools.map((t) => [t.function.name, validator(t.function.parameters)]));
  await inBatches(2 * PARALLEL, async (i) => {
    const r = await client.chat.completions.create({
      model: "smol", temperature: 1.0, seed: 300 + i, max_tokens: 512,
      messages: [{ role: "user", content: "Call a tool." }], tools, tool_choice: "required",
    });
    const choice = r.choices[0];
    assert.equal(choice.finish_reason, "tool_calls", `seed ${300 + i}: ${JSON.stringify(choice)}`);
    for (const call of choice.message.tool_calls) {
      const validate = byName.get(call.function.name);
      assert.ok(validate, `unknown tool ${call.function.name}`);
      checkDocument(call.function.arguments, validate, `tool ${call.function.name} seed ${300 + i}`);
    }
  });
});
