#!/usr/bin/python3
"""Trains one SentencePiece unigram model on the "source" and "target" texts of a JSONL pair
file (a corpus' TRAIN split only) and writes the tokenizer files of a Marian folder with one
shared vocabulary, as MarianTokenizer reads them:

  source.spm, target.spm   the same model twice (one joint vocabulary for both sides)
  vocab.json               </s>=0, <unk>=1, then every other piece in the model's order, <pad> last
  tokenizer_config.json    MarianTokenizer, separate_vocabs false

  scripts/marian-spm.py TRAIN.jsonl OUT_DIR --vocab-size 8000 [--source-lang en --target-lang de]

Prints {"vocab_size", "pad"} (pad = the <pad> id, which config.json's pad_token_id and
decoder_start_token_id take). Deterministic: one thread, the input in file order, so a rerun
on the same file writes the same model.
"""
import argparse
import io
import json
import os
import sys

import sentencepiece as spm


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("train", help="JSONL with source/target fields (the training split)")
    ap.add_argument("out", help="folder for the tokenizer files")
    ap.add_argument("--vocab-size", type=int, default=8000, help="pieces of the SentencePiece model")
    ap.add_argument("--sides", default="source,target", help="which fields the model is trained on")
    ap.add_argument("--source-lang", default="en")
    ap.add_argument("--target-lang", default="en")
    args = ap.parse_args()

    sides = args.sides.split(",")
    os.makedirs(args.out, exist_ok=True)
    lines = []
    with open(args.train, encoding="utf-8") as f:
        for row in f:
            pair = json.loads(row)
            lines += [pair[side].replace("\n", " ") for side in sides]
    if not lines:
        sys.exit(f"marian-spm: {args.train} has no pairs")
    # From an iterator into memory, so that no file name (a temporary folder's, say) is
    # recorded in the model's trainer spec: the same pairs give the same bytes.
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, vocab_size=args.vocab_size, model_type="unigram",
        character_coverage=0.9995, num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
        max_sentence_length=1 << 16, minloglevel=2)
    blob = buf.getvalue()
    for name in ("source.spm", "target.spm"):
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(blob)

    sp = spm.SentencePieceProcessor(model_proto=blob)
    vocab = {"</s>": 0, "<unk>": 1}
    for i in range(sp.get_piece_size()):
        if sp.is_control(i) or sp.is_unknown(i):
            continue
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    vocab["<pad>"] = len(vocab)
    with open(os.path.join(args.out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=2)
        f.write("\n")
    config = {"eos_token": "</s>", "model_max_length": 512, "pad_token": "<pad>", "separate_vocabs": False,
              "source_lang": args.source_lang, "sp_model_kwargs": {}, "target_lang": args.target_lang,
              "tokenizer_class": "MarianTokenizer", "unk_token": "<unk>"}
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps({"vocab_size": len(vocab), "pad": vocab["<pad>"], "lines": len(lines)}))


if __name__ == "__main__":
    main()
