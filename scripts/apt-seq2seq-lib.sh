# Shared steps of the recipes of smol's own encoder-decoder models (sourced by
# scripts/train-apt-translator.sh and scripts/train-apt-summarizer.sh): the apt corpus, a
# Marian folder of random weights with a SentencePiece vocabulary learnt on the train split,
# training, and scoring on the held-out test split.
# Environment: SMOL (binary, default build/smol), CORPUS (default build/apt-corpus),
# THREADS (default 2), APT_UPDATE=1 to refetch the indexes even when they are there.

SMOL=${SMOL:-build/smol}
CORPUS=${CORPUS:-build/apt-corpus}
THREADS=${THREADS:-2}

# Debian's Translation-en and Translation-de indexes, then the JSONL corpora (a function of
# the index files alone: a rerun on the same indexes writes the same files).
apt_corpus() {
  if [ "${APT_UPDATE:-0}" = 1 ] || ! ls /var/lib/apt/lists/*_i18n_Translation-de* >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get -o Acquire::Languages=en,de update
  fi
  /usr/bin/python3 scripts/apt-corpus.py "$CORPUS" --smol "$SMOL" >/dev/null
  /usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c.pop("inputs"); print("apt-corpus:", json.dumps(c))' "$CORPUS/counts.json"
}

# marian_shape DIR TRAIN_JSONL SOURCE_LANG TARGET_LANG MAX_LENGTH [NO_REPEAT_NGRAM_SIZE]: tokenizer
# files, config.json and
# generation_config.json of a Marian model (d_model 256, 3+3 layers, 4 heads, FFN 1024, SiLU,
# one shared embedding tied to the output layer, sinusoidal positions up to 512).
marian_shape() {
  local dir=$1 train=$2 src=$3 tgt=$4 max_length=$5 no_repeat=${6:-0}
  mkdir -p "$dir"
  local info pad vocab
  info=$(/usr/bin/python3 scripts/marian-spm.py "$train" "$dir" --vocab-size 8000 --source-lang "$src" --target-lang "$tgt")
  pad=$(echo "$info" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pad"])')
  vocab=$(echo "$info" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["vocab_size"])')
  cat > "$dir/config.json" <<EOF
{
  "activation_dropout": 0.0,
  "activation_function": "swish",
  "architectures": ["MarianMTModel"],
  "attention_dropout": 0.0,
  "bad_words_ids": [[$pad]],
  "d_model": 256,
  "decoder_attention_heads": 4,
  "decoder_ffn_dim": 1024,
  "decoder_layerdrop": 0.0,
  "decoder_layers": 3,
  "decoder_start_token_id": $pad,
  "decoder_vocab_size": $vocab,
  "dropout": 0.1,
  "encoder_attention_heads": 4,
  "encoder_ffn_dim": 1024,
  "encoder_layerdrop": 0.0,
  "encoder_layers": 3,
  "eos_token_id": 0,
  "forced_eos_token_id": 0,
  "init_std": 0.02,
  "is_encoder_decoder": true,
  "max_position_embeddings": 512,
  "model_type": "marian",
  "num_hidden_layers": 3,
  "pad_token_id": $pad,
  "scale_embedding": true,
  "share_encoder_decoder_embeddings": true,
  "torch_dtype": "float32",
  "transformers_version": "4.38.2",
  "use_cache": true,
  "vocab_size": $vocab
}
EOF
  cat > "$dir/generation_config.json" <<EOF
{
  "bad_words_ids": [[$pad]],
  "decoder_start_token_id": $pad,
  "eos_token_id": 0,
  "forced_eos_token_id": 0,
  "max_length": $max_length,
  "no_repeat_ngram_size": $no_repeat,
  "num_beams": 4,
  "pad_token_id": $pad,
  "transformers_version": "4.38.2"
}
EOF
}

# pairs_with_validation SPLIT_DIR OUT_JSONL: the train split followed by the valid split, and
# on stdout the --val-fraction that holds out exactly the valid split (the file's last pairs).
pairs_with_validation() {
  local split=$1 out=$2
  cat "$split/train.jsonl" "$split/valid.jsonl" > "$out"
  local n_train n_valid
  n_train=$(wc -l < "$split/train.jsonl")
  n_valid=$(wc -l < "$split/valid.jsonl")
  /usr/bin/python3 -c "print(($n_valid + 0.5) / ($n_train + $n_valid))"
}

# ship RUN_DIR OUT_DIR: the files of a Hugging Face folder (no optimizer state).
ship() {
  local run=$1 out=$2
  mkdir -p "$out"
  for f in config.json generation_config.json model.safetensors source.spm target.spm vocab.json \
           tokenizer_config.json train_log.jsonl loss_curve.svg; do
    cp "$run/$f" "$out/"
  done
}

# truncate_sources IN OUT SPM N: each line cut to its first N-1 SentencePiece pieces (N tokens
# with the final </s>), as `smol train --max-source-len N` cuts the training sources and
# transformers' tokenizer(truncation=True, max_length=N) would; lines that fit stay as they are.
truncate_sources() {
  /usr/bin/python3 - "$@" <<'PY'
import sys
import sentencepiece as spm
src, out, model, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sp = spm.SentencePieceProcessor(model_file=model)
cut = 0
with open(src, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
    for line in f:
        line = line.rstrip("\n")
        pieces = sp.encode(line, out_type=str)
        if len(pieces) > n - 1:
            line = sp.decode_pieces(pieces[: n - 1])
            cut += 1
        g.write(line + "\n")
print(f"truncate_sources: cut {cut} sources of {src} to {n} tokens", file=sys.stderr)
PY
}
