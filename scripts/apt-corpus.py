#!/usr/bin/python3
"""Builds smol's two seq2seq corpora from the package descriptions apt already has on disk
(Debian's i18n Translation-en and Translation-de indexes), standard library only:

  translate-en-de/  English -> German: each synopsis, and each paragraph of a long
                    description whose German translation has as many paragraphs.
  summarize/        a package's long description -> its one-line synopsis (English).

First fetch the indexes:   apt-get -o Acquire::Languages=en,de update
Then:                      scripts/apt-corpus.py OUT_DIR [--lists /var/lib/apt/lists] [--smol build/smol]

Entries pair up through Description-md5. Each unique source text is kept once and belongs to
one package, the alphabetically first one that carries it (the same paragraph appears under
0ad and 0ad-data, say); a hash of that name puts it in train, valid or test (90/5/5), so the
held-out split is by package and no source text is on both sides. Every split is written as
JSONL {"source", "target", "package"} sorted by (package, source), plus plain-text
*.source.txt / *.target.txt for the test splits (one per line, as `smol eval-seq2seq` reads
them) and summarize/test.first-sentence.txt, the "first sentence of the description"
baseline. Output is a function of the index files alone: rerun it and nothing changes.
With --smol, the baseline's scores are computed by `smol eval-seq2seq --hyps`.
"""
import argparse
import bz2
import collections
import glob
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys

SPLITS = (("train", 90), ("valid", 5), ("test", 5))


def split_of(package):
    """train/valid/test from a stable hash of the package name."""
    bucket = int(hashlib.sha256(package.encode("utf-8")).hexdigest(), 16) % 100
    edge = 0
    for name, share in SPLITS:
        edge += share
        if bucket < edge:
            return name
    raise AssertionError("shares must add up to 100")


def read_index(path):
    """The bytes of one index file, whatever apt compressed it with."""
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    if path.endswith(".xz") or path.endswith(".lzma"):
        with lzma.open(path, "rb") as f:
            return f.read()
    if path.endswith(".bz2"):
        with bz2.open(path, "rb") as f:
            return f.read()
    if path.endswith(".lz4") or path.endswith(".zst"):
        # Python has no lz4/zstd module; apt's own helper reads every format apt writes.
        helper = "/usr/lib/apt/apt-helper"
        if os.path.exists(helper):
            return subprocess.run([helper, "cat-file", path], check=True, stdout=subprocess.PIPE).stdout
        tool = "lz4" if path.endswith(".lz4") else "zstd"
        if shutil.which(tool):
            return subprocess.run([tool, "-dc", path], check=True, stdout=subprocess.PIPE).stdout
        sys.exit(f"apt-corpus: {path}: need /usr/lib/apt/apt-helper or {tool} to decompress it")
    with open(path, "rb") as f:
        return f.read()


def index_files(lists, lang):
    pattern = re.compile(r"_i18n_Translation-" + re.escape(lang) + r"(\.(gz|xz|lzma|bz2|lz4|zst))?$")
    return sorted(p for p in glob.glob(os.path.join(lists, "*_i18n_Translation-*")) if pattern.search(p))


def parse_stanzas(text, lang):
    """(package, md5, synopsis, [paragraph, ...]) for each stanza of a Translation index."""
    field = "Description-" + lang
    for block in text.split("\n\n"):
        package = md5 = None
        desc_lines = []
        in_desc = False
        for line in block.split("\n"):
            if line.startswith(" ") or line.startswith("\t"):
                if in_desc:
                    desc_lines.append(line)
                continue
            in_desc = False
            key, _, value = line.partition(":")
            value = value.strip()
            if key == "Package":
                package = value
            elif key == "Description-md5":
                md5 = value
            elif key == field:
                in_desc = True
                desc_lines = [value]
        if package and md5 and desc_lines:
            yield package, md5, normalize(desc_lines[0]), paragraphs(desc_lines[1:])


def normalize(text):
    return " ".join(text.split())


def paragraphs(lines):
    """Debian's long-description format: ' .' separates paragraphs; each paragraph's lines
    (wrapped text, or verbatim lines such as list items) are joined with single spaces."""
    out, current = [], []
    for line in lines:
        if line.strip() == ".":
            if current:
                out.append(normalize(" ".join(current)))
            current = []
        else:
            current.append(line)
    if current:
        out.append(normalize(" ".join(current)))
    return [p for p in out if p]


