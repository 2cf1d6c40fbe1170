#!/usr/bin/python3
"""Float64 PyTorch ground truth for training encoder-decoders (BART / mBART / Marian):
writes tests/fixtures/seq2seq_train/<name>/ with a random model (saved as save_pretrained
would), a padded batch of (source, target) pairs, and the expected step-0 loss, the gradient
of every tensor, and the weights and losses after 3 AdamW steps.

    /usr/bin/python3 tests/oracle/seq2seq_train_reference.py [--out tests/fixtures/seq2seq_train]

The forward is written here again, differentiably (torch autograd does the backward), from
transformers' modeling_bart.py / modeling_mbart.py / modeling_marian.py (the same reading as
seq2seq_reference.py, whose inference code indexes tables directly and so cannot give
nn.Embedding's padding_idx gradients):
  * nn.Embedding(padding_idx=pad_token_id): the pad row gets no gradient from lookups;
  * BartForConditionalGeneration(labels=...): decoder_input_ids = shift_tokens_right(labels,
    pad, decoder_start_token_id), CrossEntropyLoss(ignore_index=-100), or with a label
    smoothing factor Seq2SeqTrainer's LabelSmoother;
  * final_logits_bias is a buffer (not a parameter); Marian's sinusoidal positions are frozen;
  * torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW with no weight decay on ndim < 2
    tensors and smol's layer-wise LR decay numbering (README § Training).
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from make_seq2seq_fixtures import dump_json, make_weights, saved_state_dict  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from seq2seq_reference import ACTIVATIONS, load_config, marian_sinusoids  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))

SPECS = {
    "bart": dict(config={"model_type": "bart", "architectures": ["BartForConditionalGeneration"],
                         "activation_function": "gelu", "d_model": 16, "encoder_attention_heads": 4,
                         "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 24,
                         "vocab_size": 40, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
                         "decoder_start_token_id": 2, "scale_embedding": False},
                 seed=11, label_smoothing=0.1, layer_decay=0.8),
    "marian": dict(config={"model_type": "marian", "architectures": ["MarianMTModel"],
                           "activation_function": "swish", "d_model": 16, "encoder_attention_heads": 2,
                           "decoder_attention_heads": 4, "encoder_ffn_dim": 24, "decoder_ffn_dim": 32,
                           "vocab_size": 44, "decoder_vocab_size": 36, "pad_token_id": 35, "eos_token_id": 0,
                           "decoder_start_token_id": 35, "scale_embedding": True,
                           "share_encoder_decoder_embeddings": False, "tie_word_embeddings": False},
                   seed=12, label_smoothing=0.0, layer_decay=1.0),
    "mbart": dict(config={"model_type": "mbart", "architectures": ["MBartForConditionalGeneration"],
                          "activation_function": "gelu", "d_model": 16, "encoder_attention_heads": 2,
                          "decoder_attention_heads": 2, "encoder_ffn_dim": 24, "decoder_ffn_dim": 24,
                          "vocab_size": 40, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
                          "decoder_start_token_id": 2, "scale_embedding": True},
                  seed=13, label_smoothing=0.05, layer_decay=0.9),
}
COMMON = {"encoder_layers": 2, "decoder_layers": 2, "max_position_embeddings": 32, "dropout": 0.1,
          "attention_dropout": 0.0, "activation_dropout": 0.0, "init_std": 0.02, "is_encoder_decoder": True,
          "torch_dtype": "float32", "transformers_version": "4.38.2", "use_cache": True}
OPTIM = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "grad_clip": 1.0, "steps": 3}


class Model:
    """The trainable tensors under their saved names, and a differentiable float64 forward."""

    def __init__(self, cfg, saved):
        self.cfg = cfg
        self.fam = cfg["model_type"]
        self.p = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
                  for k, v in saved.items() if k != "final_logits_bias"}
        self.final_logits_bias = torch.tensor(np.asarray(saved["final_logits_bias"], dtype=np.float64)).reshape(-1)
        shared = "model.shared.weight" in self.p
        self.enc_embed = self.p["model.shared.weight"] if shared else self.p["model.encoder.embed_tokens.weight"]
        self.dec_embed = self.p["model.shared.weight"] if shared else self.p["model.decoder.embed_tokens.weight"]
        tie = cfg["tie_word_embeddings"]
        self.lm_head = self.dec_embed if tie else self.p["lm_head.weight"]
        d = cfg["d_model"]
        if self.fam == "marian":
            table = torch.tensor(marian_sinusoids(cfg["max_position_embeddings"], d).astype(np.float64))
            self.enc_pos = self.dec_pos = table
            self.offset = 0
        else:
            self.enc_pos = self.p["model.encoder.embed_positions.weight"]
            self.dec_pos = self.p["model.decoder.embed_positions.weight"]
            self.offset = 2
        self.scale = math.sqrt(d) if cfg["scale_embedding"] else 1.0
        self.act = ACTIVATIONS[cfg["activation_function"]]
        self.pre_norm = self.fam == "mbart"

    def ln(self, name, x):
        return F.layer_norm(x, x.shape[-1:], self.p[name + ".weight"], self.p[name + ".bias"], 1e-5)

    def lin(self, name, x):
        return F.linear(x, self.p[name + ".weight"], self.p[name + ".bias"])

    def attention(self, prefix, x, kv, heads, mask):
        bsz, tgt, d = x.shape
        src = kv.shape[1]
        hd = d // heads
        q = self.lin(prefix + ".q_proj", x) * hd ** -0.5
        k = self.lin(prefix + ".k_proj", kv)
        v = self.lin(prefix + ".v_proj", kv)
        q = q.view(bsz, tgt, heads, hd).transpose(1, 2)
        k = k.view(bsz, src, heads, hd).transpose(1, 2)
        v = v.view(bsz, src, heads, hd).transpose(1, 2)
        p = torch.softmax(q @ k.transpose(2, 3) + mask, dim=-1)
        out = (p @ v).transpose(1, 2).reshape(bsz, tgt, d)
        return self.lin(prefix + ".out_proj", out)

    def ffn(self, prefix, x):
        return self.lin(prefix + ".fc2", self.act(self.lin(prefix + ".fc1", x)))

    def stack(self, side, ids, embed, pos, self_mask, cross=None):
        c = self.cfg
        t = ids.shape[1]
        h = F.embedding(ids, embed, padding_idx=c["pad_token_id"]) * self.scale
        h = h + pos[torch.arange(t) + self.offset][None]
        if self.fam != "marian":
            h = self.ln(f"model.{side}.layernorm_embedding", h)
        heads = c[f"{side}_attention_heads"]
        for i in range(c[f"{side}_layers"]):
            p = f"model.{side}.layers.{i}"
            subs = [("self_attn_layer_norm", lambda x: self.attention(p + ".self_attn", x, x, heads, self_mask))]
            if cross is not None:
                memory, cross_mask = cross
                subs.append(("encoder_attn_layer_norm",
                             lambda x: self.attention(p + ".encoder_attn", x, memory, heads, cross_mask)))
            subs.append(("final_layer_norm", lambda x: self.ffn(p, x)))
            for norm, f in subs:
                if self.pre_norm:
                    h = h + f(self.ln(f"{p}.{norm}", h))
                else:
                    h = self.ln(f"{p}.{norm}", h + f(h))
        if self.pre_norm:
            h = self.ln(f"model.{side}.layer_norm", h)
        return h

    def logits(self, src_ids, src_mask, dec_ids):
        fmin = torch.finfo(torch.float64).min
        pad_mask = (1.0 - src_mask.to(torch.float64))[:, None, None, :] * fmin
        enc = self.stack("encoder", src_ids, self.enc_embed, self.enc_pos, pad_mask)
        t = dec_ids.shape[1]
        causal = torch.triu(torch.full((t, t), fmin, dtype=torch.float64), diagonal=1)[None, None]
        dec = self.stack("decoder", dec_ids, self.dec_embed, self.dec_pos, causal, (enc, pad_mask))
        return dec @ self.lm_head.t() + self.final_logits_bias


def shift_tokens_right(labels, pad, start):
    out = labels.new_zeros(labels.shape)
    out[:, 1:] = labels[:, :-1].clone()
    out[:, 0] = start
    out.masked_fill_(out == -100, pad)
    return out


def loss_fn(logits, labels, epsilon):
    if epsilon == 0:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
    # transformers.trainer_pt_utils.LabelSmoother
    log_probs = -F.log_softmax(logits, dim=-1)
    lab = labels.unsqueeze(-1)
    padding_mask = lab.eq(-100)
    lab = torch.clamp(lab, min=0)
    nll = log_probs.gather(dim=-1, index=lab)
    smoothed = log_probs.sum(dim=-1, keepdim=True)
    nll = nll.masked_fill(padding_mask, 0.0)
    smoothed = smoothed.masked_fill(padding_mask, 0.0)
    active = padding_mask.numel() - padding_mask.long().sum()
    return (1 - epsilon) * nll.sum() / active + epsilon * smoothed.sum() / (active * log_probs.shape[-1])


def depth(name, cfg):
    """smol's layer-wise LR decay numbering (ParamTensor::depth)."""
    le, ld = cfg["encoder_layers"], cfg["decoder_layers"]
    if name.startswith("model.encoder.layers."):
        return int(name.split(".")[3])
    if name.startswith("model.decoder.layers."):
        return le + int(name.split(".")[3])
    if name.startswith("model.encoder.layer_norm."):
        return le - 1
    if name.startswith("model.decoder.layer_norm.") or name == "lm_head.weight":
        return le + ld
    return -1  # token and position embeddings, layernorm_embedding


