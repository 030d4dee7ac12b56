#!/usr/bin/env python3
"""Trim a teacher's vocabulary to a corpus with TextPruner (PyPI ``textpruner``), offline.

Peer-tool side of the vocabulary-trimming benchmark. Runs in the peers' own environment
(see NOTES.md beside this file), never in monoglot's.

    python run_textpruner.py --model TEACHER_DIR --corpus a.txt --corpus b.tsv --out OUT_DIR

What it runs is TextPruner's documented Python API (there is no ``TokenizerPruner`` class in
textpruner 1.1.post2; the API is ``textpruner.VocabularyPruner``)::

    pruner = VocabularyPruner(model, tokenizer, VocabularyPruningConfig(min_count=...), GeneralConfig(...))
    pruner.prune(dataiter=list_of_texts, save_model=False)

then saves the trimmed model with ``save_pretrained`` (safetensors) and the tokenizer the way
TextPruner saves it (its ``tokenizer_helper.save_vocab``). TextPruner picks that helper by the
model's ``config.model_type``; for a ``bert`` model (multilingual-e5 is a BertModel with an
XLM-R SentencePiece tokenizer) that is ``SubwordTokenizer``, which writes a WordPiece-style
``vocab.txt`` of the kept pieces and no SentencePiece model / tokenizer.json: TextPruner never
updates a fast tokenizer. ``--tokenizer-output original`` instead saves the untouched original
tokenizer next to the trimmed model (what a user who calls ``tokenizer.save_pretrained`` would
get: a stale, full-size tokenizer.json whose ids no longer match the embedding rows).

Prints exactly one JSON line on stdout (all tool chatter goes to stderr):
    {"tool": "textpruner", "seconds": <counting + trimming>, "load_seconds": ..., "save_seconds": ...,
     "total_seconds": <from script start, imports included>, "pieces_kept": ..., "params": ..., ...}
Exit status 3 with {"tool": "textpruner", "error": "..."} when the tool cannot run offline /
is not installed; 1 on any other failure (also with an "error" JSON line).
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse
import contextlib
import sys
from pathlib import Path

from peer_io import EXIT_OFFLINE, emit, failer, read_documents

TOOL = "textpruner"
fail = failer(TOOL)


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, type=Path, help="local Hugging Face model directory (read only)")
    ap.add_argument("--corpus", required=True, type=Path, action="append",
                    help=".txt (one document per line), .tsv (header; --text-column) or .jsonl; optionally .gz; repeatable")
    ap.add_argument("--out", required=True, type=Path, help="output directory (created)")
    ap.add_argument("--text-column", default="text", help="column of .tsv / field of .jsonl corpora (default: text)")
    ap.add_argument("--min-count", type=int, default=1,
                    help="keep pieces seen at least this often (TextPruner's VocabularyPruningConfig.min_count; default 1)")
    ap.add_argument("--tokenizer-output", choices=["textpruner", "original"], default="textpruner",
                    help="textpruner: the tokenizer files TextPruner writes (default); "
                         "original: tokenizer.save_pretrained of the unmodified tokenizer (stale)")
    args = ap.parse_args()

    try:
        with contextlib.redirect_stdout(sys.stderr):
            import torch
            import transformers
            from transformers import AutoModel, AutoTokenizer
            import textpruner
            from textpruner import GeneralConfig, VocabularyPruner, VocabularyPruningConfig
    except ImportError as e:
        fail(f"cannot import {TOOL} or its dependencies: {e!r}", EXIT_OFFLINE)

    docs = read_documents(args.corpus, args.text_column, fail)

    # -- load (timed separately)
    t_load = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        model = AutoModel.from_pretrained(str(args.model))
        model.eval()
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(args.model))
            tokenizer_note = None
        except (ValueError, OSError) as e:
            # transformers 4.x cannot read a transformers-5 tokenizer_config ("TokenizersBackend");
            # the tokenizer.json itself is fine, so load it with the class named in config.json.
            cls_name = getattr(model.config, "tokenizer_class", None) or "PreTrainedTokenizerFast"
            cls = getattr(transformers, cls_name)
            tokenizer = cls.from_pretrained(str(args.model))
            tokenizer_note = f"AutoTokenizer failed ({type(e).__name__}: {e}); loaded with {cls_name}"
    load_seconds = time.perf_counter() - t_load
    rows_before = model.get_input_embeddings().weight.shape[0]
    params_before = sum(p.numel() for p in model.parameters())

    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()

    # -- counting + trimming: exactly the tool's API
    t_trim = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        pruner = VocabularyPruner(
            model, tokenizer,
            vocabulary_pruning_config=VocabularyPruningConfig(min_count=args.min_count, prune_lm_head="auto"),
            general_config=GeneralConfig(use_device="cpu", output_dir=str(out)),
        )
        pruner.prune(dataiter=docs, save_model=False)
    seconds = time.perf_counter() - t_trim
    kept_ids = list(pruner.pruned_token_ids)

    # -- save: model via save_pretrained; tokenizer as TextPruner writes it (or the stale original)
    t_save = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        base = pruner.base_model
        # what VocabularyPruner.save_model does before saving (t5/mt5 aside)
        base.config.vocab_size = len(kept_ids)
        model.save_pretrained(str(out))
        if args.tokenizer_output == "textpruner":
            pruner.tokenizer_helper.save_vocab(tokenizer, kept_ids, str(out))
        else:
            tokenizer.save_pretrained(str(out))
    save_seconds = time.perf_counter() - t_save

    written = sorted(p.name for p in out.iterdir())
    emit({
        "tool": TOOL,
        "seconds": round(seconds, 3),
        "load_seconds": round(load_seconds, 3),
        "save_seconds": round(save_seconds, 3),
        "total_seconds": round(time.perf_counter() - _T0, 3),
        "version": getattr(textpruner, "__version__", "?"),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "documents": len(docs),
        "min_count": args.min_count,
        "model_type": pruner.model_type,
        "tokenizer_helper": pruner.tokenizer_helper.__name__,
        "tokenizer_output": args.tokenizer_output,
        "tokenizer_note": tokenizer_note,
        "pieces_kept": len(kept_ids),
        "rows_before": rows_before,
        "rows_after": model.get_input_embeddings().weight.shape[0],
        "params_before": params_before,
        "params": sum(p.numel() for p in model.parameters()),
        "out": str(out),
        "files": written,
    })


if __name__ == "__main__":
    main()
