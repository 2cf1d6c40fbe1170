#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the fixtures instead of committed copies.

fuzz/make_seeds.py OUT [SHARED]: writes OUT/<target>/<name> for each target, small (at most a
few KB each) so libFuzzer's -max_len keeps them whole. SHARED is the shared fixtures folder
(../shared by default; $SMOL_SHARED wins). Sources: config.json and generation_config.json of
every fixture and model folder, safetensors files rebuilt from the fixtures' headers with tiny
shapes, a tokenizer.json cut down from SmolLM2's, the tokenizer fixture strings, the templates
of the Jinja and chat template tests, and GGUF files written here from the specification.
Hand-written seeds stay in fuzz/seeds/<target>/.
"""
import json
import os
import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write(out, target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def folders(shared):
    """Every model-like folder: shared fixtures and models, the repo's models and test fixtures."""
    roots = [shared / "fixtures", shared / "models", ROOT / "models", ROOT / "tests/fixtures"]
    for root in roots:
        if root.is_dir():
            for config in sorted(root.rglob("config.json")):
                yield config.parent


def seed_configs(out, shared):
    for i, folder in enumerate(folders(shared)):
        tag = f"{i:02d}_{folder.name}"
        write(out, "config_fuzz", tag, (folder / "config.json").read_bytes())
        write(out, "generation_config_fuzz", tag + "_config", (folder / "config.json").read_bytes())
        if (folder / "generation_config.json").exists():
            write(out, "generation_config_fuzz", tag, (folder / "generation_config.json").read_bytes())


DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "BOOL": 1, "U8": 1, "I8": 1, "F64": 8}


