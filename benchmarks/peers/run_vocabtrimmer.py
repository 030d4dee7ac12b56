#!/usr/bin/env python3
"""Trim a teacher's vocabulary to a corpus with vocabtrimmer (PyPI ``vocabtrimmer``), offline.

Peer-tool side of the vocabulary-trimming benchmark. Runs in the peers' own environment
(see NOTES.md beside this file), never in monoglot's.

    python run_vocabtrimmer.py --model TEACHER_DIR --corpus a.txt --corpus b.tsv --out OUT_DIR

What it runs is vocabtrimmer's own API, the same calls its CLI ``vocabtrimmer-trimming`` makes::

    trimmer = vocabtrimmer.VocabTrimmer(model_dir)
    trimmer.trim_vocab(path_to_save=out, language=..., dataset=<local folder>, dataset_split="train",
                       dataset_column="text", min_frequency=..., cache_file_*=<fresh temp files>)

Offline: ``VocabTrimmer`` accepts a local model directory, and ``trim_vocab``'s corpus goes
through ``datasets.load_dataset(dataset, dataset_name, split=dataset_split)``, which reads a
*local folder* of .txt files with the packaged ``text`` builder (one example per line, column
``text``) without the hub. So this script writes the documents (one per line) to
``<tmp>/corpus/corpus.txt`` and passes that folder; nothing is downloaded
(HF_HUB_OFFLINE=1, HF_DATASETS_OFFLINE=1). ``trim_vocab`` saves the result itself with
``model.save_pretrained`` + ``tokenizer.save_pretrained`` into --out.

Adjustments it needs (each reported in the JSON line, none changes what the tool computes):

* ``VocabTrimmer.__init__`` only accepts ``config.architectures[0]`` ending in ``MaskedLM``,
  ``TokenClassification`` or ``SequenceClassification`` and raises
  ``ValueError("model type ['BertModel'] is not supported.")`` otherwise. The script copies the
  teacher's small files into a temp folder (weights are symlinked, never written), sets
  ``architectures`` to ``<Prefix>ForMaskedLM`` there, and the tool loads it with
  ``AutoModelForMaskedLM`` (the MLM head it lacks is randomly initialised and saved as well; the
  encoder is the teacher's).
* transformers < 5 cannot read a transformers-5 tokenizer_config.json
  (``"tokenizer_class": "TokenizersBackend"``): in the copy it is set to the class named in
  config.json (``XLMRobertaTokenizerFast``).
* transformers >= 5 (needs huggingface_hub >= 1) breaks vocabtrimmer 0.0.2 twice:
  ``from huggingface_hub import Repository`` (removed in huggingface_hub 1.0; used only by
  ``push_to_hub``) and ``tokenizer.additional_special_tokens`` (removed in transformers 5).
  Under transformers >= 5 the script adds a ``Repository = None`` placeholder and an
  ``additional_special_tokens`` property returning the tokenizer's extra special tokens
  (empty for XLM-R). Under transformers 4.x + huggingface_hub < 1 no shim is used.
* Its default ``min_frequency`` is 2; this script defaults to 1 (``--min-frequency``) so that
  every piece of the corpus is kept, as TextPruner's ``min_count=1`` does.
* Its frequency/vocab caches default to ``~/.cache/vocabtrimmer`` and are reused across runs
  (``overwrite`` only covers the vocab cache); the script passes fresh temp files so every run
  really counts.

Prints exactly one JSON line on stdout (all tool chatter goes to stderr):
    {"tool": "vocabtrimmer", "seconds": <trim_vocab: counting + trimming + its two saves>,
     "load_seconds": ..., "total_seconds": <from script start>, "pieces_kept": ..., "params": ...}
Exit status 3 with {"tool": "vocabtrimmer", "error": "..."} when the tool cannot run offline /
is not installed; 1 on any other failure.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from peer_io import EXIT_OFFLINE, emit, failer, read_documents

TOOL = "vocabtrimmer"
SUPPORTED_HEADS = ("MaskedLM", "TokenClassification", "SequenceClassification")
fail = failer(TOOL)


# ---------------------------------------------------------------- teacher copy + compat

def prepare_model_copy(src: Path, dst: Path, transformers_major: int) -> list[str]:
    """Copy the teacher's small files to ``dst`` (weights symlinked) and make vocabtrimmer accept it."""
    notes: list[str] = []
    dst.mkdir(parents=True)
    for p in src.iterdir():
        if p.is_file():
            if p.suffix in (".safetensors", ".bin") or p.stat().st_size > 64 * 2**20:
                os.symlink(p.resolve(), dst / p.name)
            else:
                shutil.copy2(p, dst / p.name)
    cfg_path = dst / "config.json"
    cfg = json.loads(cfg_path.read_text())
    arch = (cfg.get("architectures") or ["?"])[0]
    if not arch.endswith(SUPPORTED_HEADS):
        prefix = arch[:-len("Model")] if arch.endswith("Model") else arch
        new_arch = f"{prefix}ForMaskedLM"
        cfg["architectures"] = [new_arch]
        cfg_path.write_text(json.dumps(cfg, indent=2))
        notes.append(f"config.architectures {arch} -> {new_arch} in a temp copy "
                     f"(VocabTrimmer raises ValueError for architectures not ending in {'/'.join(SUPPORTED_HEADS)})")
    tc_path = dst / "tokenizer_config.json"
    if transformers_major < 5 and tc_path.exists():
        tc = json.loads(tc_path.read_text())
        if tc.get("tokenizer_class") == "TokenizersBackend":
            tc["tokenizer_class"] = cfg.get("tokenizer_class") or "PreTrainedTokenizerFast"
            tc.pop("backend", None)
            tc_path.write_text(json.dumps(tc, indent=2))
            notes.append(f"tokenizer_config.tokenizer_class TokenizersBackend -> {tc['tokenizer_class']} in the copy "
                         "(transformers 4.x does not know the transformers-5 class)")
    return notes


