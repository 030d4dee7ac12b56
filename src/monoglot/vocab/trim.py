"""Vocabulary trimming of a whole model directory (embeddings, any MLM head, config, tokenizer)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..artifacts import atomic_dir, check_new_output, corpus_files, portable_path, save_tokenizer, write_meta
from ..errors import BadInput
from ..measure import count_parameters, dir_bytes
from ..teachers import load_tokenizer, resolve_model
from ..teachers.loader import load_saved_architecture, new_like
from .count import count_pieces
from .select import VocabPolicy, coverage_curve, select_vocab
from .surgery import complete_selection, trim_tokenizer_json

# state-dict keys whose first dimension is the vocabulary (embeddings, MLM decoder and bias)
_VOCAB_KEYS = ("word_embeddings", "decoder", "lm_head", "predictions")
_SPECIAL_CONFIG_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id",
                       "mask_token_id", "unk_token_id", "decoder_start_token_id")


def _is_vocab_key(name: str, shape: Sequence[int], old_rows: int) -> bool:
    return len(shape) in (1, 2) and shape[0] == old_rows and any(s in name for s in _VOCAB_KEYS)


def _remap_special_ids(config: dict, keep: np.ndarray) -> None:
    new_id = {int(o): n for n, o in enumerate(keep.tolist())}
    for name in _SPECIAL_CONFIG_IDS:
        old = config.get(name)
        if isinstance(old, int) and old >= 0:
            config[name] = new_id.get(old)


def _slice_checkpoint(path: Path, keep: np.ndarray, out_dir: Path) -> int | None:
    """Row-slice the vocabulary tensors of a single-file safetensors checkpoint straight into ``out_dir``.

    Tensors are read with ``safetensors`` (no model is built), so every stored tensor, tied or not,
    is kept as stored. Returns the old vocabulary rows, or ``None`` when ``path`` is not a local
    directory with one ``model.safetensors`` (the caller then goes through transformers).
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    file = path / "model.safetensors"
    if not file.is_file() or not (path / "config.json").is_file():
        return None
    config = json.loads((path / "config.json").read_text())
    idx = torch.as_tensor(keep, dtype=torch.long)
    with safe_open(str(file), framework="pt") as st:
        emb = [k for k in st.keys() if k.endswith("word_embeddings.weight")]
        if len(emb) != 1:
            return None
        old_rows = st.get_slice(emb[0]).get_shape()[0]
        metadata = st.metadata() or {}
        tensors = {}
        for k in st.keys():
            v = st.get_tensor(k)
            tensors[k] = v.index_select(0, idx).contiguous() if _is_vocab_key(k, v.shape, old_rows) else v
    config["vocab_size"] = len(keep)
    _remap_special_ids(config, keep)
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={**metadata, "format": "pt"})
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return int(old_rows)


def _slice_model(path: str, keep: np.ndarray, out_dir: Path) -> int:
    """Row-slice the vocabulary tensors through transformers (hub ids, sharded checkpoints); returns the old rows."""
    model = load_saved_architecture(path)
    old_rows = model.get_input_embeddings().weight.shape[0]
    idx = torch.as_tensor(keep, dtype=torch.long)
    sliced = {k: v.index_select(0, idx).clone() if _is_vocab_key(k, v.shape, old_rows) else v
              for k, v in model.state_dict().items()}
    config = model.config
    cfg = {"vocab_size": len(keep), **{n: getattr(config, n, None) for n in _SPECIAL_CONFIG_IDS}}
    _remap_special_ids(cfg, keep)
    for name, value in cfg.items():
        setattr(config, name, value)
    new_model = new_like(model, config)
    new_model.load_state_dict(sliced, strict=True)
    new_model.save_pretrained(out_dir)
    return int(old_rows)


