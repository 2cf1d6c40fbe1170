// Single-thread encode throughput of Hugging Face tokenizers.js (@huggingface/tokenizers) on the
// corpus written by `tokenizer_bench --write-corpus` (one JSON string per line), measured the
// same way: every document encoded separately, no special tokens added; the first pass and the
// median of later passes are reported.
//
//   node bench.mjs TOKENIZER_JSON CORPUS_JSONL [--seconds S] [--ids-out FILE]
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const args = process.argv.slice(2);
if (args.length < 2) {
  console.error("usage: node bench.mjs TOKENIZER_JSON CORPUS_JSONL [--seconds S] [--ids-out FILE]");
  process.exit(2);
}
const [tokenizerPath, corpusPath] = args;
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const seconds = Number(option("--seconds", "3"));
const idsOut = option("--ids-out", "");

const docs = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, "utf8"), 0);

const loadStart = performance.now();
const configPath = path.join(path.dirname(tokenizerPath), "tokenizer_config.json");
const config = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, "utf8")) : {};
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), config);
const loadMs = performance.now() - loadStart;

const passes = [];
let ids = [];
const benchStart = performance.now();
while (passes.length < 3 || performance.now() - benchStart < seconds * 1000) {
  const t0 = performance.now();
  ids = docs.map((d) => tokenizer.encode(d, { add_special_tokens: false }).ids);
  passes.push((performance.now() - t0) / 1000);
}
if (idsOut) fs.writeFileSync(idsOut, ids.map((v) => JSON.stringify(v)).join("\n") + "\n");

const tokens = ids.reduce((n, v) => n + v.length, 0);
const mb = bytes / 1e6;
const warm = passes.slice(1).sort((a, b) => a - b);
const median = warm[Math.floor(warm.length / 2)];
console.log(
  `tokenizers.js: load ${loadMs.toFixed(0)} ms; ${bytes} bytes -> ${tokens} tokens; ` +
    `first pass ${(mb / passes[0]).toFixed(1)} MB/s; median of ${warm.length} warm passes ${(mb / median).toFixed(1)} MB/s`,
);
console.log(`JS_MBPS ${(mb / median).toFixed(3)}`);
