"""transformers' generation semantics (greedy and beam search, logits processors) for
encoder-decoder models, generic over a step function.

Written from huggingface/transformers: generation/beam_search.py @4e7bd11f (BeamSearchScorer,
BeamHypotheses), generation/utils.py (_get_logits_processor order @000034a4; the greedy and beam
loops of the BeamSearchScorer era, v4.38-v4.47), generation/logits_process.py,
generation/configuration_utils.py (GenerationConfig defaults, from_model_config).

Version-dependent choices followed here (state them when comparing with another version):
  * The decoder start token is part of `input_ids` for every processor: min_length counts it
    (MinLengthLogitsProcessor bans eos while len(decoder ids incl. start) < min_length),
    max_length counts it (max_length=20 gives at most 19 generated tokens), repetition_penalty
    and no_repeat_ngram_size see it, ForcedBOS fires when len == 1, ForcedEOS when
    len == max_length - 1. max_new_tokens -> max_length = max_new_tokens + 1;
    min_new_tokens counts tokens after the start token.
  * Beam length penalty (beam_search.py with decoder_prompt_len, >= v4.36): a hypothesis that
    ends in eos is scored sum_logprobs / generated_len**length_penalty with generated_len =
    tokens after the start token INCLUDING the eos; a beam still open at max_length is scored
    with generated_len = its tokens after the start token (it has no eos). (Before v4.36 the
    divisor was hyp.shape[-1], i.e. start token counted, eos not: the same number for finished
    hypotheses, one more for open ones.)
  * early_stopping False: done when worst kept score >= best_running_sum / (cur_len - 1)**lp with
    cur_len = current length + 1; True: done once num_beams hypotheses are kept; "never": with
    lp > 0 the bound uses max_length - 1 instead of cur_len - 1.
  * Beam processors act on log_softmax(logits) (so repetition_penalty multiplies negative
    log-probs); greedy processors act on raw logits.
  * Processor order (_get_logits_processor): repetition_penalty, no_repeat_ngram_size,
    bad_words_ids, min_length, min_new_tokens, forced_bos_token_id, forced_eos_token_id.
  * bad_words_ids entries equal to [eos] are dropped (NoBadWordsLogitsProcessor).
  * Greedy: rows that produced eos get pad_token_id afterwards; generation stops when every
    row is finished or the length reaches max_length. pad_token_id None -> first eos.
  * GenerationConfig: generation_config.json when present (missing fields take GenerationConfig
    defaults, config.json is not consulted), else GenerationConfig.from_model_config(config.json).
    decoder_start_token_id falls back to bos_token_id.
"""
import json
import math
import os

import torch

GENERATION_DEFAULTS = {
    "max_length": 20, "max_new_tokens": None, "min_length": 0, "min_new_tokens": None,
    "early_stopping": False, "num_beams": 1, "num_beam_groups": 1, "length_penalty": 1.0,
    "no_repeat_ngram_size": 0, "bad_words_ids": None, "repetition_penalty": 1.0,
    "forced_bos_token_id": None, "forced_eos_token_id": None, "num_return_sequences": 1,
    "do_sample": False, "pad_token_id": None, "bos_token_id": None, "eos_token_id": None,
    "decoder_start_token_id": None, "encoder_no_repeat_ngram_size": 0, "encoder_repetition_penalty": 1.0,
    "diversity_penalty": 0.0, "remove_invalid_values": False, "suppress_tokens": None,
    "begin_suppress_tokens": None, "forced_decoder_ids": None, "sequence_bias": None,
    "renormalize_logits": False, "exponential_decay_length_penalty": None,
}
# Fields smol's generator is expected to honour; the rest must stay at their defaults here.
SUPPORTED = {"max_length", "max_new_tokens", "min_length", "min_new_tokens", "early_stopping", "num_beams",
             "length_penalty", "no_repeat_ngram_size", "bad_words_ids", "repetition_penalty",
             "forced_bos_token_id", "forced_eos_token_id", "pad_token_id", "bos_token_id", "eos_token_id",
             "decoder_start_token_id", "num_return_sequences", "do_sample", "num_beam_groups"}