def load(lists, lang):
    """md5 -> (synopsis, paragraphs, set of packages); the first file to name an md5 wins."""
    entries = {}
    files = index_files(lists, lang)
    for path in files:
        text = read_index(path).decode("utf-8", errors="replace")
        for package, md5, synopsis, paras in parse_stanzas(text, lang):
            if md5 not in entries:
                entries[md5] = (synopsis, paras, set())
            entries[md5][2].add(package)
    return entries, files


class Corpus:
    """Unique sources, each owned by its alphabetically first package."""

    def __init__(self):
        self.pairs = {}  # source -> (package, target)

    def add(self, source, target, packages):
        if not source or not target:
            return
        package = min(packages)
        old = self.pairs.get(source)
        if old is None or package < old[0]:
            self.pairs[source] = (package, target)

    def splits(self):
        out = {name: [] for name, _ in SPLITS}
        for source, (package, target) in self.pairs.items():
            out[split_of(package)].append({"source": source, "target": target, "package": package})
        for rows in out.values():
            rows.sort(key=lambda r: (r["package"], r["source"], r["target"]))
        return out


SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9\"'(\[]|\s*$)")


def first_sentence(text):
    """Up to the first '.', '!' or '?' that is followed by a capital, digit or quote (or ends
    the text): "500 B.C. and 500 A.D. The project" ends after "A.D."."""
    m = SENTENCE_END.search(text)
    return text[: m.end()].strip() if m else text


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output folder")
    ap.add_argument("--lists", default="/var/lib/apt/lists", help="apt's lists folder")
    ap.add_argument("--smol", help="smol binary: score the first-sentence baseline with eval-seq2seq --hyps")
    args = ap.parse_args()

    en, en_files = load(args.lists, "en")
    de, de_files = load(args.lists, "de")
    if not en_files or not de_files:
        sys.exit("apt-corpus: no Translation-en/-de indexes in " + args.lists +
                 ": run apt-get -o Acquire::Languages=en,de update first")

    translate, summarize = Corpus(), Corpus()
    stats = collections.Counter()
    for md5, (synopsis, paras, packages) in en.items():
        if paras:
            summarize.add(" ".join(paras), synopsis, packages)
        if md5 not in de:
            continue
        stats["descriptions with German"] += 1
        de_synopsis, de_paras, de_packages = de[md5]
        both = packages | de_packages
        pairs = [(synopsis, de_synopsis)]
        if len(paras) == len(de_paras):
            pairs += list(zip(paras, de_paras))
            stats["paragraph counts agree"] += 1
        else:
            stats["paragraph counts differ (synopsis only)"] += 1
        for source, target in pairs:
            if source == target:
                stats["untranslated pairs dropped"] += 1  # German left as the English text
                continue
            translate.add(source, target, both)

    os.makedirs(args.out, exist_ok=True)
    summary = {"inputs": [os.path.basename(p) for p in en_files + de_files],
               "descriptions_en": len(en), "descriptions_de": len(de), **dict(stats)}
    for name, corpus in (("translate-en-de", translate), ("summarize", summarize)):
        folder = os.path.join(args.out, name)
        os.makedirs(folder, exist_ok=True)
        splits = corpus.splits()
        for split, rows in splits.items():
            write_jsonl(os.path.join(folder, split + ".jsonl"), rows)
            summary[f"{name}/{split}"] = len(rows)
        test = splits["test"]
        write_lines(os.path.join(folder, "test.source.txt"), [r["source"] for r in test])
        write_lines(os.path.join(folder, "test.target.txt"), [r["target"] for r in test])
        if name == "summarize":
            write_lines(os.path.join(folder, "test.first-sentence.txt"), [first_sentence(r["source"]) for r in test])
    with open(os.path.join(args.out, "counts.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    for key in sorted(summary):
        if key != "inputs":
            print(f"{key}: {summary[key]}")

    if args.smol:
        folder = os.path.join(args.out, "summarize")
        result = subprocess.run([args.smol, "eval-seq2seq", "--hyps", os.path.join(folder, "test.first-sentence.txt"),
                                 "--refs", os.path.join(folder, "test.target.txt"), "--json"],
                                check=True, stdout=subprocess.PIPE, text=True)
        print("first-sentence baseline on summarize/test:", result.stdout.strip())
        with open(os.path.join(folder, "test.first-sentence.scores.json"), "w", encoding="utf-8") as f:
            f.write(result.stdout)


if __name__ == "__main__":
    main()