def lr_scale(d, n, decay):
    if decay == 1.0 or d >= n:
        return 1.0
    return decay ** n if d < 0 else decay ** (n - 1 - d)


def pick_pairs(rng, cfg):
    v_src = cfg["vocab_size"]
    v_tgt = cfg.get("decoder_vocab_size") or v_src
    eos, pad = cfg["eos_token_id"], cfg["pad_token_id"]
    special = {0, 1, 2, 3, eos, pad}
    src_pool = [i for i in range(v_src) if i not in special]
    tgt_pool = [i for i in range(v_tgt) if i not in special]
    sources, targets = [], []
    for ns, nt in ((9, 6), (4, 7), (7, 3), (5, 5)):
        body = [int(x) for x in rng.choice(src_pool, size=ns)]
        if cfg["model_type"] != "marian":
            body = [0] + body
        sources.append(body + [eos])
        targets.append([int(x) for x in rng.choice(tgt_pool, size=nt)] + [eos])
    # a pad id inside a real source: its lookup must give the pad row no gradient
    sources[1][2] = pad
    return sources, targets


def build(name, spec, out_root):
    folder = os.path.join(out_root, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    cfg_json = dict(COMMON)
    cfg_json.update(spec["config"])
    dump_json(os.path.join(folder, "config.json"), cfg_json, indent=2, sort_keys=True)
    cfg = load_config(cfg_json)
    rng = np.random.default_rng(spec["seed"])
    sd = make_weights(cfg, rng)
    saved = saved_state_dict(sd, cfg)
    write_safetensors(os.path.join(folder, "model.safetensors"), saved, metadata={"format": "pt"})

    sources, targets = pick_pairs(rng, cfg)
    s_len, t_len = max(map(len, sources)), max(map(len, targets))
    pad, start = cfg["pad_token_id"], cfg["decoder_start_token_id"]
    src_ids = torch.tensor([s + [pad] * (s_len - len(s)) for s in sources])
    src_mask = torch.tensor([[1] * len(s) + [0] * (s_len - len(s)) for s in sources])
    labels = torch.tensor([t + [-100] * (t_len - len(t)) for t in targets])
    dec_ids = shift_tokens_right(labels, pad, start)

    model = Model(cfg, saved)
    names = list(model.p.keys())
    n = cfg["encoder_layers"] + cfg["decoder_layers"]
    groups = [{"params": [model.p[k]], "lr": OPTIM["lr"] * lr_scale(depth(k, cfg), n, spec["layer_decay"]),
               "weight_decay": OPTIM["weight_decay"] if model.p[k].ndim >= 2 else 0.0} for k in names]
    opt = torch.optim.AdamW(groups, lr=OPTIM["lr"], betas=(OPTIM["beta1"], OPTIM["beta2"]), eps=OPTIM["eps"])
    eps = spec["label_smoothing"]
    losses, norms = [], []
    for step in range(OPTIM["steps"]):
        opt.zero_grad()
        loss = loss_fn(model.logits(src_ids, src_mask, dec_ids), labels, eps)
        loss.backward()
        if step == 0:  # before clipping
            grads = {k: model.p[k].grad.detach().numpy().copy() for k in names}
            grads["final_logits_bias"] = np.zeros((1, model.final_logits_bias.numel()))
        norm = torch.nn.utils.clip_grad_norm_([model.p[k] for k in names], OPTIM["grad_clip"])
        losses.append(loss.item())
        norms.append(norm.item())
        opt.step()
    weights = {k: model.p[k].detach().numpy() for k in names}
    weights["final_logits_bias"] = model.final_logits_bias.numpy().reshape(1, -1)
    write_safetensors(os.path.join(folder, "grads_step0.safetensors"),
                      {k: np.asarray(v, dtype=np.float32) for k, v in grads.items()})
    write_safetensors(os.path.join(folder, "weights_step3.safetensors"),
                      {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()})
    expected = {"sources": sources, "targets": targets, "label_smoothing": eps, "layer_decay": spec["layer_decay"],
                "optimizer": OPTIM, "losses": losses, "grad_norms": norms,
                "decoder_input_ids": dec_ids.tolist(), "labels": labels.tolist()}
    dump_json(os.path.join(folder, "expected.json"), expected, indent=1)
    print(f"{name}: losses {losses}, grad norms {norms}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "seq2seq_train"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    for name, spec in SPECS.items():
        build(name, spec, a.out)


if __name__ == "__main__":
    main()
