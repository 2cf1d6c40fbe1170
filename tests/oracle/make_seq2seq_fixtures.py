#!/usr/bin/python3
"""Writes the encoder-decoder fixtures into tests/fixtures/seq2seq/<name>/ (random weights,
tiny shapes, deterministic: rerunning gives the same bytes).

    /usr/bin/python3 tests/oracle/make_seq2seq_fixtures.py [--out tests/fixtures/seq2seq] [--only NAME]

Every expected value comes from seq2seq_reference (float64) and seq2seq_generate."""
import argparse
import collections
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bpe_tokenizer  # noqa: E402
import marian_tokenizer  # noqa: E402
import seq2seq_generate as G  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from seq2seq_reference import Seq2SeqReference, load_config, marian_sinusoids  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
LICENSES = "/usr/share/common-licenses"
TRANSFORMERS_VERSION = "4.38.2"  # what the written config.json files claim to come from
EMB_STD = 0.3
EOS_BIAS = 3.0
LIN_GAIN = 1.0
MARGIN = 1e-4  # every greedy/beam decision in the fixtures is at least this far from a tie

BART_TEXTS = ["The licenses for most software are designed to take away your freedom.",
              "You may copy it.", "This program is free software: you can redistribute it."]
MARIAN_TEXTS = ["The licenses for most software are designed to take away your freedom.",
                "You may copy it.", "Licensed under the Apache License."]

SPECS = {
    "bart-tied": dict(
        family="bart", arch="BartForConditionalGeneration", activation="gelu", scale_embedding=False,
        tie=True, enc_heads=4, dec_heads=4, enc_ffn=64, dec_ffn=48, d_model=32, seed=1,
        tokenizer="bpe", pytorch_bin=True,
        generation_config={"num_beams": 4, "length_penalty": 2.0, "max_length": 20, "min_length": 6,
                           "no_repeat_ngram_size": 3, "early_stopping": True, "forced_bos_token_id": 0,
                           "forced_eos_token_id": 2}),
    "bart-untied": dict(
        family="bart", arch="BartForConditionalGeneration", activation="relu", scale_embedding=True,
        tie=False, enc_heads=4, dec_heads=2, enc_ffn=48, dec_ffn=64, d_model=32, seed=2,
        tokenizer="bpe", generation_config=None,
        config_generation={"max_length": 16, "num_beams": 3, "length_penalty": 0.7, "repetition_penalty": 1.25}),
    "mbart": dict(
        family="mbart", arch="MBartForConditionalGeneration", activation="gelu_new", scale_embedding=True,
        tie=True, enc_heads=2, dec_heads=4, enc_ffn=64, dec_ffn=32, d_model=24, seed=3,
        tokenizer="bpe", lang_codes=["ar_AR", "en_XX", "ro_RO"],
        generation_config={"num_beams": 4, "early_stopping": "never", "length_penalty": 0.8, "max_length": 18,
                           "min_new_tokens": 3, "repetition_penalty": 1.3, "forced_bos_token_id": "ro_RO",
                           "forced_eos_token_id": 2, "decoder_start_token_id": 2,
                           "bad_words_ids": "auto"}),
    "marian-tied": dict(
        family="marian", arch="MarianMTModel", activation="swish", scale_embedding=True, tie=True,
        share=True, enc_heads=4, dec_heads=4, enc_ffn=64, dec_ffn=64, d_model=32, seed=4, tokenizer="spm",
        generation_config={"num_beams": 4, "max_length": 24, "bad_words_ids": "pad", "forced_eos_token_id": 0}),
    "marian-untied": dict(
        family="marian", arch="MarianMTModel", activation="silu", scale_embedding=True, tie=False,
        share=False, enc_heads=2, dec_heads=4, enc_ffn=32, dec_ffn=64, d_model=32, seed=5, tokenizer="spm",
        separate_vocabs=True, generation_config=None,
        config_generation={"max_length": 14, "num_beams": 4, "bad_words_ids": "pad", "early_stopping": False,
                           "length_penalty": 1.0}),
}


