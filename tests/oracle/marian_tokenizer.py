"""MarianTokenizer's conventions over real SentencePiece models (python sentencepiece):
encode = source spm pieces (out_type=str) -> vocab.json ids (unknown piece -> <unk>), then </s>
appended; decode (skip_special_tokens) = drop </s>, <unk>, <pad>, map ids to pieces with the
target vocabulary, spm decode_pieces, '\u2581' -> ' ', strip. Vocabularies: </s>=0, <unk>=1,
the pieces, <pad> = pad_token_id = decoder_start_token_id."""
import io
import json
import os

import sentencepiece as spm

SPIECE_UNDERLINE = "\u2581"


def train_spm(text_path, out_path, vocab_size):
    """Deterministic unigram model (one thread, no input shuffling); writes out_path."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        input=text_path, model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, num_threads=1, shuffle_input_sentence=False, seed_sentencepiece_size=20000,
        input_sentence_size=0, hard_vocab_limit=False, minloglevel=2,
    )
    with open(out_path, "wb") as f:
        f.write(buf.getvalue())


def spm_pieces(path):
    sp = spm.SentencePieceProcessor(model_file=path)
    out = []
    for i in range(sp.get_piece_size()):
        if sp.is_control(i) or sp.is_unknown(i):
            continue
        out.append(sp.id_to_piece(i))
    return out


class MarianTok:
    def __init__(self, folder, separate_vocabs=False):
        self.src = spm.SentencePieceProcessor(model_file=os.path.join(folder, "source.spm"))
        self.tgt = spm.SentencePieceProcessor(model_file=os.path.join(folder, "target.spm"))
        with open(os.path.join(folder, "vocab.json")) as f:
            self.encoder = json.load(f)
        if separate_vocabs:
            with open(os.path.join(folder, "target_vocab.json")) as f:
                self.target_encoder = json.load(f)
        else:
            self.target_encoder = self.encoder
        self.decoder = {v: k for k, v in self.target_encoder.items()}
        self.specials = {"</s>", "<unk>", "<pad>"}

    def encode(self, text):
        pieces = self.src.encode(text, out_type=str)
        unk = self.encoder["<unk>"]
        return [self.encoder.get(p, unk) for p in pieces] + [self.encoder["</s>"]]

    def pieces(self, text):
        return self.src.encode(text, out_type=str)

    def decode(self, ids, skip_special_tokens=True):
        toks = [self.decoder[i] for i in ids]
        if skip_special_tokens:
            toks = [t for t in toks if t not in self.specials]
        out, cur = "", []
        for t in toks:
            if t in self.specials:
                out += self.tgt.decode_pieces(cur) + t + " "
                cur = []
            else:
                cur.append(t)
        out += self.tgt.decode_pieces(cur)
        return out.replace(SPIECE_UNDERLINE, " ").strip()