def trim_model(model_spec: str | Path, keep: np.ndarray, out_dir: str | Path, tokenizer=None) -> dict:
    """Write ``model_spec`` restricted to the vocabulary ids ``keep`` into the empty ``out_dir``.

    Every tensor whose first dimension is the vocabulary (input embeddings, tied or untied MLM
    decoder weight and bias) is row-sliced with the same index; ``vocab_size`` and every special
    token id in the config are remapped; the tokenizer is rewritten (:func:`trim_tokenizer_json`).
    For BPE the selection is first completed with the pieces its merges need
    (:func:`~monoglot.vocab.surgery.complete_selection`). A local single-file safetensors
    checkpoint is sliced tensor by tensor without building the model; otherwise through transformers.

    Args:
        model_spec: model directory, hub id or ``e5-small``.
        keep: sorted old ids to keep, shape ``(n,)`` int64.
        out_dir: an empty (or new) directory.
        tokenizer: the model's tokenizer, if already loaded.

    Returns:
        ``{"old_vocab_rows", "new_vocab_rows", "kept_ids"}`` (the completed selection).
    """
    path = resolve_model(model_spec)
    tok = tokenizer or load_tokenizer(path)
    tj = json.loads(tok.backend_tokenizer.to_str())
    keep = complete_selection(tj, keep)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    old_rows = _slice_checkpoint(Path(path), keep, out_dir) if Path(path).is_dir() else None
    if old_rows is None:
        old_rows = _slice_model(path, keep, out_dir)

    from transformers import PreTrainedTokenizerFast

    new_tok_json = out_dir / "tokenizer.json"
    new_tok_json.write_text(json.dumps(trim_tokenizer_json(tj, keep), ensure_ascii=False))
    specials = {k: v for k, v in tok.special_tokens_map.items() if isinstance(v, str)}
    new_tok = PreTrainedTokenizerFast(tokenizer_file=str(new_tok_json), model_max_length=tok.model_max_length, **specials)
    save_tokenizer(new_tok, out_dir)
    return {"old_vocab_rows": int(old_rows), "new_vocab_rows": int(len(keep)), "kept_ids": keep.tolist()}


UNK_WARN_RATE = 0.01  # warn when more than 1% of the corpus' tokens are unknown to the source tokenizer
MAX_UNK_RATE = 0.9  # refuse when nearly all are: the trimmed model would keep little more than special pieces
CURVE_SIZES = (1000, 2000, 5000, 10000, 20000, 30000, 50000, 100000)


def segmentation_changes(old_tok, new_tok, texts: Sequence[str]) -> dict[str, int]:
    """How many words of ``texts`` the trimmed tokenizer segments differently, or into an unknown piece.

    Words are the tokenizers' own pre-tokenized words (``word_ids``). Returns
    ``{"words", "words_changed", "words_unknown"}`` (counts of word occurrences).
    """
    old_b, new_b = old_tok.backend_tokenizer, new_tok.backend_tokenizer
    unk = new_tok.unk_token_id
    words = changed = unknown = 0
    for eo, en in zip(old_b.encode_batch(list(texts), add_special_tokens=False),
                      new_b.encode_batch(list(texts), add_special_tokens=False)):
        old_words: dict[int, list[str]] = {}
        new_words: dict[int, list[str]] = {}
        for w, t in zip(eo.word_ids, eo.tokens):
            old_words.setdefault(w, []).append(t)
        for w, t in zip(en.word_ids, en.tokens):
            new_words.setdefault(w, []).append(t)
        words += len(old_words)
        changed += sum(old_words[w] != new_words.get(w) for w in old_words)
        unknown += len({w for w, i in zip(en.word_ids, en.ids) if i == unk}) if unk is not None else 0
    return {"words": words, "words_changed": changed, "words_unknown": unknown}


