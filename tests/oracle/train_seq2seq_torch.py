#!/usr/bin/python3
"""PyTorch twin of bench/train_seq2seq_bench.cpp: trains the same encoder-decoder folder
(BART / mBART / Marian, the differentiable forward of seq2seq_train_reference.py run in
float32 eager mode, torch autograd for the backward) on the same (source, target) pairs,
batch B, AdamW + global-norm clipping, no dropout; bf16 through torch.autocast on the CPU.
Prints one JSON line like train_seq2seq_bench: tokens/s (source + target tokens, padding
not counted) over the timed steps after one warm-up step, peak RSS.

    /usr/bin/python3 tests/oracle/train_seq2seq_torch.py MODEL_DIR PAIRS_JSON [--threads N]
        [--batch B] [--steps S] [--precision fp32|bf16]
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from seq2seq_reference import load_config, load_weights, marian_sinusoids  # noqa: E402
from seq2seq_train_reference import Model, loss_fn, shift_tokens_right  # noqa: E402


class Float32Model(Model):
    """seq2seq_train_reference.Model with float32 tensors instead of float64."""

    def __init__(self, cfg, saved):
        super().__init__(cfg, saved_f64_stub(saved))
        self.p = {k: torch.tensor(np.asarray(v, dtype=np.float32), requires_grad=True)
                  for k, v in saved.items() if k != "final_logits_bias"}
        flb = saved.get("final_logits_bias")
        n_out = (cfg.get("decoder_vocab_size") or cfg["vocab_size"])
        self.final_logits_bias = (torch.tensor(np.asarray(flb, dtype=np.float32)).reshape(-1) if flb is not None
                                  else torch.zeros(n_out))
        shared = "model.shared.weight" in self.p
        self.enc_embed = self.p["model.shared.weight"] if shared else self.p["model.encoder.embed_tokens.weight"]
        self.dec_embed = self.p["model.shared.weight"] if shared else self.p["model.decoder.embed_tokens.weight"]
        self.lm_head = self.dec_embed if cfg["tie_word_embeddings"] else self.p["lm_head.weight"]
        if self.fam == "marian":
            table = torch.tensor(marian_sinusoids(cfg["max_position_embeddings"], cfg["d_model"]).astype(np.float32))
            self.enc_pos = self.dec_pos = table
        else:
            self.enc_pos = self.p["model.encoder.embed_positions.weight"]
            self.dec_pos = self.p["model.decoder.embed_positions.weight"]

    def logits(self, src_ids, src_mask, dec_ids):
        fmin = torch.finfo(torch.float32).min
        pad_mask = (1.0 - src_mask.to(torch.float32))[:, None, None, :] * fmin
        enc = self.stack("encoder", src_ids, self.enc_embed, self.enc_pos, pad_mask)
        t = dec_ids.shape[1]
        causal = torch.triu(torch.full((t, t), fmin), diagonal=1)[None, None]
        dec = self.stack("decoder", dec_ids, self.dec_embed, self.dec_pos, causal, (enc, pad_mask))
        return dec @ self.lm_head.t() + self.final_logits_bias


def saved_f64_stub(saved):
    # Model.__init__ needs the tensors' names only to find the tables; tiny stand-ins avoid a
    # float64 copy of the whole model (the float32 tensors are made right after).
    stub = {k: np.zeros((1, 1)) for k in saved}
    stub.setdefault("final_logits_bias", np.zeros((1, 1)))
    return stub


def pad_batch(seqs, pad):
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("pairs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = load_config(a.model)
    model = Float32Model(cfg, load_weights(a.model))
    params = [t for t in model.p.values() if t.requires_grad]
    decay = [t for t in params if t.dim() >= 2]
    no_decay = [t for t in params if t.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    pairs = json.load(open(a.pairs))
    pad, start = cfg["pad_token_id"], cfg["decoder_start_token_id"]

    def step(k):
        s = pairs["sources"][k * a.batch:(k + 1) * a.batch]
        t = pairs["targets"][k * a.batch:(k + 1) * a.batch]
        src, src_mask = pad_batch(s, pad)
        labels, tgt_mask = pad_batch(t, pad)
        labels = labels.masked_fill(tgt_mask == 0, -100)
        dec = shift_tokens_right(labels, pad, start)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = model.logits(src, src_mask, dec)
        loss = loss_fn(logits.float(), labels, 0.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item(), sum(len(x) for x in s) + sum(len(x) for x in t)

    step(0)  # warm-up
    t0 = time.perf_counter()
    tokens = 0
    for k in range(1, a.steps + 1):
        loss, n = step(k)
        tokens += n
    seconds = time.perf_counter() - t0
    blas = "unknown"
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libblas.so" in path or "libopenblas" in path:
                blas = "openblas" if "openblas" in path else "reference" if "/blas/" in path else path
                break
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "blas": blas, "precision": a.precision,
                      "threads": a.threads, "batch": a.batch, "params": sum(t.numel() for t in params),
                      "steps": a.steps, "tokens_per_s": round(tokens / seconds, 1),
                      "step_s": round(seconds / a.steps, 3),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "loss": round(loss, 4)}))


if __name__ == "__main__":
    main()