def apply_v5_shims() -> list[str]:
    notes: list[str] = []
    import huggingface_hub
    if not hasattr(huggingface_hub, "Repository"):
        huggingface_hub.Repository = None  # only used by VocabTrimmer.push_to_hub
        notes.append("shim: huggingface_hub.Repository placeholder (removed in huggingface_hub>=1.0; used only by push_to_hub)")
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase
    try:
        has = "additional_special_tokens" in dir(PreTrainedTokenizerBase)
    except Exception:
        has = False
    if not has:
        def _additional_special_tokens(self):
            extra = getattr(self, "extra_special_tokens", None) or []
            if isinstance(extra, dict):
                extra = list(extra.values())
            return [str(t) for t in extra]
        PreTrainedTokenizerBase.additional_special_tokens = property(_additional_special_tokens)
        notes.append("shim: tokenizer.additional_special_tokens property (removed in transformers 5) -> extra_special_tokens")
    return notes


def count_params(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    base = getattr(model, getattr(model, "base_model_prefix", ""), model)
    return total, sum(p.numel() for p in base.parameters())


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, type=Path, help="local Hugging Face model directory (read only)")
    ap.add_argument("--corpus", required=True, type=Path, action="append",
                    help=".txt (one document per line), .tsv (header; --text-column) or .jsonl; optionally .gz; repeatable")
    ap.add_argument("--out", required=True, type=Path, help="output directory (created)")
    ap.add_argument("--text-column", default="text", help="column of .tsv / field of .jsonl corpora (default: text)")
    ap.add_argument("--language", default="sw", help="language code passed to trim_vocab (only a label offline)")
    ap.add_argument("--min-frequency", type=int, default=1,
                    help="keep pieces seen at least this often (vocabtrimmer's own default is 2; default here 1)")
    ap.add_argument("--chunk", type=int, default=500, help="documents per tokenizer batch (vocabtrimmer default 500)")
    ap.add_argument("--workdir", type=Path, default=None, help="temp folder (default: a fresh one, removed at the end)")
    args = ap.parse_args()

    own_tmp = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="vocabtrimmer_")) if own_tmp else args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    # fresh Arrow cache (no reuse across runs, nothing left in ~/.cache); must be set before `import datasets`
    os.environ["HF_DATASETS_CACHE"] = str(work / "hf_datasets_cache")
    try:
        run(args, work)
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import torch
            import transformers
            import datasets  # noqa: F401  (vocabtrimmer imports it but does not declare it)
    except ImportError as e:
        fail(f"cannot import vocabtrimmer's dependencies: {e!r}", EXIT_OFFLINE)
    major = int(transformers.__version__.split(".")[0])
    notes: list[str] = []
    if major >= 5:
        notes += apply_v5_shims()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import vocabtrimmer
    except ImportError as e:
        fail(f"cannot import {TOOL}: {e!r}", EXIT_OFFLINE)

    docs = read_documents(args.corpus, args.text_column, fail)

    corpus_dir = work / "corpus"
    corpus_dir.mkdir()
    with open(corpus_dir / "corpus.txt", "w", encoding="utf-8") as f:
        for d in docs:
            f.write(" ".join(d.splitlines()) + "\n")
    model_copy = work / "model"
    notes += prepare_model_copy(args.model.resolve(), model_copy, major)

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    # -- load (timed separately): VocabTrimmer.__init__ loads tokenizer, config and model
    t_load = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        trimmer = vocabtrimmer.VocabTrimmer(str(model_copy))
    load_seconds = time.perf_counter() - t_load
    rows_before = trimmer.model.get_input_embeddings().weight.shape[0]

    # -- counting (datasets + tokenizer) + trimming + the tool's own save_pretrained calls
    t_trim = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            trimmer.trim_vocab(
                path_to_save=str(out),
                language=args.language,
                dataset=str(corpus_dir),
                dataset_name=None,
                dataset_split="train",
                dataset_column="text",
                min_frequency=args.min_frequency,
                chunk=args.chunk,
                cache_file_vocab=str(work / "cache" / "vocab.json"),
                cache_file_frequency=str(work / "cache" / "frequency.json"),
                overwrite=True,
            )
    except (ConnectionError, OSError) as e:
        if "offline" in str(e).lower() or "hub" in str(e).lower() or "connect" in str(e).lower():
            fail(f"trim_vocab needs the network: {type(e).__name__}: {e}", EXIT_OFFLINE)
        raise
    seconds = time.perf_counter() - t_trim

    total, base = count_params(trimmer.model)
    emit({
        "tool": TOOL,
        "seconds": round(seconds, 3),
        "load_seconds": round(load_seconds, 3),
        "total_seconds": round(time.perf_counter() - _T0, 3),
        "seconds_includes": "datasets text-folder load + tokenizer counting + trimming + save/reload + final save (all inside trim_vocab)",
        "version": getattr(vocabtrimmer, "__version__", None) or _dist_version("vocabtrimmer"),
        "transformers": transformers.__version__,
        "huggingface_hub": _dist_version("huggingface_hub"),
        "datasets": _dist_version("datasets"),
        "torch": torch.__version__,
        "documents": len(docs),
        "min_frequency": args.min_frequency,
        "pieces_kept": len(trimmer.tokenizer),
        "rows_before": rows_before,
        "rows_after": trimmer.model.get_input_embeddings().weight.shape[0],
        "params_saved_model": total,
        "params": base,
        "saved_architecture": type(trimmer.model).__name__,
        "adjustments": notes,
        "out": str(out),
        "files": sorted(p.name for p in out.iterdir()),
    })


def _dist_version(name: str):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


if __name__ == "__main__":
    main()