def safetensors_bytes(tensors, metadata=None):
    """tensors: [(name, dtype, shape)]; data is zeros laid out in order."""
    header, offset = {}, 0
    for name, dtype, shape in tensors:
        n = DTYPE_SIZE[dtype]
        for s in shape:
            n *= s
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(range(256)) * (offset // 256) + bytes(offset % 256)


def seed_safetensors(out, shared):
    files = sorted(p for f in folders(shared) for p in f.glob("*.safetensors"))
    for i, path in enumerate(files[:12]):
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        metadata = header.pop("__metadata__", None)
        tensors = []
        for name, entry in list(header.items())[:8]:
            shape = [min(s, 3) for s in entry["shape"]]
            tensors.append((name, entry["dtype"], shape))
        write(out, "safetensors_fuzz", f"{i:02d}_{path.parent.name}_{path.stem}", safetensors_bytes(tensors, metadata))
    write(out, "safetensors_fuzz", "empty", safetensors_bytes([]))
    write(out, "safetensors_fuzz", "scalar_and_zero", safetensors_bytes([("s", "F32", []), ("z", "BF16", [0, 4])],
                                                                          {"format": "pt"}))


def seed_indexes(out, shared):
    for i, folder in enumerate([*folders(shared), ROOT / "tests/fixtures/pytorch_bin/sharded"]):
        for name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
            if (folder / name).exists():
                write(out, "sharded_index_fuzz", f"{i:02d}_{folder.name}_{name}", (folder / name).read_bytes())


def smollm2_tokenizer(shared):
    for p in (shared / "models/SmolLM2-135M-Instruct/tokenizer.json", shared / "fixtures/tiny-f32/tokenizer.json"):
        if p.exists():
            return json.loads(p.read_text())
    return None


def seed_tokenizer_json(out, shared):
    tok = smollm2_tokenizer(shared)
    if tok is None:
        return
    vocab = tok["model"]["vocab"]
    merges = tok["model"]["merges"]
    # The byte alphabet and the added tokens, then the first merges whose parts are kept.
    keep = {t: i for t, i in vocab.items() if len(t) == 1 or i < 20}
    small_merges = []
    for m in merges:
        a, b = m.split(" ") if isinstance(m, str) else m
        if a in keep and b in keep and a + b in vocab:
            small_merges.append(m)
            keep[a + b] = vocab[a + b]
        if len(small_merges) >= 40:
            break
    ids = {t: n for n, t in enumerate(sorted(keep, key=keep.get))}
    small = dict(tok)
    small["model"] = dict(tok["model"], vocab=ids, merges=small_merges)
    small["added_tokens"] = [dict(a, id=ids.get(a["content"], a["id"])) for a in tok["added_tokens"][:4]]
    write(out, "tokenizer_json_fuzz", "smollm2_small", json.dumps(small))
    variants = {
        "no_added": dict(small, added_tokens=[]),
        "split_pre": dict(small, pre_tokenizer={"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated",
                                                "invert": False}),
        "roberta_post": dict(small, post_processor={"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                                    "trim_offsets": True, "add_prefix_space": False}),
        "template_post": dict(small, post_processor={
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [], "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}}}),
    }
    for name, v in variants.items():
        write(out, "tokenizer_json_fuzz", name, json.dumps(v))


def seed_texts(out, shared):
    cases = shared / "fixtures/tokenizer/cases.jsonl"
    if not cases.exists():
        return
    for i, line in enumerate(cases.read_text().splitlines()[:300]):
        text = json.loads(line)
        if isinstance(text, dict):
            text = text.get("text", "")
        write(out, "tokenizer_encode_fuzz", f"{i:03d}", text.encode("utf-8", "surrogatepass"))
        if i % 10 == 0:
            write(out, "chat_template_fuzz", f"{i:03d}", text.encode("utf-8", "surrogatepass"))


CPP_STRING = re.compile(r'R"(\w*)\((.*?)\)\1"|"((?:[^"\\\n]|\\.)*)"', re.S)


def cpp_unescape(s):
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1", "replace")


def seed_templates(out):
    n = 0
    for test in ("src/jinja/jinja_test.cpp", "src/tokenizer/chat_template_test.cpp",
                 "src/tokenizer/chat_template_hf_test.cpp"):
        for m in CPP_STRING.finditer((ROOT / test).read_text()):
            if m.group(2) is not None:
                text = m.group(2).encode()
            else:
                try:
                    text = cpp_unescape(m.group(3))
                except (UnicodeDecodeError, UnicodeEncodeError):
                    continue
            if b"{{" in text or b"{%" in text:
                write(out, "jinja_fuzz", f"{n:03d}", text)
                n += 1


# ---- GGUF, from github.com/ggml-org/ggml docs/gguf.md -----------------------------------------
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_value(kind, v):
    if kind == U32:
        return struct.pack("<I", v)
    if kind == I32:
        return struct.pack("<i", v)
    if kind == F32:
        return struct.pack("<f", v)
    if kind == BOOL:
        return struct.pack("<?", v)
    if kind == STRING:
        return gguf_string(v)
    elem, items = v
    return struct.pack("<IQ", elem, len(items)) + b"".join(gguf_value(elem, x) for x in items)


def gguf_bytes(metadata, tensors, alignment=32):
    """metadata: [(key, kind, value)]; tensors: [(name, ggml_type, ne, nbytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_string(key) + struct.pack("<I", kind) + gguf_value(kind, value)
    offset = 0
    for name, ggml_type, ne, nbytes in tensors:
        out += gguf_string(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        out += struct.pack("<IQ", ggml_type, offset)
        offset += nbytes + (-nbytes % alignment)
    out += bytes(-len(out) % alignment)
    for _, _, _, nbytes in tensors:
        out += bytes(range(256)) * (nbytes // 256) + bytes(nbytes % 256) + bytes(-nbytes % alignment)
    return out


def seed_gguf(out):
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [chr(c) for c in range(33, 127)] + ["Ġ", "Ġt", "he"]
    merges = ["Ġ t", "h e"]
    llama = [
        ("general.architecture", STRING, "llama"), ("general.alignment", U32, 32),
        ("llama.context_length", U32, 64), ("llama.embedding_length", U32, 8), ("llama.block_count", U32, 1),
        ("llama.feed_forward_length", U32, 16), ("llama.attention.head_count", U32, 2),
        ("llama.attention.head_count_kv", U32, 1), ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
        ("llama.rope.freq_base", F32, 10000.0), ("llama.vocab_size", U32, len(tokens)),
    ]
    tokenizer = [
        ("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, "smollm"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [3, 3, 3] + [1] * (len(tokens) - 3))),
        ("tokenizer.ggml.merges", ARRAY, (STRING, merges)),
        ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
        ("tokenizer.chat_template", STRING,
         "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"),
    ]
    tensors = [("token_embd.weight", 0, [8, len(tokens)], 4 * 8 * len(tokens)),  # F32
               ("blk.0.attn_q.weight", 1, [8, 8], 2 * 64),                       # F16
               ("blk.0.ffn_up.weight", 8, [32, 2], 34 * 2),                      # Q8_0: 32-wide blocks
               ("output_norm.weight", 30, [8], 16)]                              # BF16
    write(out, "gguf_fuzz", "llama_tokenizer", gguf_bytes(llama + tokenizer, tensors))
    write(out, "gguf_fuzz", "tokenizer_only", gguf_bytes(tokenizer, []))
    write(out, "gguf_fuzz", "llama_no_tensors", gguf_bytes(llama, []))
    write(out, "gguf_fuzz", "q4_k", gguf_bytes([("general.alignment", U32, 64)],
                                               [("t", 12, [256, 1], 144), ("u", 14, [256, 1], 210)], alignment=64))


def seed_grammars(out):
    """smol's GBNF grammars and JSON Schemas (tests/grammars/), each also with a walk appended."""
    walk = bytes(range(1, 200, 3))
    for path in sorted((ROOT / "tests" / "grammars").glob("*.gbnf")):
        write(out, "grammar_fuzz", path.stem, path.read_bytes())
        write(out, "grammar_fuzz", path.stem + "_walk", path.read_bytes() + b"\0" + walk)
    for path in sorted((ROOT / "tests" / "grammars" / "schemas").glob("*.json")):
        write(out, "json_schema_fuzz", path.stem, path.read_bytes())
        write(out, "json_schema_fuzz", path.stem + "_walk", path.read_bytes() + b"\0" + walk)
    write(out, "json_schema_fuzz", "json_object_walk", b"object\0" + walk)


def main():
    out = Path(sys.argv[1])
    shared = Path(os.environ.get("SMOL_SHARED") or (sys.argv[2] if len(sys.argv) > 2 else ROOT.parent / "shared"))
    if not (shared / "fixtures").is_dir() and Path("/work/shared/fixtures").is_dir():
        shared = Path("/work/shared")
    seed_configs(out, shared)
    seed_safetensors(out, shared)
    seed_indexes(out, shared)
    seed_tokenizer_json(out, shared)
    seed_texts(out, shared)
    seed_templates(out)
    seed_gguf(out)
    seed_grammars(out)
    for d in sorted(out.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()
