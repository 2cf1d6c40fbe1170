#!/usr/bin/python3
"""Random-weight model folder with the shape and config of a real checkpoint, for benchmarks:

    /usr/bin/python3 tests/oracle/make_random_model.py --family marian --shape opus-mt-en-de --out DIR [--dtype bf16|f32]
    /usr/bin/python3 tests/oracle/make_random_model.py --family bart --shape distilbart-cnn-6-6 --out DIR

config.json / generation_config.json follow Helsinki-NLP/opus-mt-en-de and
sshleifer/distilbart-cnn-6-6; weights are N(0, 0.02) (layer norms 1/0), saved as save_pretrained
would (tied duplicates dropped, Marian's sinusoid tables omitted). No tokenizer files: the
ids a benchmark feeds are random. Deterministic for a given --seed."""
import argparse
import collections
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

SHAPES = {
    ("marian", "opus-mt-en-de"): {
        "config": {
            "_name_or_path": "Helsinki-NLP/opus-mt-en-de", "activation_dropout": 0.0, "activation_function": "swish",
            "architectures": ["MarianMTModel"], "attention_dropout": 0.0, "bad_words_ids": [[58100]],
            "bos_token_id": 0, "classifier_dropout": 0.0, "d_model": 512, "decoder_attention_heads": 8,
            "decoder_ffn_dim": 2048, "decoder_layerdrop": 0.0, "decoder_layers": 6, "decoder_start_token_id": 58100,
            "decoder_vocab_size": 58101, "dropout": 0.1, "encoder_attention_heads": 8, "encoder_ffn_dim": 2048,
            "encoder_layerdrop": 0.0, "encoder_layers": 6, "eos_token_id": 0, "forced_eos_token_id": 0,
            "init_std": 0.02, "is_encoder_decoder": True, "max_length": 512, "max_position_embeddings": 512,
            "model_type": "marian", "normalize_embedding": False, "num_beams": 4, "num_hidden_layers": 6,
            "pad_token_id": 58100, "scale_embedding": True, "share_encoder_decoder_embeddings": True,
            "static_position_embeddings": True, "torch_dtype": "float32", "transformers_version": "4.38.2",
            "use_cache": True, "vocab_size": 58101,
        },
        "generation": {"bad_words_ids": [[58100]], "bos_token_id": 0, "decoder_start_token_id": 58100,
                       "eos_token_id": 0, "forced_eos_token_id": 0, "max_length": 512, "num_beams": 4,
                       "pad_token_id": 58100, "transformers_version": "4.38.2"},
    },
    ("bart", "distilbart-cnn-6-6"): {
        "config": {
            "_name_or_path": "sshleifer/distilbart-cnn-6-6", "activation_dropout": 0.0, "activation_function": "gelu",
            "add_bias_logits": False, "add_final_layer_norm": False, "architectures": ["BartForConditionalGeneration"],
            "attention_dropout": 0.0, "bos_token_id": 0, "classif_dropout": 0.0, "classifier_dropout": 0.0,
            "d_model": 1024, "decoder_attention_heads": 16, "decoder_ffn_dim": 4096, "decoder_layerdrop": 0.0,
            "decoder_layers": 6, "decoder_start_token_id": 2, "dropout": 0.1, "early_stopping": True,
            "encoder_attention_heads": 16, "encoder_ffn_dim": 4096, "encoder_layerdrop": 0.0, "encoder_layers": 12,
            "eos_token_id": 2, "extra_pos_embeddings": 2, "forced_bos_token_id": 0, "forced_eos_token_id": 2,
            "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}, "init_std": 0.02,
            "is_encoder_decoder": True, "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
            "length_penalty": 2.0, "max_length": 142, "max_position_embeddings": 1024, "min_length": 56,
            "model_type": "bart", "no_repeat_ngram_size": 3, "normalize_before": False,
            "normalize_embedding": True, "num_beams": 4, "num_hidden_layers": 12, "output_past": True,
            "pad_token_id": 1, "prefix": " ", "scale_embedding": False, "static_position_embeddings": False,
            "torch_dtype": "float32", "transformers_version": "4.38.2", "use_cache": True, "vocab_size": 50264,
        },
        "generation": {"bos_token_id": 0, "decoder_start_token_id": 2, "early_stopping": True, "eos_token_id": 2,
                       "forced_bos_token_id": 0, "forced_eos_token_id": 2, "length_penalty": 2.0,
                       "max_length": 142, "min_length": 56, "no_repeat_ngram_size": 3, "num_beams": 4,
                       "pad_token_id": 1, "transformers_version": "4.38.2"},
    },
}


def random_state_dict(cfg, rng):
    d = cfg["d_model"]
    fam = cfg["model_type"]
    sd = collections.OrderedDict()

    def normal(shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02)

    def lin(name, n_out, n_in):
        sd[name + ".weight"] = normal((n_out, n_in))
        sd[name + ".bias"] = np.zeros(n_out, np.float32)

    def ln(name):
        sd[name + ".weight"] = np.ones(d, np.float32)
        sd[name + ".bias"] = np.zeros(d, np.float32)

    sd["final_logits_bias"] = np.zeros((1, cfg["vocab_size"]), np.float32)
    shared = normal((cfg["vocab_size"], d))
    shared[cfg["pad_token_id"]] = 0
    sd["model.shared.weight"] = shared
    for side in ("encoder", "decoder"):
        p = f"model.{side}"
        if fam == "bart":
            sd[p + ".embed_positions.weight"] = normal((cfg["max_position_embeddings"] + 2, d))
        for i in range(cfg[f"{side}_layers"]):
            q = f"{p}.layers.{i}"
            for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                lin(f"{q}.self_attn.{proj}", d, d)
            ln(q + ".self_attn_layer_norm")
            if side == "decoder":
                for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                    lin(f"{q}.encoder_attn.{proj}", d, d)
                ln(q + ".encoder_attn_layer_norm")
            ffn = cfg[f"{side}_ffn_dim"]
            lin(q + ".fc1", ffn, d)
            lin(q + ".fc2", d, ffn)
            ln(q + ".final_layer_norm")
        if fam == "bart":
            ln(p + ".layernorm_embedding")
    return sd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", required=True, choices=["marian", "bart"])
    ap.add_argument("--shape", required=True, choices=["opus-mt-en-de", "distilbart-cnn-6-6"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    spec = SHAPES.get((a.family, a.shape))
    if spec is None:
        sys.exit(f"no shape {a.shape} for family {a.family}")
    os.makedirs(a.out, exist_ok=True)
    cfg = dict(spec["config"])
    cfg["torch_dtype"] = "bfloat16" if a.dtype == "bf16" else "float32"
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump(spec["generation"], f, indent=2, sort_keys=True)
        f.write("\n")
    sd = random_state_dict(cfg, np.random.default_rng(a.seed))
    write_safetensors(os.path.join(a.out, "model.safetensors"), sd, metadata={"format": "pt"}, bf16=a.dtype == "bf16")
    n = sum(v.size for v in sd.values())
    print(json.dumps({"out": a.out, "parameters": int(n), "dtype": a.dtype}))


if __name__ == "__main__":
    main()
