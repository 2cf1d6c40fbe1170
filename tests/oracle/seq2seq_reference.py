"""Float64 reference forward pass for BartForConditionalGeneration,
MBartForConditionalGeneration and MarianMTModel, written from transformers' modeling files
(read at huggingface/transformers: models/bart/modeling_bart.py @57228229, models/marian/
modeling_marian.py @00b676f8, models/mbart/modeling_mbart.py @00b676f8, configuration_*.py).
Independent ground truth for smol's encoder-decoder mode; smol never imports this.

What it reproduces (eager attention path, eval mode, no dropout):
  * token embeddings times embed_scale = sqrt(d_model) when config.scale_embedding;
  * positions: BART/mBART learned table with the offset 2 (row = position + 2, positions
    start at past length); Marian sinusoidal table, sin in the first half of the features and
    cos in the second half, no offset, computed in float64 then rounded to float32 as
    MarianSinusoidalPositionalEmbedding._init_weight does (unless the file carries the table);
  * layernorm_embedding after the embedding sum (BART, mBART);
  * post-norm layers (BART, Marian) or pre-norm layers plus a final encoder/decoder
    layer_norm (mBART); LayerNorm eps 1e-5 (nn.LayerNorm's default);
  * q scaled by head_dim**-0.5; additive masks of finfo.min: encoder padding mask on the
    keys, decoder causal mask, cross-attention masked by the encoder padding mask;
  * lm_head (tied or not) plus final_logits_bias.
"""
import json
import math
import os

import numpy as np
import torch

from safetensors_io import read_safetensors

# Defaults of the configuration classes (only the fields the forward pass and generation read).
_PRETRAINED_DEFAULTS = {
    "tie_word_embeddings": True,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
    "decoder_start_token_id": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
}
FAMILY_DEFAULTS = {
    "bart": {
        "vocab_size": 50265, "max_position_embeddings": 1024, "encoder_layers": 12, "encoder_ffn_dim": 4096,
        "encoder_attention_heads": 16, "decoder_layers": 12, "decoder_ffn_dim": 4096,
        "decoder_attention_heads": 16, "activation_function": "gelu", "d_model": 1024,
        "scale_embedding": False, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
        "decoder_start_token_id": 2, "forced_eos_token_id": 2,
    },
    "mbart": {
        "vocab_size": 50265, "max_position_embeddings": 1024, "encoder_layers": 12, "encoder_ffn_dim": 4096,
        "encoder_attention_heads": 16, "decoder_layers": 12, "decoder_ffn_dim": 4096,
        "decoder_attention_heads": 16, "activation_function": "gelu", "d_model": 1024,
        "scale_embedding": False, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
        "forced_eos_token_id": 2,
    },
    "marian": {
        "vocab_size": 58101, "decoder_vocab_size": None, "max_position_embeddings": 1024, "encoder_layers": 12,
        "encoder_ffn_dim": 4096, "encoder_attention_heads": 16, "decoder_layers": 12, "decoder_ffn_dim": 4096,
        "decoder_attention_heads": 16, "activation_function": "gelu", "d_model": 1024,
        "decoder_start_token_id": 58100, "scale_embedding": False, "pad_token_id": 58100, "eos_token_id": 0,
        "forced_eos_token_id": 0, "share_encoder_decoder_embeddings": True,
    },
}


def load_config(folder_or_dict):
    if isinstance(folder_or_dict, dict):
        raw = dict(folder_or_dict)
    else:
        with open(os.path.join(folder_or_dict, "config.json")) as f:
            raw = json.load(f)
    mt = raw.get("model_type")
    if mt not in FAMILY_DEFAULTS:
        raise ValueError(f"unsupported model_type {mt!r}")
    cfg = dict(_PRETRAINED_DEFAULTS)
    cfg.update(FAMILY_DEFAULTS[mt])
    cfg.update(raw)
    if mt == "marian" and not cfg.get("decoder_vocab_size"):
        cfg["decoder_vocab_size"] = cfg["vocab_size"]
    return cfg


def _gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACTIVATIONS = {
    "gelu": _gelu_erf,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": lambda x: 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": torch.relu,
    "relu6": lambda x: torch.clamp(x, 0.0, 6.0),
    "silu": lambda x: x * torch.sigmoid(x),
    "swish": lambda x: x * torch.sigmoid(x),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda x: x,
}


