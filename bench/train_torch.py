#!/usr/bin/python3
"""PyTorch twin of bench/train_bench.cpp: the same SmolLM2-135M-shaped model (random weights,
tied embeddings, GQA, rotate_half RoPE, SwiGLU), the same batch, AdamW + global-norm clipping,
on the same number of threads. Prints one JSON line like train_bench.

    /usr/bin/python3 bench/train_torch.py [--threads N] [--batch B] [--seq-len T] [--steps S]
                                          [--precision fp32|bf16] [--layers L]
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.nh, self.nkv, self.hd = c["hidden"], c["heads"], c["kv_heads"], c["head_dim"]
        self.input_layernorm = RMSNorm(h, c["eps"])
        self.q_proj = nn.Linear(h, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(h, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(h, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, h, bias=False)
        self.post_attention_layernorm = RMSNorm(h, c["eps"])
        self.gate_proj = nn.Linear(h, c["ffn"], bias=False)
        self.up_proj = nn.Linear(h, c["ffn"], bias=False)
        self.down_proj = nn.Linear(c["ffn"], h, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        n = self.input_layernorm(x)
        q = self.q_proj(n).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(n).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(n).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        group = self.nh // self.nkv
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        attn = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        x = x + self.o_proj(attn.transpose(1, 2).reshape(B, T, -1))
        n = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(n)) * self.up_proj(n))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab"], c["hidden"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"], c["eps"])
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, c["init"])

    def forward(self, ids, targets):
        T = ids.shape[1]
        hd = self.c["head_dim"]
        inv = self.c["theta"] ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat((ang, ang), dim=-1)
        cos, sin = ang.cos().float(), ang.sin().float()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.norm(x) @ self.embed_tokens.weight.t()  # tied lm_head
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def blas_library():
    """The BLAS torch's float32 matmuls went to: the libblas.so.3 this process mapped."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "libblas.so" in path or "libopenblas" in path:
                    return "openblas" if "openblas" in path else "reference" if "/blas/" in path else path
    except OSError:
        pass
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = dict(hidden=576, ffn=1536, layers=a.layers, heads=9, kv_heads=3, head_dim=64, vocab=49152, eps=1e-5,
             theta=100000.0, init=0.041666668)
    model = Model(c)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    data = torch.randint(0, c["vocab"], (a.steps + 1, a.batch, a.seq_len + 1))

    def step(i):
        ids, tgt = data[i, :, :-1], data[i, :, 1:]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = model(ids, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    step(0)  # warm-up
    t0 = time.perf_counter()
    loss = 0.0
    for i in range(1, a.steps + 1):
        loss = step(i)
    dt = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"impl": "pytorch " + torch.__version__, "blas": blas_library(), "precision": a.precision, "threads": a.threads,
                      "batch": a.batch, "seq_len": a.seq_len, "layers": a.layers, "params": n_params,
                      "steps": a.steps, "tokens_per_s": round(a.batch * a.seq_len * a.steps / dt, 1),
                      "step_s": round(dt / a.steps, 3),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "loss": round(loss, 4)}))


if __name__ == "__main__":
    main()
