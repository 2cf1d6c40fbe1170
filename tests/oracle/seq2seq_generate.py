"""transformers' generation semantics (greedy and beam search, logits processors, length
rules) for encoder-decoder models, generic over a step function, computed in float64.

Transcribed from huggingface/transformers src/transformers/generation/utils.py at commit
000034a44ef887621d9b36001a5eb7c46e64cb3f (`generate`, `_prepare_generation_config`,
`_prepare_special_tokens`, `_prepare_generated_length`, `_get_logits_processor`, `_sample`,
`_beam_search` and its helpers), with logits_process.py and stopping_criteria.py of the same
era (read at aa5108b4 and 0008722d: the classes that utils.py builds, called as it calls them)
and configuration_utils.py (GenerationConfig defaults, `from_model_config`, `update`).

Rules followed (the utils.py line that decides each is quoted):
  * Parameters: the folder's generation_config.json when present (missing fields take the
    GenerationConfig defaults, config.json is not consulted), else
    GenerationConfig.from_model_config(config.json) (its generation keys, the model config
    class defaults included, None values dropped). Then `generation_config.update(**kwargs)`:
    every keyword passed, None included, overrides.
  * Special tokens (`_prepare_special_tokens`): decoder start falls back to bos; pad unset ->
    `pad_token_tensor = eos_token_tensor[0]`.
  * Lengths (`_prepare_generated_length`, input_ids_length = 1, the decoder start token):
    `has_default_max_length = kwargs.get("max_length") is None and ...max_length is not None`;
    max_new_tokens set -> `max_length = max_new_tokens + input_ids_length` (wins over
    max_length); otherwise, when max_length was not passed and equals
    `GenerationConfig().max_length` (20): "by default let's always generate 20 new tokens":
    `max_length = max_length + input_ids_length`, then `min(max_length,
    config.max_position_embeddings)`. min_new_tokens set -> `min_length = min_new_tokens +
    input_ids_length`. max_length and min_length count the decoder start token.
  * Processors (`_get_logits_processor`, in this order, each only when its condition holds):
    RepetitionPenalty (`!= 1.0`; all decoder ids incl. the start token; score<0 ? s*p : s/p),
    NoRepeatNGram (`> 0`), NoBadWords (eos-only entries `[eos]` dropped; a SequenceBias of
    -inf: one-token entries always, longer ones when the last len-1 ids match and the entry is
    not longer than the decoder ids so far), MinLength (`min_length > 0` and an eos: eos -inf
    while len(ids) < min_length), MinNewTokensLength (`min_new_tokens > 0`: eos -inf while
    len(ids) - 1 < min_new_tokens), ForcedBOS (len(ids) == 1), ForcedEOS (len(ids) ==
    max_length - 1, with the resolved max_length). Greedy applies them to the raw logits;
    beam search to `log_softmax(logits)` (`log_probs = logits_processor(flat_running_sequences,
    log_probs)`).
  * Greedy (`_sample`): argmax; finished rows get pad (`next_tokens * unfinished_sequences +
    pad_token_id * (1 - unfinished_sequences)`); a row stops on eos or when len >= max_length.
  * Beam search (`_beam_search`): running scores start [0, -1e9, ...]; finished slots start at
    -1e9. Each step: top `beams_to_keep = max(2, 1 + n_eos_tokens) * num_beams` of
    running score + processed log-prob over all beams; `next_token_hits_stopping_criteria` =
    the candidate ends in eos OR its length (cur_len + 1) reaches max_length; the next running
    beams are the top num_beams of `topk_log_probs + hits * -1.0e9`; candidates may finish only
    when they hit AND are among the top num_beams (`top_num_beam_mask`), scored
    `topk_log_probs / ((cur_len + 1 - decoder_prompt_len) ** length_penalty)` (generated tokens,
    eos included), and get -1e9 added when the item's slots are all finished and
    `early_stopping is True`, when the item's early-stop heuristic is satisfied, and when they
    did not just finish; the num_beams best of (finished slots + candidates) are kept.
    Heuristic (`_check_early_stop_heuristic`, after `cur_len += 1`): best possible =
    best running score / (max_length - 1 if early_stopping == "never" and lp > 0 else
    cur_len - 1) ** lp; worst = min of the finished slots, -1e9 while a slot is unfinished; it
    stays satisfied once `not any(best possible > worst)`. The loop stops when no item can
    improve, or every slot of every item is finished and early_stopping is True, or every
    candidate hit a stopping criterion (max_length). Output: slot 0 of each item, cut to
    1 + the longest returned generation, padded with `pad_token_id or eos_token_id[0]`;
    sequence_scores = slot 0's score. There is no finalize step adding open beams: beams
    reaching max_length finish through the MaxLength criterion with their full length.
  * float32 vs float64: transformers scores in float32; this oracle keeps float64 and the
    -1e9 offsets as they are, and the fixtures keep every decision at least 1e-4 away from a
    tie (the margins below), so the float32 rounding cannot flip one.
  * Vocabulary: `_beam_search` reshapes with `vocab_size = self.config.get_text_config()
    .vocab_size`; for a Marian folder with decoder_vocab_size != vocab_size that reshape raises
    in transformers at this commit. The oracle uses the logits' width (what greedy, and
    transformers <= v4.47 beam search, use) and reports the mismatch (`vocab_mismatch`).
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
DECODER_PROMPT_LEN = 1  # the decoder start token: input_ids_length / decoder_prompt_len in generate()
NEG_INF = float("-inf")
REAL = -1e8  # scores at or below this carry a -1e9 offset (placeholders, penalised candidates)


def generation_config_for(folder, model_config=None):
    """The folder's generation parameters as the model's generation_config holds them, plus
    the model config values generate() reads (`_max_position_embeddings`, `_vocab_size`)."""
    from seq2seq_reference import load_config
    if model_config is None:
        with open(os.path.join(folder, "config.json")) as f:
            model_config = json.load(f)
    cfg = load_config(model_config)  # config.json over the config class defaults
    path = os.path.join(folder, "generation_config.json")
    g = dict(GENERATION_DEFAULTS)
    if os.path.exists(path):
        with open(path) as f:
            src = json.load(f)
    else:
        # from_model_config: the config's to_dict() without None values, as GenerationConfig kwargs
        src = {k: v for k, v in cfg.items() if v is not None}
    for k in GENERATION_DEFAULTS:
        if k in src:
            g[k] = src[k]
    g["_max_position_embeddings"] = cfg.get("max_position_embeddings")
    g["_vocab_size"] = cfg.get("vocab_size")
    return g


def finalize_params(g, **kwargs):
    """What generate(**kwargs) resolves: update() with every keyword (None included), the
    special tokens, then the length rules of _prepare_generated_length."""
    g = dict(g)
    for k in kwargs:
        if k not in GENERATION_DEFAULTS:
            raise ValueError(f"{k!r} is not a generation parameter modelled here")
    g.update(kwargs)
    eos = g["eos_token_id"]
    g["eos_list"] = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    if g["pad_token_id"] is None and g["eos_list"]:
        g["pad_token_id"] = g["eos_list"][0]
    if g["decoder_start_token_id"] is None:
        g["decoder_start_token_id"] = g["bos_token_id"]
    if g["decoder_start_token_id"] is None:
        raise ValueError("no decoder_start_token_id and no bos_token_id")
    has_default_max_length = kwargs.get("max_length") is None and g["max_length"] is not None
    if g["max_new_tokens"] is not None:
        g["max_length"] = g["max_new_tokens"] + DECODER_PROMPT_LEN
    elif has_default_max_length and g["max_length"] == GENERATION_DEFAULTS["max_length"]:
        g["max_length"] = g["max_length"] + DECODER_PROMPT_LEN
        if g.get("_max_position_embeddings") is not None:
            g["max_length"] = min(g["max_length"], g["_max_position_embeddings"])
    if g["min_new_tokens"] is not None:
        g["min_length"] = g["min_new_tokens"] + DECODER_PROMPT_LEN
    if DECODER_PROMPT_LEN >= g["max_length"]:
        raise ValueError(f"max_length {g['max_length']} leaves no room after the decoder start token")
    for k, default in GENERATION_DEFAULTS.items():
        if k not in SUPPORTED and g.get(k) != default:
            raise ValueError(f"generation field {k}={g[k]!r} is not modelled by this oracle")
    if g["do_sample"]:
        raise ValueError("sampling is not modelled")
    if g["num_return_sequences"] != 1 or g["num_beam_groups"] != 1:
        raise ValueError("only num_return_sequences=1, num_beam_groups=1")
    return g


# --- logits processors ---------------------------------------------------------------------
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
    if g["repetition_penalty"] is not None and g["repetition_penalty"] != 1.0:
        pen = g["repetition_penalty"]
        for r, row in enumerate(ids):
            idx = torch.tensor(row, dtype=torch.long)
            s = scores[r].gather(0, idx)
            s = torch.where(s < 0, s * pen, s / pen)
            scores[r].scatter_(0, idx, s)
    if g["no_repeat_ngram_size"] is not None and g["no_repeat_ngram_size"] > 0:
        for r, row in enumerate(ids):
            for t in _ngram_bans(row, g["no_repeat_ngram_size"]):
                scores[r, t] = NEG_INF
    if g["bad_words_ids"] is not None:
        bad = [list(b) for b in g["bad_words_ids"] if all(list(b) != [e] for e in eos)]
        for r, row in enumerate(ids):
            for seq in bad:
                if len(seq) > 1 and len(seq) > cur_len:
                    continue  # SequenceBias: "the sequence is longer than the context, ignore"
                prefix = seq[:-1]
                if not prefix or row[len(row) - len(prefix) :] == prefix:
                    scores[r, seq[-1]] = NEG_INF
    if g["min_length"] is not None and eos and g["min_length"] > 0:
        if cur_len < g["min_length"]:
            scores[:, eos] = NEG_INF
    if g["min_new_tokens"] is not None and eos and g["min_new_tokens"] > 0:
        if cur_len - DECODER_PROMPT_LEN < g["min_new_tokens"]:
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
    eos = g["eos_list"]
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
            elif eos:  # has_eos_stopping_criteria
                nxt[r] = g["pad_token_id"]
            ids[r].append(nxt[r])
            # stopping_criteria: MaxLengthCriteria | EosTokenCriteria on the new last token
            if len(ids[r]) >= g["max_length"] or nxt[r] in eos:
                unfinished[r] = False
        if not any(unfinished):
            break
    return {"sequences": ids, "min_margin": min_margin}


# --- beam search ----------------------------------------------------------------------------
def _gather(t, idx):
    """_gather_beams: t [B, N, ...], idx [B, M] -> [B, M, ...]."""
    while idx.dim() < t.dim():
        idx = idx.unsqueeze(-1)
    return torch.take_along_dim(t, idx, dim=1)


def _step_margins(sc, hits, nb):
    """How far one item's step is from a different running set or a different set of
    finishing candidates: sc, hits over all num_beams*V candidates sorted by score."""
    margin = math.inf
    live = [i for i in range(len(sc)) if not hits[i] and sc[i] > REAL]
    if len(live) > nb:
        margin = min(margin, sc[live[nb - 1]] - sc[live[nb]])
    if (hits[nb - 1] or hits[nb]) and sc[nb] > REAL:
        margin = min(margin, sc[nb - 1] - sc[nb])
    return margin


def beam_search(step, batch_size, g):
    """Returns dict(sequences (slot 0 of each item, cut and padded as _beam_search returns),
    scores (sequence_scores), min_margin, vocab_mismatch)."""
    nb = g["num_beams"]
    eos = g["eos_list"]
    pad = g["pad_token_id"]
    max_length, lp, es = g["max_length"], g["length_penalty"], g["early_stopping"]
    B, P = batch_size, DECODER_PROMPT_LEN
    eos_t = torch.tensor(eos, dtype=torch.long)
    beams_to_keep = max(2, 1 + len(eos)) * nb
    top_num_beam_mask = torch.tensor([True] * nb + [False] * (beams_to_keep - nb))
    fill = (pad or eos[0]) if eos else -1  # `pad_token_id or eos_token_id[0] if eos_token_id is not None else -1`

    running_sequences = torch.full((B, nb, max_length), fill, dtype=torch.long)
    running_sequences[:, :, 0] = g["decoder_start_token_id"]
    sequences = running_sequences.clone()
    running_beam_scores = torch.zeros((B, nb), dtype=torch.float64)
    running_beam_scores[:, 1:] = -1e9
    beam_scores = torch.full((B, nb), -1e9, dtype=torch.float64)
    is_sent_finished = torch.zeros((B, nb), dtype=torch.bool)
    unsatisfied = torch.ones((B, 1), dtype=torch.bool)  # is_early_stop_heuristic_unsatisfied
    running_beam_indices = torch.full((B, nb, max_length - P), -1, dtype=torch.long)
    beam_indices = running_beam_indices.clone()
    rows = [i // nb for i in range(B * nb)]
    batch_offset = torch.arange(B).view(-1, 1) * nb
    cur_len = P
    min_margin = math.inf
    vocab_mismatch = None
    while True:
        flat = running_sequences[:, :, :cur_len].reshape(B * nb, cur_len)
        logits = step(flat, rows)
        vocab = logits.shape[-1]
        if g.get("_vocab_size") is not None and vocab != g["_vocab_size"]:
            vocab_mismatch = {"config_vocab_size": g["_vocab_size"], "logits_width": vocab}
        log_probs = apply_processors(g, flat.tolist(), torch.log_softmax(logits.to(torch.float64), dim=-1))
        acc = (log_probs.view(B, nb, vocab) + running_beam_scores[:, :, None]).reshape(B, nb * vocab)

        # _get_top_k_continuations
        topk_log_probs, topk_indices = torch.topk(acc, k=beams_to_keep)
        topk_current_beam = topk_indices // vocab
        topk_running_beam_indices = _gather(running_beam_indices, topk_current_beam)
        topk_running_sequences = _gather(running_sequences, topk_current_beam)
        topk_ids = topk_indices % vocab
        topk_running_sequences[:, :, cur_len] = topk_ids
        topk_running_beam_indices[:, :, cur_len - P] = topk_current_beam + batch_offset

        # stopping criteria on the candidates: MaxLengthCriteria | EosTokenCriteria
        hits = torch.isin(topk_ids, eos_t) | (cur_len + 1 >= max_length)

        # decision margins of the items still collecting hypotheses (from the full candidate list)
        active = unsatisfied[:, 0] & ~(is_sent_finished.all(dim=-1) & (es is True))
        last_step = cur_len + 1 >= max_length  # every candidate hits MaxLengthCriteria
        step_margin = math.inf
        for b in range(B):
            if active[b] and not last_step:
                sc_all, idx_all = torch.sort(acc[b], descending=True)
                tok_all = idx_all % vocab
                hits_all = (torch.isin(tok_all, eos_t) | (cur_len + 1 >= max_length)).tolist()
                step_margin = min(step_margin, _step_margins(sc_all.tolist(), hits_all, nb))

        # _get_running_beams_for_next_iteration
        topk_running_log_probs = topk_log_probs + hits.to(torch.float64) * -1.0e9
        next_topk = torch.topk(topk_running_log_probs, k=nb)[1]
        running_sequences = _gather(topk_running_sequences, next_topk)
        running_beam_scores = _gather(topk_running_log_probs, next_topk)
        running_beam_indices = _gather(topk_running_beam_indices, next_topk)

        # _update_finished_beams
        just_finished = hits & top_num_beam_mask[None, :]
        cand = topk_log_probs / ((cur_len + 1 - P) ** lp)
        full = is_sent_finished.all(dim=-1, keepdim=True) & (es is True)
        cand = cand + full.to(torch.float64) * -1.0e9
        cand = cand + (~unsatisfied).to(torch.float64) * -1.0e9
        cand = cand + (~just_finished).to(torch.float64) * -1.0e9
        merged_scores = torch.cat((beam_scores, cand), dim=1)
        top_merged = torch.topk(merged_scores, k=nb)[1]
        for b in range(B):
            if active[b] and not last_step:
                ms = torch.sort(merged_scores[b], descending=True).values.tolist()
                if ms[nb] > REAL:
                    step_margin = min(step_margin, ms[nb - 1] - ms[nb])
        sequences = _gather(torch.cat((sequences, topk_running_sequences), dim=1), top_merged)
        beam_scores = _gather(merged_scores, top_merged)
        beam_indices = _gather(torch.cat((beam_indices, topk_running_beam_indices), dim=1), top_merged)
        is_sent_finished = _gather(torch.cat((is_sent_finished, just_finished), dim=1), top_merged)

        cur_len += 1
        # _check_early_stop_heuristic
        if es == "never" and lp > 0.0:
            best_len = max_length - P
        else:
            best_len = cur_len - P
        best_possible = running_beam_scores[:, :1] / (best_len ** lp)
        worst = torch.where(is_sent_finished, beam_scores.min(dim=1, keepdim=True)[0], torch.tensor(-1.0e9,
                            dtype=torch.float64))
        heuristic_margin = math.inf
        if es is not True:
            for b in range(B):
                if unsatisfied[b, 0] and bool(is_sent_finished[b].all()):
                    heuristic_margin = min(heuristic_margin, abs(float(best_possible[b, 0] - worst[b, 0])))
        unsatisfied = unsatisfied & (best_possible > worst).any(dim=-1, keepdim=True)

        # _beam_search_has_unfinished_sequences
        improvement_possible = bool(unsatisfied.any())
        exists_open_beam = not (bool(is_sent_finished.all()) and es is True)
        valid_continuations = not bool(hits.all())
        if not valid_continuations:
            break  # max_length: the running set, the lower slots and the heuristic decide nothing more
        min_margin = min(min_margin, step_margin, heuristic_margin)
        if not (improvement_possible and exists_open_beam):
            break

    for b in range(B):
        real = sorted((s for s in beam_scores[b].tolist() if s > REAL), reverse=True)
        if len(real) > 1:
            min_margin = min(min_margin, real[0] - real[1])
    out = sequences[:, 0, :]
    generated = (beam_indices[:, 0, :] + 1).bool().sum(dim=1).max()
    out = out[:, : P + int(generated)]
    return {"sequences": out.tolist(), "scores": beam_scores[:, 0].tolist(), "min_margin": min_margin,
            "vocab_mismatch": vocab_mismatch}


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