def marian_sinusoids(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight: angles in float64 (numpy), features not
    interleaved: sin(pos / 10000^(2i/dim)) in columns [0, ceil(dim/2)), cos in the rest; the
    table is then stored as float32."""
    j = np.arange(dim)
    pos = np.arange(n_pos)[:, None].astype(np.float64)
    enc = pos / np.power(10000, 2 * (j // 2) / dim)
    out = np.empty((n_pos, dim), dtype=np.float32)
    sentinel = dim // 2 if dim % 2 == 0 else dim // 2 + 1
    out[:, :sentinel] = np.sin(enc[:, 0::2]).astype(np.float32)
    out[:, sentinel:] = np.cos(enc[:, 1::2]).astype(np.float32)
    return out


def _layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def _linear(x, w, b=None):
    y = x @ w.t()
    return y + b if b is not None else y


class Seq2SeqReference:
    """Load with Seq2SeqReference(folder) (config.json + model.safetensors or pytorch_model.bin) or
    Seq2SeqReference(config_dict, tensors={name: array})."""

    def __init__(self, folder_or_config, tensors=None):
        self.cfg = load_config(folder_or_config)
        if tensors is None:
            tensors = load_weights(folder_or_config)
        self.family = self.cfg["model_type"]
        self.w = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in tensors.items()}
        self._resolve_tied()

    # --- weights -------------------------------------------------------------------------
    def _first(self, names):
        for n in names:
            if n in self.w:
                return self.w[n]
        raise KeyError(f"none of {names} in the weights")

    def _resolve_tied(self):
        c, w = self.cfg, self.w
        tie = c["tie_word_embeddings"]
        shared_all = self.family in ("bart", "mbart") or c.get("share_encoder_decoder_embeddings", True)
        if shared_all:
            group = ["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]
            if tie:
                group.append("lm_head.weight")
            emb = self._first(group)
            self.enc_embed = self.dec_embed = emb
            self.lm_head = emb if tie else w["lm_head.weight"]
        else:
            self.enc_embed = w["model.encoder.embed_tokens.weight"]
            dec_group = ["model.decoder.embed_tokens.weight"] + (["lm_head.weight"] if tie else [])
            self.dec_embed = self._first(dec_group)
            self.lm_head = self.dec_embed if tie else w["lm_head.weight"]
        vocab_out = self.lm_head.shape[0]
        self.final_logits_bias = w.get("final_logits_bias", torch.zeros(1, vocab_out, dtype=torch.float64)).reshape(-1)
        d = c["d_model"]
        self.embed_scale = math.sqrt(d) if c["scale_embedding"] else 1.0
        if self.family == "marian":
            table = torch.as_tensor(marian_sinusoids(c["max_position_embeddings"], d).astype(np.float64))
            self.enc_pos = w.get("model.encoder.embed_positions.weight", table)
            self.dec_pos = w.get("model.decoder.embed_positions.weight", table)
            self.pos_offset = 0
        else:
            self.enc_pos = w["model.encoder.embed_positions.weight"]
            self.dec_pos = w["model.decoder.embed_positions.weight"]
            self.pos_offset = 2
        self.act = ACTIVATIONS[c["activation_function"]]
        self.pre_norm = self.family == "mbart"
        self.ln_embedding = self.family in ("bart", "mbart")

    def _ln(self, prefix, x):
        return _layer_norm(x, self.w[prefix + ".weight"], self.w[prefix + ".bias"])

    # --- attention -----------------------------------------------------------------------
    def _attention(self, prefix, x, kv, n_heads, additive_mask):
        w = self.w
        bsz, tgt, d = x.shape
        src = kv.shape[1]
        hd = d // n_heads
        q = _linear(x, w[prefix + ".q_proj.weight"], w[prefix + ".q_proj.bias"]) * (hd ** -0.5)
        k = _linear(kv, w[prefix + ".k_proj.weight"], w[prefix + ".k_proj.bias"])
        v = _linear(kv, w[prefix + ".v_proj.weight"], w[prefix + ".v_proj.bias"])
        q = q.view(bsz, tgt, n_heads, hd).transpose(1, 2)
        k = k.view(bsz, src, n_heads, hd).transpose(1, 2)
        v = v.view(bsz, src, n_heads, hd).transpose(1, 2)
        scores = q @ k.transpose(2, 3)
        if additive_mask is not None:
            scores = scores + additive_mask
        p = torch.softmax(scores, dim=-1)
        out = (p @ v).transpose(1, 2).reshape(bsz, tgt, d)
        return _linear(out, w[prefix + ".out_proj.weight"], w[prefix + ".out_proj.bias"])

    def _ffn(self, prefix, x):
        h = self.act(_linear(x, self.w[prefix + ".fc1.weight"], self.w[prefix + ".fc1.bias"]))
        return _linear(h, self.w[prefix + ".fc2.weight"], self.w[prefix + ".fc2.bias"])

    @staticmethod
    def _padding_mask(attention_mask, tgt_len):
        # _prepare_4d_attention_mask: (1 - mask) filled with finfo.min, broadcast over queries
        m = attention_mask.to(torch.float64)[:, None, None, :].expand(-1, 1, tgt_len, -1)
        inv = 1.0 - m
        return inv.masked_fill(inv.bool(), torch.finfo(torch.float64).min)

    # --- encoder / decoder ---------------------------------------------------------------
    def encode(self, input_ids, attention_mask=None):
        """input_ids [B, S] long; attention_mask [B, S] (1 = token, 0 = pad) or None."""
        c = self.cfg
        input_ids = torch.as_tensor(input_ids, dtype=torch.long)
        bsz, s = input_ids.shape
        h = self.enc_embed[input_ids] * self.embed_scale
        h = h + self.enc_pos[torch.arange(s) + self.pos_offset][None]
        if self.ln_embedding:
            h = self._ln("model.encoder.layernorm_embedding", h)
        mask = None
        if attention_mask is not None:
            mask = self._padding_mask(torch.as_tensor(attention_mask), s)
        nh = c["encoder_attention_heads"]
        for i in range(c["encoder_layers"]):
            p = f"model.encoder.layers.{i}"
            if self.pre_norm:
                h = h + self._attention(p + ".self_attn", self._ln(p + ".self_attn_layer_norm", h),
                                        self._ln(p + ".self_attn_layer_norm", h), nh, mask)
                h = h + self._ffn(p, self._ln(p + ".final_layer_norm", h))
            else:
                h = self._ln(p + ".self_attn_layer_norm", h + self._attention(p + ".self_attn", h, h, nh, mask))
                h = self._ln(p + ".final_layer_norm", h + self._ffn(p, h))
        if self.pre_norm:
            h = self._ln("model.encoder.layer_norm", h)
        return h

    def decode(self, decoder_input_ids, encoder_hidden, encoder_attention_mask=None, past_length=0):
        """Full (uncached) decoder pass: logits [B, T, V] for every decoder position. past_length
        shifts the positions as a KV cache of that length would (the tokens before are not seen)."""
        c = self.cfg
        ids = torch.as_tensor(decoder_input_ids, dtype=torch.long)
        bsz, t = ids.shape
        h = self.dec_embed[ids] * self.embed_scale
        h = h + self.dec_pos[torch.arange(past_length, past_length + t) + self.pos_offset][None]
        if self.ln_embedding:
            h = self._ln("model.decoder.layernorm_embedding", h)
        fmin = torch.finfo(torch.float64).min
        causal = torch.zeros(t, t, dtype=torch.float64).masked_fill(
            torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1), fmin)[None, None]
        cross = None
        if encoder_attention_mask is not None:
            cross = self._padding_mask(torch.as_tensor(encoder_attention_mask), t)
        nh = c["decoder_attention_heads"]
        for i in range(c["decoder_layers"]):
            p = f"model.decoder.layers.{i}"
            if self.pre_norm:
                x = self._ln(p + ".self_attn_layer_norm", h)
                h = h + self._attention(p + ".self_attn", x, x, nh, causal)
                h = h + self._attention(p + ".encoder_attn", self._ln(p + ".encoder_attn_layer_norm", h),
                                        encoder_hidden, nh, cross)
                h = h + self._ffn(p, self._ln(p + ".final_layer_norm", h))
            else:
                h = self._ln(p + ".self_attn_layer_norm", h + self._attention(p + ".self_attn", h, h, nh, causal))
                h = self._ln(p + ".encoder_attn_layer_norm",
                             h + self._attention(p + ".encoder_attn", h, encoder_hidden, nh, cross))
                h = self._ln(p + ".final_layer_norm", h + self._ffn(p, h))
        if self.pre_norm:
            h = self._ln("model.decoder.layer_norm", h)
        return h @ self.lm_head.t() + self.final_logits_bias

    def forward(self, input_ids, attention_mask, decoder_input_ids):
        enc = self.encode(input_ids, attention_mask)
        return self.decode(decoder_input_ids, enc, attention_mask)

    def step_fn(self, input_ids, attention_mask):
        """A generation step function over this source batch (see seq2seq_generate): encodes once,
        then step(decoder_ids [N, t], src_rows [N]) -> float64 logits [N, V] of the last position."""
        enc = self.encode(input_ids, attention_mask)
        am = torch.as_tensor(attention_mask) if attention_mask is not None else None

        def step(decoder_ids, src_rows):
            rows = torch.as_tensor(src_rows, dtype=torch.long)
            logits = self.decode(decoder_ids, enc[rows], am[rows] if am is not None else None)
            return logits[:, -1, :]

        return step


def load_weights(folder):
    st = os.path.join(folder, "model.safetensors")
    if os.path.exists(st):
        tensors, _ = read_safetensors(st)
        return tensors
    binp = os.path.join(folder, "pytorch_model.bin")
    sd = torch.load(binp, map_location="cpu")
    return {k: v.to(torch.float64).numpy() for k, v in sd.items()}