def generation_config_for(folder, model_config=None):
    """Resolved generation parameters for a model folder, as transformers builds them."""
    path = os.path.join(folder, "generation_config.json")
    g = dict(GENERATION_DEFAULTS)
    if os.path.exists(path):
        with open(path) as f:
            src = json.load(f)
    else:
        if model_config is None:
            with open(os.path.join(folder, "config.json")) as f:
                model_config = json.load(f)
        # from_model_config: every config.json key that is a generation attribute; the class
        # defaults of the model config (e.g. BartConfig's forced_eos_token_id=2) count too.
        from seq2seq_reference import load_config
        src = load_config(model_config)
    for k in GENERATION_DEFAULTS:
        if k in src:
            g[k] = src[k]
    return g


def finalize_params(g, **overrides):
    """Applies call-time overrides, then what generate() derives: max_length from
    max_new_tokens, pad from eos, decoder start from bos, eos as a list."""
    g = dict(g)
    g.update(overrides)
    if g.get("max_new_tokens") is not None:
        g["max_length"] = g["max_new_tokens"] + 1
    eos = g["eos_token_id"]
    g["eos_list"] = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    if g["pad_token_id"] is None and g["eos_list"]:
        g["pad_token_id"] = g["eos_list"][0]
    if g["decoder_start_token_id"] is None:
        g["decoder_start_token_id"] = g["bos_token_id"]
    if g["decoder_start_token_id"] is None:
        raise ValueError("no decoder_start_token_id and no bos_token_id")
    for k, default in GENERATION_DEFAULTS.items():
        if k not in SUPPORTED and g.get(k) != default:
            raise ValueError(f"generation field {k}={g[k]!r} is not modelled by this oracle")
    if g["do_sample"]:
        raise ValueError("sampling is not modelled")
    if g["num_return_sequences"] != 1 or g["num_beam_groups"] != 1:
        raise ValueError("only num_return_sequences=1, num_beam_groups=1")
    return g


# --- logits processors ---------------------------------------------------------------------
NEG_INF = float("-inf")


def _ngram_bans(row, n):
    cur = len(row)
    if cur + 1 < n:
        return []
    table = {}
    for i in range(cur - n + 1):
        table.setdefault(tuple(row[i : i + n - 1]), []).append(row[i + n - 1])
    return table.get(tuple(row[cur - n + 1 :]), [])


def apply_processors(g, ids, scores):
    """ids: list of decoder id lists (start token included), scores [N, V] float64 (modified
    copy returned)."""
    scores = scores.clone()
    cur_len = len(ids[0])
    eos = g["eos_list"]
    if g["repetition_penalty"] != 1.0:
        pen = g["repetition_penalty"]
        for r, row in enumerate(ids):
            idx = torch.tensor(row, dtype=torch.long)
            s = scores[r].gather(0, idx)
            s = torch.where(s < 0, s * pen, s / pen)
            scores[r].scatter_(0, idx, s)
    if g["no_repeat_ngram_size"] and g["no_repeat_ngram_size"] > 0:
        for r, row in enumerate(ids):
            for t in _ngram_bans(row, g["no_repeat_ngram_size"]):
                scores[r, t] = NEG_INF
    if g["bad_words_ids"] is not None:
        bad = [list(b) for b in g["bad_words_ids"] if not any(list(b) == [e] for e in eos)]
        for r, row in enumerate(ids):
            for seq in bad:
                prefix = seq[:-1]
                if len(prefix) == 0 or (len(prefix) <= len(row) and row[len(row) - len(prefix) :] == prefix):
                    scores[r, seq[-1]] = NEG_INF
    if g["min_length"] is not None and g["min_length"] > 0 and eos:
        if cur_len < g["min_length"]:
            scores[:, eos] = NEG_INF
    if g["min_new_tokens"] is not None and g["min_new_tokens"] > 0 and eos:
        if cur_len - 1 < g["min_new_tokens"]:
            scores[:, eos] = NEG_INF
    if g["forced_bos_token_id"] is not None and cur_len == 1:
        scores[:, :] = NEG_INF
        scores[:, g["forced_bos_token_id"]] = 0.0
    if g["forced_eos_token_id"] is not None and cur_len == g["max_length"] - 1:
        fe = g["forced_eos_token_id"]
        scores[:, :] = NEG_INF
        scores[:, [fe] if isinstance(fe, int) else list(fe)] = 0.0
    return scores


