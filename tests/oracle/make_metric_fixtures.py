#!/usr/bin/python3
"""Writes tests/fixtures/metrics/cases.json from the oracle in text_metrics.py: for every
(hypothesis, reference) pair the tokens and sentence scores, and corpus scores over several
slices. Deterministic; rerun after changing the pairs: /usr/bin/python3 tests/oracle/make_metric_fixtures.py
"""
import json
import os
import random

import text_metrics as tm

HAND = [
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("The cat sat on the mat.", "The cat is on the mat."),
    ("the cat", "The cat sat on the mat."),
    ("", "A reference with words."),
    ("A hypothesis with words.", ""),
    ("", ""),
    ("   ", "\t\n"),
    ("Hello, world!", "Hello world"),
    ("It costs $3.50, or 3,000 yen.", "It costs $ 3.50 , or 3,000 yen ."),
    ("pages 10-20 and 5-6.", "pages 10 - 20 and 5 - 6 ."),
    ("end. Start,again.And .5 and 1. 2", "end . Start , again . And .5"),
    ("a...b,,c", "a . . . b , , c"),
    ("x.y 1.y x.1 1.1", "x . y 1 . y"),
    ("AT&amp;T &quot;quoted&quot; &lt;tag&gt; &amp;quot;", "AT&T \"quoted\" <tag> &quot;"),
    ("line one-\ncontinued\nline two", "line onecontinued line two"),
    ("<skipped> text here", "text here"),
    ("don't won't it's", "do n't wo n't it 's"),
    ("(parens) [brackets] {braces} <angles> ~tilde^caret`back", "parens brackets braces"),
    ("e-mail user@example.com http://a.b/c?d=e#f", "email user at example dot com"),
    ("Grüße aus München, schöne Straße!", "Grüße aus München, schöne Straße."),
    ("Über die Brücke gehen Äpfel und Öl.", "Äpfel und Öl gehen über die Brücke."),
    ("İstanbul'da KELVIN 5\u212a İİ", "istanbul da kelvin 5k i i"),
    ("naïve café résumé", "naive cafe resume"),
    ("日本語のテキスト、です。", "日本語 の テキスト 、 です 。"),
    ("emoji 😀 test 🎉🎉", "emoji test 😀"),
    ("non\u00a0breaking\u2009thin\u3000ideographic", "non breaking thin ideographic"),
    ("tabs\tand\nnewlines\r\nand\x0bvt\x1cfs", "tabs and newlines and vt fs"),
    ("trailing spaces   \t", "trailing spaces"),
    ("UPPER lower MiXeD", "upper LOWER mixed"),
    ("a a a a a a", "a a"),
    ("the the the", "the cat the"),
    ("one two three four five six", "one two three four five six seven eight"),
    ("one two three four five six seven eight", "one two three four"),
    ("word", "word"),
    ("word", "other"),
    ("ab", "abc"),
    ("abcdefg", "abcdefgh"),
    ("Numbers 12,345.67 and -5 and 3-4-5", "Numbers 12,345.67 and - 5 and 3 - 4 - 5"),
    ("\"Quoted,\" she said; 'single' too.", "Quoted, she said: single too."),
    ("x-ray T-shirt well-known", "x ray t shirt well known"),
    ("C++ and C# and F#", "C ++ and C # and F #"),
    ("100% sure = yes | no", "100 % sure"),
    ("Ünïcödé ÀÉÎÕÜ ß ẞ ﬁ ligature", "unicode aeiou ss fi ligature"),
    ("Ελληνικά κείμενα και ΣΊΣΥΦΟΣ", "Ελληνικά κείμενο"),
    ("Русский текст, тоже.", "Русский текст."),
    ("mixed русский and english", "mixed and english"),
    ("A B C D E F G H", "H G F E D C B A"),
    ("the quick brown fox jumps over the lazy dog", "the quick brown dog jumps on the log"),
    ("police killed the gunman", "the gunman killed police"),
    ("a b c d", "a x c d"),
    ("   leading spaces", "leading spaces"),
    ("dot.at.end.", "dot at end"),
    ("comma,separated,values", "comma, separated, values"),
    ("§1 ¶2 — em-dash – en-dash … ellipsis", "1 2 em dash en dash ellipsis"),
    ("back\\slash and/or pipe|char", "back slash and or pipe char"),
]

