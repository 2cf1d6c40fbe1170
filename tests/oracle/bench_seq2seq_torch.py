#!/usr/bin/python3
"""Float32 PyTorch baseline for encoder-decoder generation speed (BART/mBART/Marian folders):
encoder once, decoder with its own KV cache (self-attention K/V appended per step, cross K/V
computed once from the encoder output), greedy and 4-beam search (eos/max_length only, no
other processors; beams ranked as BeamSearchScorer ranks them). Prints one JSON line per mode.

    /usr/bin/python3 tests/oracle/bench_seq2seq_torch.py MODEL_DIR [--batch 8] [--src-len 32]
        [--max-new 32] [--threads N] [--modes greedy,beam4] [--sources ids.json]
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seq2seq_reference import ACTIVATIONS, load_config, load_weights, marian_sinusoids  # noqa: E402


class CachedModel:
    def __init__(self, folder):
        self.cfg = c = load_config(folder)
        raw = load_weights(folder)
        self.w = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in raw.items()}
        fam = c["model_type"]
        w = self.w
        share = fam != "marian" or c["share_encoder_decoder_embeddings"]
        if share:
            e = next(w[k] for k in ("model.shared.weight", "model.encoder.embed_tokens.weight",
                                    "model.decoder.embed_tokens.weight") if k in w)
            self.enc_e = self.dec_e = e
        else:
            self.enc_e, self.dec_e = w["model.encoder.embed_tokens.weight"], w["model.decoder.embed_tokens.weight"]
        self.lm = self.dec_e if c["tie_word_embeddings"] else w["lm_head.weight"]
        self.bias = w.get("final_logits_bias", torch.zeros(1, self.lm.shape[0])).reshape(-1)
        self.scale = math.sqrt(c["d_model"]) if c["scale_embedding"] else 1.0
        if fam == "marian":
            t = torch.from_numpy(marian_sinusoids(c["max_position_embeddings"], c["d_model"]))
            self.enc_pos, self.dec_pos, self.off = t, t, 0
        else:
            self.enc_pos = w["model.encoder.embed_positions.weight"]
            self.dec_pos = w["model.decoder.embed_positions.weight"]
            self.off = 2
        self.act = ACTIVATIONS[c["activation_function"]]
        self.pre = fam == "mbart"
        self.ln_emb = fam != "marian"

    def ln(self, p, x):
        return F.layer_norm(x, x.shape[-1:], self.w[p + ".weight"], self.w[p + ".bias"], 1e-5)

    def lin(self, p, x):
        return F.linear(x, self.w[p + ".weight"], self.w[p + ".bias"])

    def heads(self, x, n):
        b, t, d = x.shape
        return x.view(b, t, n, d // n).transpose(1, 2)

    def attn(self, q, k, v, mask):
        s = q @ k.transpose(2, 3) * (q.shape[-1] ** -0.5)
        if mask is not None:
            s = s + mask
        o = torch.softmax(s, -1) @ v
        b, n, t, hd = o.shape
        return o.transpose(1, 2).reshape(b, t, n * hd)

    def encode(self, ids, am):
        c = self.cfg
        h = self.enc_e[ids] * self.scale + self.enc_pos[torch.arange(ids.shape[1]) + self.off][None]
        if self.ln_emb:
            h = self.ln("model.encoder.layernorm_embedding", h)
        mask = (1.0 - am[:, None, None, :].float()) * torch.finfo(torch.float32).min
        n = c["encoder_attention_heads"]
        for i in range(c["encoder_layers"]):
            p = f"model.encoder.layers.{i}"
            x = self.ln(p + ".self_attn_layer_norm", h) if self.pre else h
            a = self.attn(self.heads(self.lin(p + ".self_attn.q_proj", x), n),
                          self.heads(self.lin(p + ".self_attn.k_proj", x), n),
                          self.heads(self.lin(p + ".self_attn.v_proj", x), n), mask)
            h = h + self.lin(p + ".self_attn.out_proj", a)
            if not self.pre:
                h = self.ln(p + ".self_attn_layer_norm", h)
            x = self.ln(p + ".final_layer_norm", h) if self.pre else h
            h = h + self.lin(p + ".fc2", self.act(self.lin(p + ".fc1", x)))
            if not self.pre:
                h = self.ln(p + ".final_layer_norm", h)
        if self.pre:
            h = self.ln("model.encoder.layer_norm", h)
        return h

    def cross_kv(self, enc):
        c, n = self.cfg, self.cfg["decoder_attention_heads"]
        out = []
        for i in range(c["decoder_layers"]):
            p = f"model.decoder.layers.{i}.encoder_attn"
            out.append((self.heads(self.lin(p + ".k_proj", enc), n), self.heads(self.lin(p + ".v_proj", enc), n)))
        return out

    def step(self, tok, pos, cache, cross, cross_mask):
        """tok [N] last tokens, pos = their position; cache: list of (K, V) or None; returns logits [N, V]."""
        c, n = self.cfg, self.cfg["decoder_attention_heads"]
        h = (self.dec_e[tok] * self.scale + self.dec_pos[pos + self.off])[:, None, :]
        if self.ln_emb:
            h = self.ln("model.decoder.layernorm_embedding", h)
        new_cache = []
        for i in range(c["decoder_layers"]):
            p = f"model.decoder.layers.{i}"
            x = self.ln(p + ".self_attn_layer_norm", h) if self.pre else h
            k = self.heads(self.lin(p + ".self_attn.k_proj", x), n)
            v = self.heads(self.lin(p + ".self_attn.v_proj", x), n)
            if cache is not None:
                k = torch.cat([cache[i][0], k], 2)
                v = torch.cat([cache[i][1], v], 2)
            new_cache.append((k, v))
            a = self.attn(self.heads(self.lin(p + ".self_attn.q_proj", x), n), k, v, None)
            h = h + self.lin(p + ".self_attn.out_proj", a)
            if not self.pre:
                h = self.ln(p + ".self_attn_layer_norm", h)
            x = self.ln(p + ".encoder_attn_layer_norm", h) if self.pre else h
            a = self.attn(self.heads(self.lin(p + ".encoder_attn.q_proj", x), n), cross[i][0], cross[i][1], cross_mask)
            h = h + self.lin(p + ".encoder_attn.out_proj", a)
            if not self.pre:
                h = self.ln(p + ".encoder_attn_layer_norm", h)
            x = self.ln(p + ".final_layer_norm", h) if self.pre else h
            h = h + self.lin(p + ".fc2", self.act(self.lin(p + ".fc1", x)))
            if not self.pre:
                h = self.ln(p + ".final_layer_norm", h)
        if self.pre:
            h = self.ln("model.decoder.layer_norm", h)
        return h[:, 0] @ self.lm.t() + self.bias, new_cache


def greedy(m, ids, am, start, eos, pad, max_new, ban_eos=False):
    enc = m.encode(ids, am)
    cross = m.cross_kv(enc)
    mask = (1.0 - am[:, None, None, :].float()) * torch.finfo(torch.float32).min
    b = ids.shape[0]
    tok = torch.full((b,), start, dtype=torch.long)
    alive = torch.ones(b, dtype=torch.bool)
    cache, generated = None, 0
    for t in range(max_new):
        logits, cache = m.step(tok, torch.tensor(t), cache, cross, mask)
        if ban_eos:
            logits[:, eos] = -float("inf")
        nxt = logits.argmax(-1)
        nxt = torch.where(alive, nxt, torch.full_like(nxt, pad))
        generated += int(alive.sum())
        alive &= nxt != eos
        tok = nxt
        if not alive.any():
            break
    return generated


def beam(m, ids, am, start, eos, pad, max_new, nb=4, lp=1.0, ban_eos=False):
    enc = m.encode(ids, am)
    b = ids.shape[0]
    enc = enc.repeat_interleave(nb, 0)
    am = am.repeat_interleave(nb, 0)
    cross = m.cross_kv(enc)
    mask = (1.0 - am[:, None, None, :].float()) * torch.finfo(torch.float32).min
    scores = torch.zeros(b, nb)
    scores[:, 1:] = -1e9
    scores = scores.view(-1)
    tok = torch.full((b * nb,), start, dtype=torch.long)
    finished = [[] for _ in range(b)]
    done = [False] * b
    cache, generated = None, 0
    for t in range(max_new):
        logits, cache = m.step(tok, torch.tensor(t), cache, cross, mask)
        if ban_eos:
            logits[:, eos] = -float("inf")
        logp = torch.log_softmax(logits, -1) + scores[:, None]
        v = logp.shape[-1]
        top, idx = torch.topk(logp.view(b, nb * v), 2 * nb, dim=1)
        src, tk = idx // v, idx % v
        new_src, new_tok, new_sc = [], [], []
        for i in range(b):
            if done[i]:
                new_src += [i * nb] * nb
                new_tok += [pad] * nb
                new_sc += [0.0] * nb
                continue
            kept = 0
            for r in range(2 * nb):
                if int(tk[i, r]) == eos:
                    if r < nb:
                        finished[i].append(float(top[i, r]) / ((t + 1) ** lp))
                    continue
                new_src.append(i * nb + int(src[i, r]))
                new_tok.append(int(tk[i, r]))
                new_sc.append(float(top[i, r]))
                kept += 1
                if kept == nb:
                    break
            generated += 1
            if len(finished[i]) >= nb:
                best_possible = float(top[i].max()) / ((t + 2) ** lp)
                done[i] = sorted(finished[i])[-nb] >= best_possible
        sel = torch.tensor(new_src)
        cache = [(k[sel], vv[sel]) for k, vv in cache]
        tok = torch.tensor(new_tok)
        scores = torch.tensor(new_sc)
        if all(done):
            break
    return generated


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--src-len", type=int, default=32)
    ap.add_argument("--max-new", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--modes", default="greedy,beam4")
    ap.add_argument("--sources", default=None, help="JSON list of source id lists (default: random ids)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ban-eos", action="store_true", help="never pick eos, so every row decodes --max-new tokens")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    m = CachedModel(a.model)
    c = m.cfg
    eos = c["eos_token_id"]
    pad = c["pad_token_id"]
    start = c["decoder_start_token_id"] if c["decoder_start_token_id"] is not None else c["bos_token_id"]
    if a.sources:
        with open(a.sources) as f:
            srcs = json.load(f)
    else:
        rng = np.random.default_rng(a.seed)
        srcs = [[int(x) for x in rng.integers(4, c["vocab_size"] - 2, size=a.src_len - 1)] + [eos]
                for _ in range(a.batch)]
    s = max(len(x) for x in srcs)
    ids = torch.tensor([x + [pad] * (s - len(x)) for x in srcs])
    am = torch.tensor([[1] * len(x) + [0] * (s - len(x)) for x in srcs])
    for mode in a.modes.split(","):
        fn = greedy if mode == "greedy" else beam
        t0 = time.perf_counter()
        gen = fn(m, ids, am, start, eos, pad, a.max_new, ban_eos=a.ban_eos)
        dt = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps({"mode": mode, "model": a.model, "sentences": len(srcs), "seconds": round(dt, 4),
                          "sentences_per_s": round(len(srcs) / dt, 3),
                          "target_tokens_per_s": round(gen / dt, 2), "target_tokens": gen,
                          "threads": torch.get_num_threads(), "peak_rss_mb": round(rss, 1)}))


if __name__ == "__main__":
    main()
