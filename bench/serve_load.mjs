// Load test of `smol serve`: N concurrent streaming chat clients (default 1, 4 and 16), each
// sending requests back to back. Reports total generated tokens/s, time to first token
// p50/p99, lost requests, and the throughput ratio of the largest to the smallest N.
//
//   node bench/serve_load.mjs --smol build/smol --model DIR [--clients 1,4,16] [--requests 2]
//        [--max-tokens 32] [--threads 2] [--ctx 512] [--json out.json]
// Start a server yourself and pass --url instead of --smol/--model to load any server.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

function parseArgs(argv) {
  const args = { clients: "1,4,16", requests: "2", "max-tokens": "32", threads: "2", ctx: "512" };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--")) throw new Error("unexpected argument " + argv[i]);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  return args;
}

function startServer(smol, model, parallel, threads, ctx) {
  const child = spawn(smol, ["serve", "-m", model, "--port", "0", "--parallel", String(parallel), "--queue",
    String(parallel), "-t", String(threads), "--ctx", String(ctx)], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d) => {
      log += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(log);
      if (m) resolve({ url: m[1], stop: () => new Promise((r) => { child.once("exit", r); child.kill("SIGTERM"); }) });
    });
    child.once("exit", (code) => reject(new Error(`smol serve exited with ${code}: ${log}`)));
  });
}

// One streamed request; resolves with its time to first token and its token count.
async function request(url, prompt, maxTokens) {
  const start = performance.now();
  const res = await fetch(url + "/v1/chat/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: prompt }], max_tokens: maxTokens, temperature: 0.8,
      seed: Math.floor(Math.random() * 1e9), stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", ttft = null, tokens = null, done = false;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buffer += decoder.decode(value, { stream: true });
    let at;
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      if (!line.startsWith("data: ")) continue;
      const data = line.slice(6);
      if (data === "[DONE]") { done = true; continue; }
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      if (ttft === null && chunk.choices?.[0]?.delta?.content) ttft = performance.now() - start;
    }
  }
  if (!done || tokens === null) throw new Error("stream ended without [DONE] and usage");
  return { ttft, tokens };
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))];
}

async function level(url, clients, requests, maxTokens) {
  const ttfts = [], errors = [];
  let tokens = 0, ok = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let r = 0; r < requests; r++) {
      try {
        const out = await request(url, `Client ${c}, request ${r}: tell me about the number ${c * 100 + r}.`, maxTokens);
        tokens += out.tokens;
        if (out.ttft !== null) ttfts.push(out.ttft);
        ok++;
      } catch (e) {
        errors.push(e.message);
      }
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  ttfts.sort((a, b) => a - b);
  return { clients, requests: clients * requests, ok, lost: clients * requests - ok, errors, tokens, seconds,
    tokens_per_second: tokens / seconds, ttft_p50_ms: percentile(ttfts, 50), ttft_p99_ms: percentile(ttfts, 99) };
}

const args = parseArgs(process.argv.slice(2));
const levels = args.clients.split(",").map(Number);
const maxClients = Math.max(...levels);
let server = null, url = args.url;
if (!url) {
  if (!args.smol || !args.model) throw new Error("give --smol BINARY --model DIR, or --url of a running server");
  server = await startServer(args.smol, args.model, maxClients, args.threads, args.ctx);
  url = server.url;
}
await request(url, "warm up", 4);  // first-touch page faults of the weights are not load
const results = [];
for (const n of levels) {
  const r = await level(url, n, Number(args.requests), Number(args["max-tokens"]));
  results.push(r);
  console.log(`${String(n).padStart(3)} clients: ${r.ok}/${r.requests} ok, ${r.tokens} tokens in ${r.seconds.toFixed(2)} s = ` +
    `${r.tokens_per_second.toFixed(1)} tok/s, TTFT p50 ${r.ttft_p50_ms.toFixed(0)} ms, p99 ${r.ttft_p99_ms.toFixed(0)} ms` +
    (r.errors.length ? `, errors: ${[...new Set(r.errors)].join("; ")}` : ""));
}
const ratio = results[results.length - 1].tokens_per_second / results[0].tokens_per_second;
console.log(`throughput ratio ${results[results.length - 1].clients}:${results[0].clients} clients = ${ratio.toFixed(2)}`);
if (args.json) writeFileSync(args.json, JSON.stringify({ results, ratio }, null, 2));
if (server) await server.stop();
process.exit(results.some((r) => r.lost > 0) ? 1 : 0);