def plot_coverage(counts, chosen: int, path: Path, names: Sequence[str]) -> None:
    """Write a PNG of token-occurrence coverage against vocabulary size (log scale), per corpus and in all."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    curves = [("all corpora", counts.total)] + ([(n, c) for n, c in zip(names, counts.per_corpus)] if len(names) > 1 else [])
    for label, c in curves:
        cov = coverage_curve(c[c > 0])
        ax.plot(np.arange(1, len(cov) + 1), 100 * cov, label=label)
    ax.axvline(chosen, color="grey", linestyle="--", label=f"kept: {chosen:,} pieces")
    ax.set_xscale("log")
    ax.set_xlabel("vocabulary size (most frequent pieces)")
    ax.set_ylabel("token occurrences covered (%)")
    ax.set_title("Vocabulary coverage")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def trim_to_corpus(model_spec: str | Path, corpora: Sequence[str | Path], out: str | Path,
                   policy: VocabPolicy | None = None, text_column: str = "text",
                   overwrite: bool = False, progress: bool = True) -> Path:
    """Count pieces on ``corpora``, select with ``policy``, and write the trimmed model to ``out``.

    Source: vocabulary trimming as in Gurgurov et al. 2025 (sec. 3.4) and Ansell et al. 2023 (BiStil,
    sec. 3.1, bilingual: pass a source and a target corpus); with ``min_count=1`` trimming is
    exact on the whole corpus. With ``policy.pieces_file`` the corpora may be empty.

    Written to ``out``: the model, the tokenizer, ``coverage.png`` (coverage against vocabulary
    size) and ``monoglot.json`` with pieces kept, token-occurrence coverage (in all and per
    corpus), the unknown-token rate, words whose segmentation changed or became unknown (on a
    sample of the corpus), parameters and bytes before/after, and seconds.

    Raises:
        BadInput: missing/empty corpus, a corpus that is not text or mostly unknown to the tokenizer
            (more than :data:`MAX_UNK_RATE` of its tokens), existing ``out``, bad policy,
            unsupported tokenizer.
    """
    from ..corpus import CorpusStats, iter_documents, iter_segments
    from ..progress import console, counter

    policy = policy or VocabPolicy()
    if not corpora and not policy.pieces_file:
        raise BadInput("trimming needs target text (--corpus) or a piece list (--pieces)")
    path = resolve_model(model_spec)
    check_new_output(out, overwrite)
    tok = load_tokenizer(path)
    t0 = time.perf_counter()
    cstats = CorpusStats()
    streams = [iter_segments(iter_documents(c, text_column=text_column, stats=cstats)) for c in corpora]
    with counter("counting pieces", unit="segments", enabled=progress) as tick:
        counts = count_pieces(tok, streams, progress=tick, doc_freq=policy.min_doc_freq is not None)
    t_count = time.perf_counter() - t0
    total_counts = counts.total
    total = int(total_counts.sum())
    unk_rate = float(total_counts[tok.unk_token_id] / total) if total and tok.unk_token_id is not None else 0.0
    if unk_rate > MAX_UNK_RATE:
        raise BadInput(f"{100 * unk_rate:.0f}% of the corpus' tokens are unknown to {model_spec}'s tokenizer: the teacher does not "
                       "cover this text (another script or not text at all); check the corpus, or choose a teacher that covers it")
    warnings = []
    if unk_rate > UNK_WARN_RATE:
        warnings.append(f"{100 * unk_rate:.1f}% of the corpus' tokens are unknown to {model_spec}'s tokenizer: "
                        "its script is poorly covered; trimming cannot fix that, choose a teacher that covers it")
        console.print(f"[yellow]warning:[/] {warnings[-1]}")
    keep = select_vocab(counts, tok, policy)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        info = trim_model(path, keep, tmp, tokenizer=tok)
        keep = np.array(info.pop("kept_ids"), dtype=np.int64)
        t_trim = time.perf_counter() - t0
        before, after = count_parameters(path), count_parameters(tmp)
        in_range = keep[keep < len(total_counts)]
        curve = coverage_curve(total_counts[total_counts > 0]) if total else np.zeros(0)
        sample = [s for c in corpora for s in itertools.islice(iter_segments(iter_documents(c, text_column=text_column)), 2000)]
        stats = {
            "pieces_before": len(tok), "pieces_kept": int(len(keep)), "token_occurrences": total,
            "coverage": float(total_counts[in_range].sum() / max(total, 1)),
            "coverage_per_corpus": {portable_path(c): float(pc[in_range].sum() / max(int(pc.sum()), 1)) for c, pc in zip(corpora, counts.per_corpus)},
            "coverage_curve": {str(n): round(float(curve[n - 1]), 6) for n in CURVE_SIZES if n <= len(curve)},
            "pieces_seen": int((total_counts > 0).sum()), "unk_rate": unk_rate, "warnings": warnings,
            "segmentation_sample": segmentation_changes(tok, load_tokenizer(tmp), sample) if sample else None,
            "corpus": cstats.as_dict(), "documents": counts.documents,
            "parameters_before": before, "parameters_after": after,
            "bytes_before": dir_bytes(path) if Path(path).is_dir() else None, "bytes_after": dir_bytes(tmp),
            "seconds_counting": round(t_count, 2), "seconds_counting_and_trimming": round(t_trim, 2), **info,
        }
        if total:
            plot_coverage(counts, len(keep), tmp / "coverage.png", [Path(c).name for c in corpora])
        stats["seconds_total"] = round(time.perf_counter() - t0, 2)
        write_meta(tmp, "trim", str(model_spec), {"corpora": [portable_path(c) for c in corpora], **policy.model_dump()}, stats,
                   corpus_files=corpus_files(corpora))
    return Path(out)