def _top2_gap(v):
    finite = v[torch.isfinite(v)]
    if finite.numel() < 2:
        return math.inf
    top = torch.topk(finite, 2).values
    return float(top[0] - top[1])


# --- greedy ---------------------------------------------------------------------------------
def greedy(step, batch_size, g):
    """Returns dict(sequences=[list per item, padded to the batch's longest as transformers
    returns], min_margin=smallest top1-top2 gap of the processed scores over all decisions)."""
    start = g["decoder_start_token_id"]
    ids = [[start] for _ in range(batch_size)]
    unfinished = [True] * batch_size
    rows = list(range(batch_size))
    min_margin = math.inf
    while True:
        logits = step(torch.tensor(ids, dtype=torch.long), rows)
        scores = apply_processors(g, ids, logits)
        nxt = torch.argmax(scores, dim=-1).tolist()
        for r in range(batch_size):
            if unfinished[r]:
                min_margin = min(min_margin, _top2_gap(scores[r]))
            else:
                nxt[r] = g["pad_token_id"]
            ids[r].append(nxt[r])
            if unfinished[r] and nxt[r] in g["eos_list"]:
                unfinished[r] = False
        if not any(unfinished) or len(ids[0]) >= g["max_length"]:
            break
    return {"sequences": ids, "min_margin": min_margin}


