#!/usr/bin/python3
"""An independent Python transcription of the reference text metrics, used as the oracle for
smol's C++ (src/eval/). Neither sacreBLEU nor rouge-score is a Debian package and pip has no
network here, so this file restates their definitions in plain Python (standard library
only: re, str and Counter give the exact Python string semantics the tools rely on):

- sacreBLEU 2.x: sacrebleu/tokenizers/tokenizer_13a.py + tokenizer_re.py (13a tokens),
  sacrebleu/metrics/bleu.py (segment statistics, compute_bleu with smooth_method='exp'),
  sacrebleu/metrics/chrf.py + helpers.py (chrF, char_order=6, word_order=0, beta=2,
  whitespace removed, eps_smoothing=False), sacrebleu/compat.py (corpus_/sentence_ defaults).
- rouge-score: rouge_score/tokenize.py (lower, [^a-z0-9]+ -> ' ', no stemmer),
  rouge_scorer.py (_create_ngrams, _score_ngrams, _score_lcs), scoring.py (fmeasure).
One reference per hypothesis.
"""
import math
import re
from collections import Counter

# ---- sacreBLEU 13a ---------------------------------------------------------------------
_RE_13A = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]


def tokenize_13a(line):
    line = line.rstrip()  # BLEU._preprocess_segment
    line = line.replace('<skipped>', '')
    line = line.replace('-\n', '')
    line = line.replace('\n', ' ')
    if '&' in line:
        line = line.replace('&quot;', '"')
        line = line.replace('&amp;', '&')
        line = line.replace('&lt;', '<')
        line = line.replace('&gt;', '>')
    line = f' {line} '
    for pattern, repl in _RE_13A:
        line = pattern.sub(repl, line)
    return line.split()


def _word_ngrams(tokens, max_order=4):
    return Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1)
                   for i in range(len(tokens) - n + 1))


def bleu_stats(hyp, ref, max_order=4):
    h, r = tokenize_13a(hyp), tokenize_13a(ref)
    hc, rc = _word_ngrams(h, max_order), _word_ngrams(r, max_order)
    correct = [0] * max_order
    total = [0] * max_order
    for ng, c in hc.items():
        total[len(ng) - 1] += c
        if ng in rc:
            correct[len(ng) - 1] += min(c, rc[ng])
    return [len(h), len(r)] + correct + total


def _log(x):
    return -9999999999 if x == 0.0 else math.log(x)


def bleu_from_stats(stats, effective_order, max_order=4):
    sys_len, ref_len = stats[0], stats[1]
    correct, total = list(stats[2:2 + max_order]), list(stats[2 + max_order:])
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    else:
        bp = 1.0
    precisions = [0.0] * max_order
    if not any(correct):
        return {"score": 0.0, "bp": bp, "precisions": precisions}
    smooth = 1.0
    eff = max_order
    for n in range(1, max_order + 1):
        if total[n - 1] == 0:
            break
        if effective_order:
            eff = n
        if correct[n - 1] == 0:
            smooth *= 2
            precisions[n - 1] = 100. / (smooth * total[n - 1])
        else:
            precisions[n - 1] = 100. * correct[n - 1] / total[n - 1]
    score = bp * math.exp(sum(_log(p) for p in precisions[:eff]) / eff)
    return {"score": score, "bp": bp, "precisions": precisions}


def corpus_bleu(hyps, refs):
    stats = [0] * 10
    for h, r in zip(hyps, refs, strict=True):
        stats = [a + b for a, b in zip(stats, bleu_stats(h, r))]
    return bleu_from_stats(stats, effective_order=False)


def sentence_bleu(hyp, ref):
    return bleu_from_stats(bleu_stats(hyp, ref), effective_order=True)


# ---- sacreBLEU chrF --------------------------------------------------------------------
def chrf_stats(hyp, ref, order=6):
    h, r = ''.join(hyp.split()), ''.join(ref.split())
    out = []
    for n in range(1, order + 1):
        hc = Counter(h[i:i + n] for i in range(len(h) - n + 1))
        rc = Counter(r[i:i + n] for i in range(len(r) - n + 1))
        match = sum(min(c, rc[g]) for g, c in hc.items() if g in rc)
        out += [sum(hc.values()) if rc else 0, sum(rc.values()), match]
    return out


def chrf_from_stats(stats, order=6, beta=2):
    factor = beta ** 2
    avg_p = avg_r = 0.0
    eff = 0
    for i in range(order):
        nh, nr, nm = stats[3 * i:3 * i + 3]
        if nh > 0 and nr > 0:
            avg_p += nm / nh
            avg_r += nm / nr
            eff += 1
    if eff == 0:
        return 0.0
    avg_p /= eff
    avg_r /= eff
    if not avg_p + avg_r:
        return 0.0
    score = (1 + factor) * avg_p * avg_r
    score /= (factor * avg_p) + avg_r
    return 100 * score


def corpus_chrf(hyps, refs):
    stats = [0] * 18
    for h, r in zip(hyps, refs, strict=True):
        stats = [a + b for a, b in zip(stats, chrf_stats(h, r))]
    return chrf_from_stats(stats)


def sentence_chrf(hyp, ref):
    return chrf_from_stats(chrf_stats(hyp, ref))


# ---- rouge-score -----------------------------------------------------------------------
def rouge_tokenize(text):
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    tokens = re.split(r"\s+", text)
    return [t for t in tokens if re.match(r"^[a-z0-9]+$", t)]


def _fmeasure(p, r):
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def rouge_n(target, prediction, n):
    def grams(tokens):
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    t, p = grams(rouge_tokenize(target)), grams(rouge_tokenize(prediction))
    inter = sum(min(t[g], p[g]) for g in t)
    prec = inter / max(sum(p.values()), 1)
    rec = inter / max(sum(t.values()), 1)
    return {"precision": prec, "recall": rec, "fmeasure": _fmeasure(prec, rec)}


def rouge_l(target, prediction):
    t, p = rouge_tokenize(target), rouge_tokenize(prediction)
    if not t or not p:
        return {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
    table = [[0] * (len(p) + 1) for _ in range(len(t) + 1)]
    for i in range(1, len(t) + 1):
        for j in range(1, len(p) + 1):
            table[i][j] = table[i - 1][j - 1] + 1 if t[i - 1] == p[j - 1] else max(table[i - 1][j], table[i][j - 1])
    lcs = table[-1][-1]
    prec, rec = lcs / len(p), lcs / len(t)
    return {"precision": prec, "recall": rec, "fmeasure": _fmeasure(prec, rec)}
