import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";
const tj = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const tc = JSON.parse(fs.readFileSync(process.argv[2].replace("tokenizer.json","tokenizer_config.json"), "utf8"));
const tok = new Tokenizer(tj, tc);
const lines = fs.readFileSync(process.argv[3], "utf8").split("\n").filter(l => l.length);
for (const l of lines) {
  const s = JSON.parse(l);
  console.log(JSON.stringify(tok.encode(s, { add_special_tokens: false }).ids));
}