# --- tokenizers ------------------------------------------------------------------------------
def build_bpe(folder, spec):
    with open(os.path.join(LICENSES, "GPL-3"), encoding="utf-8") as f:
        text = f.read()
    vocab, merges = bpe_tokenizer.train(text, 140)
    mask = vocab.pop("<mask>")
    for code in spec.get("lang_codes", []):
        vocab[code] = len(vocab)
    vocab["<mask>"] = len(vocab)
    assert mask <= vocab["<mask>"]
    bpe_tokenizer.write_files(folder, vocab, merges)
    tok_cfg = {"add_prefix_space": False, "bos_token": "<s>", "clean_up_tokenization_spaces": True,
               "cls_token": "<s>", "eos_token": "</s>", "errors": "replace", "mask_token": "<mask>",
               "model_max_length": 1024, "pad_token": "<pad>", "sep_token": "</s>",
               "tokenizer_class": "BartTokenizer", "unk_token": "<unk>"}
    dump_json(os.path.join(folder, "tokenizer_config.json"), tok_cfg)
    return {"vocab_size": len(vocab), "pad": 1, "bos": 0, "eos": 2, "vocab": vocab,
            "tokenizer": bpe_tokenizer.ByteBPE(vocab, merges)}


def build_spm(folder, spec):
    marian_tokenizer.train_spm(os.path.join(LICENSES, "GPL-3"), os.path.join(folder, "source.spm"), 150)
    marian_tokenizer.train_spm(os.path.join(LICENSES, "Apache-2.0"), os.path.join(folder, "target.spm"), 120)
    src = marian_tokenizer.spm_pieces(os.path.join(folder, "source.spm"))
    tgt = marian_tokenizer.spm_pieces(os.path.join(folder, "target.spm"))
    sep = spec.get("separate_vocabs", False)
    if not sep:
        pieces = list(dict.fromkeys(src + tgt))
        vocab = {"</s>": 0, "<unk>": 1}
        for p in pieces:
            vocab.setdefault(p, len(vocab))
        vocab["<pad>"] = len(vocab)
        dump_json(os.path.join(folder, "vocab.json"), vocab, indent=2)
        sizes = {"vocab_size": len(vocab), "decoder_vocab_size": len(vocab), "pad": vocab["<pad>"]}
    else:
        tvocab = {"</s>": 0, "<unk>": 1}
        for p in tgt:
            tvocab.setdefault(p, len(tvocab))
        tvocab["<pad>"] = len(tvocab)
        pad = tvocab["<pad>"]
        # the source table is the larger one; <pad> sits at the same id in both so that
        # pad_token_id (= decoder_start_token_id) is valid for the encoder and the decoder
        svocab = {"</s>": 0, "<unk>": 1}
        for p in src:
            if len(svocab) == pad:
                svocab["<pad>"] = pad
            svocab.setdefault(p, len(svocab))
        assert svocab.get("<pad>") == pad, "source vocabulary must be larger than the target one"
        dump_json(os.path.join(folder, "vocab.json"), svocab, indent=2)
        dump_json(os.path.join(folder, "target_vocab.json"), tvocab, indent=2)
        vocab = svocab
        sizes = {"vocab_size": len(svocab), "decoder_vocab_size": len(tvocab), "pad": pad}
    tok_cfg = {"eos_token": "</s>", "model_max_length": 512, "pad_token": "<pad>", "separate_vocabs": sep,
               "source_lang": "en", "sp_model_kwargs": {}, "target_lang": "de",
               "tokenizer_class": "MarianTokenizer", "unk_token": "<unk>"}
    if sep:
        tok_cfg["target_vocab_file"] = "target_vocab.json"
    dump_json(os.path.join(folder, "tokenizer_config.json"), tok_cfg)
    sizes.update({"eos": 0, "bos": None, "vocab": vocab,
                  "tokenizer": marian_tokenizer.MarianTok(folder, separate_vocabs=sep)})
    return sizes