# --- beam search ----------------------------------------------------------------------------
class _Hyps:
    def __init__(self, num_beams, length_penalty, early_stopping, max_length):
        self.n, self.lp, self.es, self.max_length = num_beams, length_penalty, early_stopping, max_length
        self.beams = []  # (score, ids)
        self.worst = 1e9

    def add(self, ids, sum_logprobs, generated_len):
        score = sum_logprobs / (generated_len ** self.lp)
        if len(self.beams) < self.n or score > self.worst:
            self.beams.append((score, ids))
            if len(self.beams) > self.n:
                ranked = sorted([(s, i) for i, (s, _) in enumerate(self.beams)])
                del self.beams[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def _bound(self, best_sum, cur_len, prompt_len=1):
        if self.es is not False and self.lp > 0.0:
            return best_sum / (self.max_length - prompt_len) ** self.lp
        return best_sum / (cur_len - prompt_len) ** self.lp

    def done_margin(self, best_sum, cur_len):
        """Distance of the early-stopping comparison from flipping (inf when it is not made)."""
        if len(self.beams) < self.n or self.es is True:
            return math.inf
        return abs(self.worst - self._bound(best_sum, cur_len))

    def is_done(self, best_sum, cur_len, prompt_len=1):
        if len(self.beams) < self.n:
            return False
        if self.es is True:
            return True
        if self.es is False:
            return self.worst >= best_sum / (cur_len - prompt_len) ** self.lp
        if self.lp > 0.0:
            return self.worst >= best_sum / (self.max_length - prompt_len) ** self.lp
        return self.worst >= best_sum / (cur_len - prompt_len) ** self.lp


def _beam_step_margin(scores, tokens, eos, nb):
    """How far this step's selection is from changing: the gap at the boundary between the
    last kept non-eos candidate and the next one, and the gap at rank num_beams when an eos
    candidate sits on either side of it (eos below that rank is ignored). Candidates at or
    below -1e8 (the initial -1e9 beams, -inf) are identical copies and do not count."""
    sc = [float(x) for x in scores]
    tk = [int(x) for x in tokens]
    margin = math.inf
    non_eos = [i for i, t in enumerate(tk) if t not in eos]
    if len(non_eos) > nb and sc[non_eos[nb]] > -1e8:
        margin = min(margin, sc[non_eos[nb - 1]] - sc[non_eos[nb]])
    if len(sc) > nb and (tk[nb - 1] in eos or tk[nb] in eos) and sc[nb] > -1e8:
        margin = min(margin, sc[nb - 1] - sc[nb])
    return margin


def beam_search(step, batch_size, g):
    """Returns dict(sequences (padded as BeamSearchScorer.finalize pads), scores (the kept
    hypotheses' length-normalised scores), min_margin)."""
    nb = g["num_beams"]
    start, pad, eos = g["decoder_start_token_id"], g["pad_token_id"], g["eos_list"]
    max_length = g["max_length"]
    ids = [[start] for _ in range(batch_size * nb)]
    rows = [i // nb for i in range(batch_size * nb)]
    beam_scores = torch.zeros(batch_size, nb, dtype=torch.float64)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    hyps = [_Hyps(nb, g["length_penalty"], g["early_stopping"], max_length) for _ in range(batch_size)]
    done = [False] * batch_size
    min_margin = math.inf
    k = max(2, 1 + len(eos)) * nb
    while True:
        logits = step(torch.tensor(ids, dtype=torch.long), rows)
        logp = torch.log_softmax(logits, dim=-1)
        processed = apply_processors(g, ids, logp)
        total = processed + beam_scores[:, None]
        vocab = total.shape[-1]
        total = total.view(batch_size, nb * vocab)
        top_scores, top_tokens = torch.topk(total, k, dim=1, largest=True, sorted=True)
        top_beams = torch.div(top_tokens, vocab, rounding_mode="floor")
        top_tokens = top_tokens % vocab
        cur_len = len(ids[0]) + 1
        new_scores, new_tokens, new_src = [], [], []
        for b in range(batch_size):
            if done[b]:
                new_scores += [0.0] * nb
                new_tokens += [pad] * nb
                new_src += [b * nb] * nb
                continue
            filled = 0
            for rank in range(k):
                tok = int(top_tokens[b, rank])
                sc = float(top_scores[b, rank])
                src = b * nb + int(top_beams[b, rank])
                if tok in eos:
                    if rank >= nb:
                        continue
                    hyps[b].add(list(ids[src]), sc, generated_len=cur_len - 1)
                else:
                    new_scores.append(sc)
                    new_tokens.append(tok)
                    new_src.append(src)
                    filled += 1
                if filled == nb:
                    break
            if filled < nb:
                raise ValueError("too many eos candidates")
            min_margin = min(min_margin, _beam_step_margin(top_scores[b], top_tokens[b], eos, nb))
            was_done = done[b]
            done[b] = done[b] or hyps[b].is_done(float(top_scores[b].max()), cur_len)
            if not was_done:
                min_margin = min(min_margin, hyps[b].done_margin(float(top_scores[b].max()), cur_len))
        ids = [list(ids[s]) + [t] for s, t in zip(new_src, new_tokens)]
        beam_scores = torch.tensor(new_scores, dtype=torch.float64)
        if all(done) or len(ids[0]) >= max_length:
            break
    # finalize: open beams of unfinished items compete with the kept hypotheses
    for b in range(batch_size):
        if done[b]:
            continue
        for j in range(nb):
            r = b * nb + j
            hyps[b].add(list(ids[r]), float(beam_scores[r]), generated_len=len(ids[r]) - 1)
    best, best_scores = [], []
    for b in range(batch_size):
        ranked = sorted(hyps[b].beams, key=lambda x: x[0])
        if len(ranked) > 1:
            min_margin = min(min_margin, ranked[-1][0] - ranked[-2][0])
        s, h = ranked[-1]
        best.append(h)
        best_scores.append(s)
    lens = [len(h) for h in best]
    sent_max = min(max(lens) + 1, max_length)
    out = []
    for h in best:
        row = list(h)
        if len(row) < sent_max:
            row.append(eos[0])
        row += [pad] * (sent_max - len(row))
        out.append(row)
    return {"sequences": out, "scores": best_scores, "min_margin": min_margin}


def generate(step, batch_size, g):
    """g: finalize_params(...) output. Dispatches on num_beams."""
    if g["num_beams"] > 1:
        return beam_search(step, batch_size, g)
    return greedy(step, batch_size, g)


def strip_padding(seq, g, reference_len=None):
    """Drops the trailing pad run that batching adds after the eos (keeps the eos)."""
    seq = list(seq)
    if reference_len is not None:
        return seq[:reference_len]
    while len(seq) > 1 and seq[-1] == g["pad_token_id"] and seq[-2] in (g["eos_list"] + [g["pad_token_id"]]):
        seq.pop()
    return seq
