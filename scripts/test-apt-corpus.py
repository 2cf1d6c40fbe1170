#!/usr/bin/python3
"""Checks scripts/apt-corpus.py on a hand-made apt lists folder (gzip, xz and plain indexes):
pairing by Description-md5, paragraphs paired only when the counts agree, untranslated
pairs dropped, one owner package per source, the split by package hash, deterministic
output. Exit 0 when every check holds."""
import gzip
import importlib.util
import json
import lzma
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "apt-corpus.py")

EN_MAIN = """Package: beta
Description-md5: 11111111111111111111111111111111
Description-en: Shared synopsis
 First paragraph, wrapped
 over two lines.
 .
 Second paragraph:
  * a list item
  * another

Package: alpha
Description-md5: 11111111111111111111111111111111
Description-en: Shared synopsis
 First paragraph, wrapped
 over two lines.
 .
 Second paragraph:
  * a list item
  * another

Package: gamma
Description-md5: 22222222222222222222222222222222
Description-en: Gamma tool. Does things
 Gamma is a tool. It does things well.

Package: delta
Description-md5: 33333333333333333333333333333333
Description-en: GNU Delta

"""
EN_UPDATES = """Package: epsilon
Description-md5: 44444444444444444444444444444444
Description-en: Epsilon library
 Epsilon e.g. helps. Really it does.
"""
DE_MAIN = """Package: alpha
Description-md5: 11111111111111111111111111111111
Description-de: Gemeinsame Kurzbeschreibung
 Erster Absatz, umbrochen
 über zwei Zeilen.
 .
 Zweiter Absatz:
  * ein Listeneintrag
  * noch einer

Package: gamma
Description-md5: 22222222222222222222222222222222
Description-de: Gamma-Werkzeug
 Gamma ist ein Werkzeug.
 .
 Es tut Dinge gut.

Package: delta
Description-md5: 33333333333333333333333333333333
Description-de: GNU Delta
"""


def fail(message):
    print("apt-corpus test: " + message)
    sys.exit(1)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main():
    spec = importlib.util.spec_from_file_location("apt_corpus", SCRIPT)
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    if corpus.first_sentence("It runs 500 B.C. and 500 A.D. The project") != "It runs 500 B.C. and 500 A.D.":
        fail("first_sentence: " + corpus.first_sentence("It runs 500 B.C. and 500 A.D. The project"))
    if corpus.first_sentence("No end mark") != "No end mark":
        fail("first_sentence without an end mark")

    with tempfile.TemporaryDirectory() as tmp:
        lists = os.path.join(tmp, "lists")
        os.makedirs(lists)
        with gzip.open(os.path.join(lists, "x_dists_bookworm_main_i18n_Translation-en.gz"), "wt", encoding="utf-8") as f:
            f.write(EN_MAIN)
        with lzma.open(os.path.join(lists, "x_dists_bookworm-updates_main_i18n_Translation-en.xz"), "wt", encoding="utf-8") as f:
            f.write(EN_UPDATES)
        with open(os.path.join(lists, "x_dists_bookworm_main_i18n_Translation-de"), "w", encoding="utf-8") as f:
            f.write(DE_MAIN)
        # Another language must be ignored.
        with open(os.path.join(lists, "x_dists_bookworm_main_i18n_Translation-fr"), "w", encoding="utf-8") as f:
            f.write(DE_MAIN.replace("Description-de", "Description-fr"))

        outs = []
        for run in ("a", "b"):
            out = os.path.join(tmp, "out-" + run)
            subprocess.run([sys.executable, SCRIPT, out, "--lists", lists], check=True, stdout=subprocess.PIPE)
            outs.append(out)

        def rows(out, name):
            got = []
            for split in ("train", "valid", "test"):
                for r in read_jsonl(os.path.join(out, name, split + ".jsonl")):
                    if corpus.split_of(r["package"]) != split:
                        fail(f"{name}: {r['package']} is in {split}, its hash says {corpus.split_of(r['package'])}")
                    got.append(r)
            return sorted((r["source"], r["target"], r["package"]) for r in got)

        translate = rows(outs[0], "translate-en-de")
        want = sorted([
            ("Shared synopsis", "Gemeinsame Kurzbeschreibung", "alpha"),
            ("First paragraph, wrapped over two lines.", "Erster Absatz, umbrochen über zwei Zeilen.", "alpha"),
            ("Second paragraph: * a list item * another", "Zweiter Absatz: * ein Listeneintrag * noch einer", "alpha"),
            # gamma: 1 English paragraph, 2 German ones -> the synopsis alone.
            ("Gamma tool. Does things", "Gamma-Werkzeug", "gamma"),
            # delta: German synopsis equals the English one -> dropped.
        ])
        if translate != want:
            fail(f"translate pairs:\n{translate}\nwanted\n{want}")
        summarize = rows(outs[0], "summarize")
        want = sorted([
            ("First paragraph, wrapped over two lines. Second paragraph: * a list item * another", "Shared synopsis", "alpha"),
            ("Gamma is a tool. It does things well.", "Gamma tool. Does things", "gamma"),
            ("Epsilon e.g. helps. Really it does.", "Epsilon library", "epsilon"),
        ])
        if summarize != want:
            fail(f"summarize pairs:\n{summarize}\nwanted\n{want}")
        with open(os.path.join(outs[0], "counts.json"), encoding="utf-8") as f:
            counts = json.load(f)
        if counts.get("untranslated pairs dropped") != 1 or counts.get("paragraph counts differ (synopsis only)") != 1:
            fail(f"counts: {counts}")
        for root, _, names in os.walk(outs[0]):
            for name in names:
                a = os.path.join(root, name)
                b = os.path.join(outs[1], os.path.relpath(a, outs[0]))
                with open(a, "rb") as fa, open(b, "rb") as fb:
                    if fa.read() != fb.read():
                        fail(f"{os.path.relpath(a, outs[0])} differs between two runs")
    print("apt-corpus test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
