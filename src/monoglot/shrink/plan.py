"""Choosing what a student keeps: target shape + one strategy per dimension -> a :class:`ShrinkPlan`.

Layers are chosen first, on the full teacher; heads, FFN neurons and hidden dimensions are then
ranked on the layer-reduced model, so that their importance reflects the student's structure
(the reconstruction target stays the full teacher's output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch

from ..errors import BadInput
from ..teachers.loader import check_seq_len
from . import basis as bases
from .importance import (final_states, has_mlm_head, random_k, rank_layers_by_removal, score_importance,
                         text_batches, top_k)
from .layers import LAYER_STRATEGIES, select_layers
from .settings import FFN_STRATEGIES, HEAD_STRATEGIES, HIDDEN_STRATEGIES, ShrinkSettings
from .slicing import ShrinkPlan, check_supported, layers_only_plan, shrink_model

LAYER_RANKING_BATCHES = 2  # greedy layer removal runs O(L^2) forward passes: rank on the first 2 batches


def _check_names(s: ShrinkSettings) -> None:
    layer_ok = s.layer_strategy in LAYER_STRATEGIES + ("importance",) or "," in s.layer_strategy or s.layer_strategy.isdigit()
    for what, name, allowed, ok in (
            ("layer", s.layer_strategy, LAYER_STRATEGIES + ("importance", "a list like 0,4,8,11"), layer_ok),
            ("head", s.head_strategy, HEAD_STRATEGIES, s.head_strategy in HEAD_STRATEGIES),
            ("ffn", s.ffn_strategy, FFN_STRATEGIES, s.ffn_strategy in FFN_STRATEGIES),
            ("hidden", s.hidden_strategy, HIDDEN_STRATEGIES, s.hidden_strategy in HIDDEN_STRATEGIES)):
        if not ok:
            raise BadInput(f"unknown {what} strategy {name!r}; choose one of {', '.join(allowed)}")


def target_shape(config, s: ShrinkSettings) -> tuple[int, int, int, int]:
    """``(layers, hidden, heads, ffn)`` of the student, checked against ``config``.

    If ``hidden`` is given without ``heads``, the head dimension is kept and the head count
    becomes ``hidden / head_dim`` (e.g. 384 with 12 heads -> 256 gives 8 heads of 32).

    Raises:
        BadInput: a dimension larger than the teacher's or not positive, a hidden size the head
            count does not divide, a head dimension larger than the teacher's, an unknown strategy,
            a ``seq_len`` longer than the teacher's positions.
    """
    check_supported(config)
    _check_names(s)
    check_seq_len(config, s.seq_len)
    L, H, A, F = config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size
    d = H // A
    layers = L if s.layers is None else s.layers
    hidden = H if s.hidden is None else s.hidden
    ffn = F if s.ffn is None else s.ffn
    heads = s.heads
    if heads is None:
        heads = A if hidden == H else hidden // d if hidden % d == 0 else A
    for name, new, old in (("layers", layers, L), ("hidden", hidden, H), ("ffn", ffn, F), ("heads", heads, A)):
        if new < 1:
            raise BadInput(f"--{name} {new} must be positive")
        if new > old:
            raise BadInput(f"--{name} {new} is larger than the teacher's {old}; shrink can only remove")
    if hidden % heads and s.heads is None:
        raise BadInput(f"--hidden {hidden} is not a multiple of the teacher's head dimension {d}; pass --heads too, "
                       f"or a --hidden that is a multiple of {d}")
    if hidden % heads:
        raise BadInput(f"--hidden {hidden} is not divisible by --heads {heads}; choose a hidden size that is a multiple of the head count")
    if hidden // heads > d:
        raise BadInput(f"--hidden {hidden} with --heads {heads} needs head dimension {hidden // heads}, larger than the "
                       f"teacher's {d}; use more heads or --hidden {heads * d}")
    return layers, hidden, heads, ffn


def _round(xs: Iterable[float], n: int = 6) -> list[float]:
    return [round(float(x), n) for x in xs]


def plan_shrink(model, s: ShrinkSettings, tokenizer=None, corpora: Sequence[str | Path] = (), text_column: str = "text",
                eval_texts: Iterable[str] | None = None, progress: Callable[[str], object] | None = None
                ) -> tuple[ShrinkPlan, dict]:
    """Decide what the student keeps of ``model`` and why.

    Returns:
        (the plan, a JSON-serialisable record: per dimension the strategy, what was kept or
        removed and the importance scores behind the choice).

    Raises:
        BadInput: see :func:`target_shape`; an importance strategy without text (``corpora``).
    """
    cfg = model.config
    L, H, A, F = target_shape(cfg, s)
    d = H // A
    say = progress or (lambda msg: None)
    rank_layers = s.layer_strategy == "importance" and L < cfg.num_hidden_layers
    score = ((s.head_strategy == "importance" and A < cfg.num_attention_heads)
             or (s.ffn_strategy == "taylor" and F < cfg.intermediate_size)
             or (s.hidden_strategy == "importance" and H < cfg.hidden_size))
    pca = s.hidden_strategy == "pca" and H < cfg.hidden_size
    batches = None
    if rank_layers or score or pca:
        if tokenizer is None:
            raise BadInput("importance scoring needs the model's tokenizer to read the target text")
        batches = text_batches(tokenizer, corpora, s.importance_sequences, s.seq_len, text_column=text_column, eval_texts=eval_texts)
    record: dict = {}

    if rank_layers:
        say(f"ranking layers by removal error ({cfg.num_hidden_layers} -> {L})")
        layers, removal = rank_layers_by_removal(model, batches[:LAYER_RANKING_BATCHES], L)
        record["layers"] = {"strategy": "importance", "kept": layers, "removal_error": {str(k): round(v, 6) for k, v in removal.items()}}
    else:
        strategy = "stride" if s.layer_strategy == "importance" else s.layer_strategy
        layers = select_layers(cfg.num_hidden_layers, L, strategy)
        record["layers"] = {"strategy": strategy, "kept": layers}
    layer_model = shrink_model(model, layers_only_plan(cfg, layers)) if L < cfg.num_hidden_layers else model

    imp = None
    if score:
        say("scoring heads, FFN neurons and hidden dimensions")
        refs = None if has_mlm_head(model) else final_states(model, batches)
        imp = score_importance(layer_model, batches, tokenizer.mask_token_id, references=refs, seed=s.seed)
        record["importance"] = {"loss": imp.loss, "tokens": imp.tokens}

    def choose(n_all: int, k: int, strategy: str, scores: torch.Tensor | None, seed: int) -> list[int]:
        if k == n_all:
            return list(range(n_all))
        if strategy in ("first", "truncate"):
            return list(range(k))
        if strategy == "random":
            return random_k(n_all, k, seed)
        return top_k(scores, k)

    heads = [choose(cfg.num_attention_heads, A, s.head_strategy, imp.heads[i] if imp else None, s.seed + 1 + i) for i in range(L)]
    ffn = [choose(cfg.intermediate_size, F, s.ffn_strategy, imp.ffn[i] if imp else None, s.seed + 101 + i) for i in range(L)]
    record["heads"] = {"strategy": s.head_strategy if A < cfg.num_attention_heads else "none", "kept": heads}
    if imp is not None:
        record["heads"]["scores"] = [_round(r) for r in imp.heads]
    record["ffn"] = {"strategy": s.ffn_strategy if F < cfg.intermediate_size else "none",
                     "removed": [sorted(set(range(cfg.intermediate_size)) - set(k)) for k in ffn]}
    if imp is not None:
        record["ffn"]["importance_kept"] = _round(float(imp.ffn[i][k].sum() / imp.ffn[i].sum().clamp_min(1e-30)) for i, k in enumerate(ffn))

    plan = ShrinkPlan(layers, heads, d, ffn)
    hs = s.hidden_strategy if H < cfg.hidden_size else "none"
    if hs in ("svd", "pca"):
        if hs == "svd":
            P = bases.svd_basis(model.get_input_embeddings().weight.detach(), H)
            sample = model.get_input_embeddings().weight.detach()
        else:
            say("collecting hidden states for PCA")
            sample = bases.hidden_states_sample(layer_model, batches, seed=s.seed)
            P = bases.pca_basis(sample, H)
        plan.basis, plan.ln_scale = P, bases.ln_scale(sample, P)
        energy = float((sample @ P).pow(2).sum() / sample.pow(2).sum())
        record["hidden"] = {"strategy": hs, "energy_kept": round(energy, 6), "ln_scale": round(plan.ln_scale, 6)}
    else:
        plan.hidden = choose(cfg.hidden_size, H, s.hidden_strategy, imp.hidden if imp else None, s.seed + 1000)
        record["hidden"] = {"strategy": hs, "removed": sorted(set(range(cfg.hidden_size)) - set(plan.hidden))}
        if imp is not None:
            record["hidden"]["importance_kept"] = round(float(imp.hidden[plan.hidden].sum() / imp.hidden.sum().clamp_min(1e-30)), 6)
    return plan, record
