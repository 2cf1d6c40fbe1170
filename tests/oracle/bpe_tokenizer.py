"""A tiny GPT-2-style byte-level BPE (the scheme BartTokenizer uses), own code: the
bytes_to_unicode table, GPT-2's pre-tokenisation regex, merge training by pair counts, and
BartTokenizer's conventions (<s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask> last; encode gives
<s> ... </s>; add_prefix_space False; decode maps the unicode stand-ins back to bytes)."""
import json
from collections import Counter

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def bytes_to_unicode():
    """Printable bytes map to themselves; the others to U+0100 upwards, in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    table = {}
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {v: k for k, v in BYTE_ENC.items()}
_PAT = regex.compile(GPT2_PATTERN)


def pretokenize(text):
    return ["".join(BYTE_ENC[b] for b in w.encode("utf-8")) for w in _PAT.findall(text)]


def train(text, num_merges):
    """Greedy BPE training: repeatedly merge the most frequent adjacent pair (ties broken by
    the pair's string order, so the result is deterministic)."""
    words = Counter(pretokenize(text))
    seqs = {w: list(w) for w in words}
    merges = []
    for _ in range(num_merges):
        pairs = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        for w in seqs:
            s = seqs[w]
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == best[0] and s[i + 1] == best[1]:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for b in range(256):
        vocab.setdefault(BYTE_ENC[b], len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<mask>"] = len(vocab)
    return vocab, merges


class ByteBPE:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.special_ids = {vocab[t] for t in SPECIALS + ["<mask>"]}

    @classmethod
    def load(cls, folder):
        with open(f"{folder}/vocab.json") as f:
            vocab = json.load(f)
        with open(f"{folder}/merges.txt", encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split(" ")) for l in lines[1:] if l and not l.startswith("#")]
        return cls(vocab, merges)

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            cands = [(self.ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            cands = [c for c in cands if c[0] is not None]
            if not cands:
                break
            rank = min(c[0] for c in cands)
            first, second = [m for m, r in self.ranks.items() if r == rank][0]
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == first and parts[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        return parts

    def encode(self, text):
        ids = [self.vocab["<s>"]]
        for w in pretokenize(text):
            for piece in self.bpe(w):
                ids.append(self.vocab.get(piece, self.vocab["<unk>"]))
        ids.append(self.vocab["</s>"])
        return ids

    def decode(self, ids, skip_special_tokens=True):
        toks = [self.inv[i] for i in ids if not (skip_special_tokens and i in self.special_ids)]
        raw = bytearray(BYTE_DEC[c] for c in "".join(toks) if c in BYTE_DEC)
        return raw.decode("utf-8", errors="replace")


def write_files(folder, vocab, merges):
    with open(f"{folder}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(f"{folder}/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
