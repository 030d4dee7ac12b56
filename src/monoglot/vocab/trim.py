"""Vocabulary trimming of a whole model directory (embeddings, any MLM head, config, tokenizer)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..artifacts import atomic_dir, check_new_output, save_tokenizer, write_meta
from ..measure import count_parameters, dir_bytes
from ..teachers import load_tokenizer, resolve_model
from ..teachers.loader import load_saved_architecture, new_like
from .count import count_pieces
from .select import VocabPolicy, select_vocab
from .surgery import trim_tokenizer_json

# state-dict keys whose first dimension is the vocabulary (embeddings, MLM decoder and bias)
_VOCAB_KEYS = ("word_embeddings", "decoder", "lm_head", "predictions")
_SPECIAL_CONFIG_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id",
                       "mask_token_id", "unk_token_id", "decoder_start_token_id")


def trim_model(model_spec: str | Path, keep: np.ndarray, out_dir: str | Path) -> dict:
    """Write ``model_spec`` restricted to the vocabulary ids ``keep`` into the empty ``out_dir``.

    Every tensor whose first dimension is the vocabulary (input embeddings, tied or untied MLM
    decoder weight and bias) is row-sliced with the same index; ``vocab_size`` and every special
    token id in the config are remapped; the tokenizer is rewritten (:func:`trim_tokenizer_json`).

    Args:
        model_spec: model directory, hub id or ``e5-small``.
        keep: sorted old ids to keep, shape ``(n,)`` int64.
        out_dir: an existing empty directory.

    Returns:
        ``{"old_vocab_rows", "new_vocab_rows"}``.
    """
    path = resolve_model(model_spec)
    tok = load_tokenizer(path)
    model = load_saved_architecture(path)
    old_rows = model.get_input_embeddings().weight.shape[0]
    idx = torch.as_tensor(keep, dtype=torch.long)
    new_id = {int(o): n for n, o in enumerate(keep.tolist())}
    state = model.state_dict()
    sliced = {}
    for k, v in state.items():
        if v.dim() in (1, 2) and v.shape[0] == old_rows and any(s in k for s in _VOCAB_KEYS):
            sliced[k] = v.index_select(0, idx).clone()
        else:
            sliced[k] = v
    config = model.config
    config.vocab_size = len(keep)
    for name in _SPECIAL_CONFIG_IDS:
        old = getattr(config, name, None)
        if isinstance(old, int) and old >= 0:
            setattr(config, name, new_id.get(old, None))
    new_model = new_like(model, config)
    new_model.load_state_dict(sliced, strict=True)
    new_model.save_pretrained(out_dir)

    from transformers import PreTrainedTokenizerFast

    tj = json.loads(tok.backend_tokenizer.to_str())
    new_tok_json = Path(out_dir, "tokenizer.json")
    new_tok_json.write_text(json.dumps(trim_tokenizer_json(tj, keep), ensure_ascii=False))
    specials = {k: v for k, v in tok.special_tokens_map.items() if isinstance(v, str)}
    new_tok = PreTrainedTokenizerFast(tokenizer_file=str(new_tok_json), model_max_length=tok.model_max_length, **specials)
    save_tokenizer(new_tok, out_dir)
    return {"old_vocab_rows": int(old_rows), "new_vocab_rows": int(len(keep))}


def trim_to_corpus(model_spec: str | Path, corpora: Sequence[str | Path], out: str | Path,
                   policy: VocabPolicy | None = None, text_column: str = "text",
                   overwrite: bool = False, progress: bool = True) -> Path:
    """Count pieces on ``corpora``, select with ``policy``, and write the trimmed model to ``out``.

    Source: vocabulary trimming as in Gurgurov et al. 2025 (sec. 3) and Ansell et al. 2023 (BiStil,
    sec. 3.1); with ``min_count=1`` trimming is exact on the whole corpus.

    Stats written to ``monoglot.json``: pieces kept, token-occurrence coverage on the corpus,
    words whose segmentation used a removed piece, parameters and bytes before/after, seconds.

    Raises:
        BadInput: missing/empty corpus, existing ``out``, bad policy, unsupported tokenizer.
    """
    from ..corpus import CorpusStats, iter_documents, iter_segments
    from ..progress import counter

    policy = policy or VocabPolicy()
    path = resolve_model(model_spec)
    check_new_output(out, overwrite)
    tok = load_tokenizer(path)
    t0 = time.perf_counter()
    cstats = CorpusStats()
    texts = (s for c in corpora for s in iter_segments(iter_documents(c, text_column=text_column, stats=cstats)))
    with counter("counting pieces", unit="segments", enabled=progress) as tick:
        counts, chars, n_texts = count_pieces(tok, texts, progress=tick)
    t_count = time.perf_counter() - t0
    total = int(counts.sum())
    unk_rate = float(counts[tok.unk_token_id] / total) if total and tok.unk_token_id is not None else 0.0
    keep = select_vocab(counts, tok, policy, chars)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        info = trim_model(path, keep, tmp)
        before, after = count_parameters(path), count_parameters(tmp)
        stats = {
            "pieces_before": len(tok), "pieces_kept": int(len(keep)),
            "token_occurrences": total, "coverage": float(counts[keep[keep < len(counts)]].sum() / max(total, 1)),
            "unk_rate": unk_rate, "corpus": cstats.as_dict(), "segments": n_texts,
            "parameters_before": before, "parameters_after": after,
            "bytes_before": dir_bytes(path) if Path(path).is_dir() else None, "bytes_after": dir_bytes(tmp),
            "seconds_counting": round(t_count, 2), "seconds_total": round(time.perf_counter() - t0, 2), **info,
        }
        write_meta(tmp, "trim", str(model_spec), {"corpora": [str(c) for c in corpora], **policy.model_dump()}, stats)
    return Path(out)