WORDS = ("the a of to and in is for on with package library tool data file files system "
         "support version server client network Python C++ GNU/Linux Debian kernel module "
         "font fonts documentation development headers (dev) 3.2.1 x86-64 UTF-8 é ü ß "
         "naïve Übersetzung Paket Datei Bibliothek für und mit der die das "
         "utility, program. command-line \"quoted\" it's 10-20 1,000 &amp; 日本 😀").split()


def mutate(rng, words):
    out = list(words)
    for _ in range(rng.randint(0, 4)):
        op = rng.random()
        if op < 0.3 and out:
            del out[rng.randrange(len(out))]
        elif op < 0.6:
            out.insert(rng.randint(0, len(out)), rng.choice(WORDS))
        elif op < 0.8 and len(out) > 1:
            i = rng.randrange(len(out) - 1)
            out[i], out[i + 1] = out[i + 1], out[i]
        elif out:
            out[rng.randrange(len(out))] = rng.choice(WORDS)
    return out


def generated(rng, count):
    pairs = []
    for _ in range(count):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(1, 25))]
        sep = rng.choice([" ", " ", " ", "  ", "\t"])
        pairs.append((sep.join(mutate(rng, ref)), " ".join(ref)))
    return pairs


def case(hyp, ref):
    return {
        "hypothesis": hyp,
        "reference": ref,
        "tokens_13a": tm.tokenize_13a(hyp),
        "rouge_tokens": tm.rouge_tokenize(hyp),
        "bleu_stats": tm.bleu_stats(hyp, ref),
        "sentence_bleu": tm.sentence_bleu(hyp, ref)["score"],
        "chrf_stats": tm.chrf_stats(hyp, ref),
        "sentence_chrf": tm.sentence_chrf(hyp, ref),
        "rouge1": tm.rouge_n(ref, hyp, 1),
        "rouge2": tm.rouge_n(ref, hyp, 2),
        "rougeL": tm.rouge_l(ref, hyp),
    }


def corpus(name, pairs, first, last):
    hyps = [h for h, _ in pairs[first:last]]
    refs = [r for _, r in pairs[first:last]]
    b = tm.corpus_bleu(hyps, refs)
    mean = lambda xs: sum(xs) / len(xs)
    return {
        "name": name, "first": first, "last": last,
        "bleu": b["score"], "bleu_bp": b["bp"], "bleu_precisions": b["precisions"],
        "chrf": tm.corpus_chrf(hyps, refs),
        "rouge1": mean([tm.rouge_n(r, h, 1)["fmeasure"] for h, r in zip(hyps, refs)]),
        "rouge2": mean([tm.rouge_n(r, h, 2)["fmeasure"] for h, r in zip(hyps, refs)]),
        "rougeL": mean([tm.rouge_l(r, h)["fmeasure"] for h, r in zip(hyps, refs)]),
    }


def main():
    rng = random.Random(14)
    pairs = HAND + generated(rng, 60)
    n_hand = len(HAND)
    doc = {
        "about": "Expected values from tests/oracle/text_metrics.py (a Python transcription of "
                 "sacreBLEU 2.x and rouge-score; regenerate with tests/oracle/make_metric_fixtures.py)",
        "cases": [case(h, r) for h, r in pairs],
        "corpora": [
            corpus("all", pairs, 0, len(pairs)),
            corpus("hand", pairs, 0, n_hand),
            corpus("generated", pairs, n_hand, len(pairs)),
            corpus("short", pairs, 32, 37),  # few 4-grams: BLEU's orders run out
            corpus("single", pairs, 1, 2),
        ],
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "metrics", "cases.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(pairs)} pairs, {len(doc['corpora'])} corpora to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