# --- config -----------------------------------------------------------------------------------
def model_config(spec, tok):
    fam = spec["family"]
    c = {
        "activation_dropout": 0.0, "activation_function": spec["activation"], "architectures": [spec["arch"]],
        "attention_dropout": 0.0, "d_model": spec["d_model"], "decoder_attention_heads": spec["dec_heads"],
        "decoder_ffn_dim": spec["dec_ffn"], "decoder_layerdrop": 0.0, "decoder_layers": 2, "dropout": 0.1,
        "encoder_attention_heads": spec["enc_heads"], "encoder_ffn_dim": spec["enc_ffn"],
        "encoder_layerdrop": 0.0, "encoder_layers": 2, "eos_token_id": tok["eos"], "init_std": 0.02,
        "is_encoder_decoder": True, "max_position_embeddings": 64, "model_type": fam, "num_hidden_layers": 2,
        "pad_token_id": tok["pad"], "scale_embedding": spec["scale_embedding"], "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION, "use_cache": True, "vocab_size": tok["vocab_size"],
    }
    if fam in ("bart", "mbart"):
        c.update({"bos_token_id": 0, "classifier_dropout": 0.0, "forced_eos_token_id": 2,
                  "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
                  "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}})
        if fam == "bart":
            c["decoder_start_token_id"] = 2
    else:
        c.update({"decoder_start_token_id": tok["pad"], "decoder_vocab_size": tok["decoder_vocab_size"],
                  "forced_eos_token_id": 0, "share_encoder_decoder_embeddings": spec["share"]})
        if spec["arch"] == "MarianMTModel":
            c["bad_words_ids"] = [[tok["pad"]]]
    if not spec["tie"]:
        c["tie_word_embeddings"] = False
    for k, v in (spec.get("config_generation") or {}).items():
        c[k] = resolve_tokens(v, tok, k)
    return c


def resolve_tokens(v, tok, key):
    if v == "pad":
        return [[tok["pad"]]]
    if v == "auto":
        return None  # chosen by probe_bad_words once the model exists
    if isinstance(v, str) and key.endswith("token_id"):
        return tok["vocab"][v]
    return v


def generation_config_json(spec, tok, cfg):
    g = {"bos_token_id": cfg.get("bos_token_id"), "decoder_start_token_id": cfg.get("decoder_start_token_id"),
         "eos_token_id": cfg["eos_token_id"], "pad_token_id": cfg["pad_token_id"]}
    for k, v in spec["generation_config"].items():
        g[k] = resolve_tokens(v, tok, k)
    g = {k: v for k, v in g.items() if v is not None}
    g["transformers_version"] = TRANSFORMERS_VERSION
    return g


# --- weights ----------------------------------------------------------------------------------
def make_weights(cfg, rng):
    """A state_dict in transformers' module order; tied entries are the same array object."""
    fam = cfg["model_type"]
    d = cfg["d_model"]
    sd = collections.OrderedDict()

    def lin(name, n_out, n_in):
        sd[name + ".weight"] = rng.normal(0, LIN_GAIN / np.sqrt(n_in), (n_out, n_in)).astype(np.float32)
        sd[name + ".bias"] = rng.normal(0, 0.1, (n_out,)).astype(np.float32)

    def ln(name):
        sd[name + ".weight"] = (1 + rng.normal(0, 0.1, (d,))).astype(np.float32)
        sd[name + ".bias"] = rng.normal(0, 0.05, (d,)).astype(np.float32)

    def emb(n):
        e = rng.normal(0, EMB_STD, (n, d)).astype(np.float32)
        e[cfg["pad_token_id"]] = 0.0  # nn.Embedding(padding_idx) initialises that row to zero
        return e

    v_out = cfg.get("decoder_vocab_size") or cfg["vocab_size"]
    bias = rng.normal(0, 0.3, (1, v_out)).astype(np.float32)
    bias[0, cfg["eos_token_id"]] += EOS_BIAS  # so that generations end at varied lengths
    sd["final_logits_bias"] = bias
    shared = fam != "marian" or cfg["share_encoder_decoder_embeddings"]
    if shared:
        sd["model.shared.weight"] = emb(cfg["vocab_size"])
        enc_e = dec_e = sd["model.shared.weight"]
    else:
        enc_e, dec_e = emb(cfg["vocab_size"]), emb(v_out)
    for side, e, heads, ffn in (("encoder", enc_e, cfg["encoder_attention_heads"], cfg["encoder_ffn_dim"]),
                                ("decoder", dec_e, cfg["decoder_attention_heads"], cfg["decoder_ffn_dim"])):
        p = f"model.{side}"
        sd[p + ".embed_tokens.weight"] = e
        if fam == "marian":
            sd[p + ".embed_positions.weight"] = marian_sinusoids(cfg["max_position_embeddings"], d)
        else:
            sd[p + ".embed_positions.weight"] = rng.normal(0, 0.3, (cfg["max_position_embeddings"] + 2, d)).astype(np.float32)
        for i in range(2):
            q = f"{p}.layers.{i}"
            for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                lin(f"{q}.self_attn.{proj}", d, d)
            ln(q + ".self_attn_layer_norm")
            if side == "decoder":
                for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                    lin(f"{q}.encoder_attn.{proj}", d, d)
                ln(q + ".encoder_attn_layer_norm")
            lin(q + ".fc1", ffn, d)
            lin(q + ".fc2", d, ffn)
            ln(q + ".final_layer_norm")
        if fam != "marian":
            ln(p + ".layernorm_embedding")
        if fam == "mbart":
            ln(p + ".layer_norm")
    tie = cfg.get("tie_word_embeddings", True)
    sd["lm_head.weight"] = dec_e if tie else rng.normal(0, 0.5, (v_out, d)).astype(np.float32)
    return sd


def saved_state_dict(sd, cfg):
    """What save_pretrained(safe_serialization=True) writes: _keys_to_ignore_on_save dropped
    (Marian's sinusoid tables), and of each group of tied tensors the names matching
    _tied_weights_keys are dropped (sorted order) until one name is left."""
    fam = cfg["model_type"]
    out = collections.OrderedDict(sd)
    if fam == "marian":
        out.pop("model.encoder.embed_positions.weight")
        out.pop("model.decoder.embed_positions.weight")
    tied_patterns = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"]
    groups = collections.defaultdict(list)
    for k, v in out.items():
        groups[id(v)].append(k)
    for names in groups.values():
        if len(names) < 2:
            continue
        found = 0
        for n in sorted(names):
            if any(p in n for p in tied_patterns):
                found += 1
                if found < len(names):
                    del out[n]
    return out


# --- expected values --------------------------------------------------------------------------
def pick_sources(rng, cfg, lengths, is_marian):
    v = cfg["vocab_size"]
    specials = {cfg["pad_token_id"], cfg["eos_token_id"], 0, 1, 2, 3}
    pool = [i for i in range(v) if i not in specials]
    out = []
    for n in lengths:
        body = [int(x) for x in rng.choice(pool, size=n)]
        out.append(body + [cfg["eos_token_id"]] if is_marian else [0] + body + [2])
    return out


def pad_batch(seqs, pad):
    s = max(len(x) for x in seqs)
    ids = [x + [pad] * (s - len(x)) for x in seqs]
    mask = [[1] * len(x) + [0] * (s - len(x)) for x in seqs]
    return ids, mask


# The keyword arguments of the plain cases, exactly as passed to generate(): every processor the
# folder's config could switch on is switched off explicitly (None overrides too), and the
# length is max_new_tokens (so the default-20 rule of _prepare_generated_length never applies).
PLAIN = {"min_length": 0, "min_new_tokens": None, "no_repeat_ngram_size": 0, "bad_words_ids": None,
         "repetition_penalty": 1.0, "forced_bos_token_id": None, "forced_eos_token_id": None,
         "length_penalty": 1.0, "early_stopping": False, "max_new_tokens": 12}


def cases(gen):
    return [
        ("greedy_plain", dict(PLAIN, num_beams=1)),
        ("beam4_plain", dict(PLAIN, num_beams=4)),
        ("beam4_early_stopping_true_lp1.5", dict(PLAIN, num_beams=4, early_stopping=True, length_penalty=1.5)),
        ("beam4_early_stopping_never_lp0.5", dict(PLAIN, num_beams=4, early_stopping="never", length_penalty=0.5)),
        ("generation_config_greedy", {"num_beams": 1}),
        ("generation_config", {}),
    ]


PUBLIC_FIELDS = ["max_length", "max_new_tokens", "min_length", "min_new_tokens", "num_beams", "length_penalty",
                 "early_stopping", "no_repeat_ngram_size", "bad_words_ids", "repetition_penalty", "forced_bos_token_id",
                 "forced_eos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"]


def run_case(model, gen, overrides, src_ids, src_mask, sources):
    g = G.finalize_params(gen, **overrides)
    batch = G.generate(model.step_fn(src_ids, src_mask), len(sources), g)
    singles = [G.generate(model.step_fn([s], [[1] * len(s)]), 1, g) for s in sources]
    fill = g["pad_token_id"] or (g["eos_list"] or [-1])[0]  # _beam_search's output_fill_value
    for i, one in enumerate(singles):
        seq = one["sequences"][0]
        row = batch["sequences"][i]
        assert row[: len(seq)] == seq, (row, seq)
        assert all(t in (g["pad_token_id"], fill) for t in row[len(seq):]), (row, seq)
        if "scores" in one:
            assert abs(one["scores"][0] - batch["scores"][i]) < 1e-9
    margin = min([batch["min_margin"]] + [s["min_margin"] for s in singles])
    res = {"params": dict(overrides), "resolved": {k: g[k] for k in PUBLIC_FIELDS},
           "sequences": batch["sequences"], "sequences_one_by_one": [s["sequences"][0] for s in singles],
           "min_decision_margin": margin}
    if "scores" in batch:
        res["sequence_scores"] = batch["scores"]
    if batch.get("vocab_mismatch"):
        res["transformers_raises"] = (
            "RuntimeError in _beam_search at 000034a4: torch.reshape(log_probs, (batch_size, num_beams * vocab_size)) "
            f"with vocab_size = config.get_text_config().vocab_size = {batch['vocab_mismatch']['config_vocab_size']} "
            f"but logits of width {batch['vocab_mismatch']['logits_width']} (decoder_vocab_size); sequences here use "
            "the logits' width, as greedy and transformers <= v4.47 beam search do")
    return res, margin


def build(name, spec, out_root):
    folder = os.path.join(out_root, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    tok = build_bpe(folder, spec) if spec["tokenizer"] == "bpe" else build_spm(folder, spec)
    cfg_json = model_config(spec, tok)
    dump_json(os.path.join(folder, "config.json"), cfg_json, indent=2, sort_keys=True)
    if spec.get("generation_config"):
        dump_json(os.path.join(folder, "generation_config.json"), generation_config_json(spec, tok, cfg_json),
                  indent=2, sort_keys=True)
    cfg = load_config(cfg_json)
    rng = np.random.default_rng(spec["seed"])
    sd = make_weights(cfg, rng)
    saved = saved_state_dict(sd, cfg)
    write_safetensors(os.path.join(folder, "model.safetensors"), saved, metadata={"format": "pt"})
    if spec.get("pytorch_bin"):
        memo = {}
        tsd = collections.OrderedDict()
        for k, v in sd.items():
            if id(v) not in memo:
                memo[id(v)] = torch.from_numpy(np.array(v))
            tsd[k] = memo[id(v)]
        torch.save(tsd, os.path.join(folder, "pytorch_model.bin"))

    model = Seq2SeqReference(folder)  # reads back what was written, as smol will
    is_marian = cfg["model_type"] == "marian"
    if (spec.get("generation_config") or {}).get("bad_words_ids") == "auto":
        probe_bad_words(folder, model, cfg, rng, is_marian)
    gen = G.generation_config_for(folder)
    tried = []
    for attempt in range(60):
        sources = pick_sources(rng, cfg, [7, 3, 11, 5], is_marian)
        src_ids, src_mask = pad_batch(sources, cfg["pad_token_id"])
        results, worst = {}, np.inf
        for cname, ov in cases(gen):
            results[cname], m = run_case(model, gen, ov, src_ids, src_mask, sources)
            worst = min(worst, m)
            if worst < MARGIN:
                tried.append((cname, m))
                break
        if worst >= MARGIN:
            break
    else:
        raise RuntimeError(f"{name}: no source batch with decision margins >= {MARGIN}: {tried}")

    # teacher-forced logits at every decoder position
    start = G.finalize_params(gen)["decoder_start_token_id"]
    v_out = model.lm_head.shape[0]
    dec_ids = [[start] + [int(x) for x in rng.integers(4, v_out - 1, size=5)] for _ in sources]
    enc = model.encode(src_ids, src_mask)
    logits = model.decode(dec_ids, enc, src_mask)
    for i, s in enumerate(sources):
        one = model.forward([s], [[1] * len(s)], [dec_ids[i]])
        assert torch.max(torch.abs(one[0] - logits[i])).item() < 1e-9
    write_safetensors(os.path.join(folder, "expected_logits.safetensors"),
                      {"logits": logits.numpy().astype(np.float32),
                       "encoder_last_hidden_state": enc.numpy().astype(np.float32)})
    expected = {
        "model": name, "family": cfg["model_type"], "seed": spec["seed"],
        "source_ids": sources, "input_ids": src_ids, "attention_mask": src_mask,
        "decoder_input_ids": dec_ids,
        "logits_file": "expected_logits.safetensors",
        "generation_config_resolved": {k: G.finalize_params(gen)[k] for k in PUBLIC_FIELDS},
        "generation": results,
    }
    texts = texts_section(spec, tok, model, gen)
    if texts:
        expected["texts"] = texts
    dump_json(os.path.join(folder, "expected.json"), expected, indent=1)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    assert size < 1_000_000, f"{name} is {size} bytes"
    print(f"{name}: {size} bytes, min decision margin {worst:.4g}, attempts {attempt + 1}")


def probe_bad_words(folder, model, cfg, rng, is_marian):
    """Bans what the model actually generates (so the processor is exercised): the most common
    generated token as a one-token ban, and a bigram seen in another output as a two-token ban."""
    path = os.path.join(folder, "generation_config.json")
    with open(path) as f:
        gj = json.load(f)
    gen = G.generation_config_for(folder)
    probe = pick_sources(np.random.default_rng(1234), cfg, [6, 9, 4, 8], is_marian)
    ids, mask = pad_batch(probe, cfg["pad_token_id"])
    g = G.finalize_params(gen, num_beams=1)
    seqs = G.generate(model.step_fn(ids, mask), len(probe), g)["sequences"]
    special = {cfg["pad_token_id"], cfg["eos_token_id"], g["decoder_start_token_id"], g["forced_bos_token_id"]}
    counts = collections.Counter(t for s in seqs for t in s[1:] if t not in special)
    single = counts.most_common(1)[0][0]
    pair = None
    for s in seqs:
        body = [t for t in s[1:] if t not in special]
        for a, b in zip(body, body[1:]):
            if single not in (a, b):
                pair = [a, b]
                break
        if pair:
            break
    gj["bad_words_ids"] = [[single], pair]
    dump_json(path, gj, indent=2, sort_keys=True)


def texts_section(spec, tok, model, gen):
    t = tok["tokenizer"]
    texts = MARIAN_TEXTS if spec["tokenizer"] == "spm" else BART_TEXTS
    if spec.get("lang_codes"):
        return None  # mBART's real tokenizer is SentencePiece; this BPE stand-in gets no text fixtures
    out = []
    for text in texts:
        ids = t.encode(text)
        entry = {"text": text, "input_ids": ids}
        if spec["tokenizer"] == "spm":
            entry["pieces"] = t.pieces(text)
        for cname, ov in (("greedy_plain", dict(PLAIN, num_beams=1)), ("generation_config", {})):
            g = G.finalize_params(gen, **ov)
            r = G.generate(model.step_fn([ids], [[1] * len(ids)]), 1, g)
            seq = r["sequences"][0]
            entry[cname] = {"ids": seq, "text": t.decode(seq, skip_special_tokens=True),
                            "min_decision_margin": r["min_margin"]}
        out.append(entry)
    return out


def dump_json(path, obj, indent=None, sort_keys=False):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "seq2seq"))
    ap.add_argument("--only", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    for name, spec in SPECS.items():
        if a.only and name != a.only:
            continue
        build(name, spec, a.out)
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(a.out)):
        for f in sorted(files):
            with open(os.path.join(root, f), "rb") as fh:
                digest.update(f.encode() + fh.read())
    print("tree sha256", digest.hexdigest())


if __name__ == "__main__":
    main()
