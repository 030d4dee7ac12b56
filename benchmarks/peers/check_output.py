#!/usr/bin/env python3
"""Check a trimmed model directory against its original (peer-tool side of the trim benchmark).

    python check_output.py --original TEACHER_DIR --trimmed OUT_DIR --sentences FILE [--sentences FILE ...]

Run it with the Python of whichever environment should be able to load the output (the peers'
or monoglot's). Prints one JSON line:

* ``loads_model`` / ``loads_tokenizer`` (+ ``*_error``): ``AutoModel.from_pretrained`` /
  ``AutoTokenizer.from_pretrained`` on the trimmed directory;
* ``tokenizer_pieces`` (``len(tokenizer)``), ``tokenizer_json_pieces`` (pieces in the model of
  tokenizer.json, if present), ``vocab_txt_pieces`` (if a vocab.txt is present), ``rows``
  (embedding rows), ``params`` (parameters of ``AutoModel``, pooler included when the class has one);
* over the sentences whose ORIGINAL tokenization uses only kept pieces (``covered``):
  ``tokenizer_same`` = the trimmed tokenizer gives the same pieces as the original one
  (ids mapped through the kept-piece list), ``hidden_identical_mapped_ids`` = the trimmed model fed
  the mapped ids gives bit-identical last hidden states (``torch.equal``), ``hidden_identical_end_to_end``
  = same with the trimmed tokenizer's own ids.

The kept-piece list (new id -> piece) is read from tokenizer.json when its size matches the
embedding rows, else from vocab.txt (TextPruner's output for ``bert`` models).
Sentences: .txt (one per line) or .tsv with a ``text`` column (--text-column); the first --n
non-empty ones of each file are used, cut to --max-words words.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402


def load_tokenizer(path: str):
    try:
        return AutoTokenizer.from_pretrained(path), None
    except Exception as e:  # transformers 4.x on a transformers-5 tokenizer_config, etc.
        err = f"{type(e).__name__}: {e}"
        cfg = json.loads((Path(path) / "config.json").read_text())
        cls = getattr(transformers, cfg.get("tokenizer_class") or "PreTrainedTokenizerFast", None)
        if cls is not None and (Path(path) / "tokenizer.json").exists():
            try:
                return cls.from_pretrained(path), err
            except Exception:
                pass
        return None, err


def read_sentences(paths: list[Path], n: int, max_words: int, text_column: str) -> list[str]:
    out: list[str] = []
    for p in paths:
        got = 0
        with open(p, encoding="utf-8", errors="replace", newline="") as f:
            if p.suffix == ".tsv":
                csv.field_size_limit(2**31 - 1)
                rows = csv.reader(f, delimiter="\t")
                header = next(rows)
                col = header.index(text_column)
                it = (r[col] for r in rows if len(r) > col)
            else:
                it = iter(f)
            for line in it:
                words = line.split()
                if not words:
                    continue
                out.append(" ".join(words[:max_words]))
                got += 1
                if got >= n:
                    break
    return out


def kept_pieces(trimmed: Path, rows: int) -> tuple[list[str] | None, str]:
    tj = trimmed / "tokenizer.json"
    if tj.exists():
        vocab = json.loads(tj.read_text())["model"].get("vocab")
        if isinstance(vocab, list):
            pieces = [p for p, _ in vocab]
        elif isinstance(vocab, dict):
            pieces = [p for p, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
        else:
            pieces = None
        if pieces is not None and len(pieces) == rows:
            return pieces, "tokenizer.json"
    vt = trimmed / "vocab.txt"
    if vt.exists():
        pieces = vt.read_text(encoding="utf-8").split("\n")
        if pieces and pieces[-1] == "":
            pieces.pop()
        return pieces, "vocab.txt"
    return None, "none (no tokenizer.json matching the rows, no vocab.txt)"


@torch.no_grad()
def hidden(model, ids: list[int]) -> torch.Tensor:
    x = torch.tensor([ids])
    return model(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--original", required=True)
    ap.add_argument("--trimmed", required=True)
    ap.add_argument("--sentences", type=Path, action="append", required=True)
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--max-words", type=int, default=60)
    args = ap.parse_args()
    trimmed = Path(args.trimmed)
    res: dict = {"trimmed": str(trimmed.resolve()), "transformers": transformers.__version__,
                 "files": sorted(p.name for p in trimmed.iterdir())}

    orig_model = AutoModel.from_pretrained(args.original).eval()
    orig_tok, _ = load_tokenizer(args.original)

    try:
        model = AutoModel.from_pretrained(str(trimmed)).eval()
        res["loads_model"] = True
        res["model_class"] = type(model).__name__
        res["rows"] = model.get_input_embeddings().weight.shape[0]
        res["params"] = sum(p.numel() for p in model.parameters())
        res["config_vocab_size"] = model.config.vocab_size
    except Exception as e:
        model = None
        res["loads_model"] = False
        res["loads_model_error"] = f"{type(e).__name__}: {e}"[:500]
    try:
        tok = AutoTokenizer.from_pretrained(str(trimmed))
        res["loads_tokenizer"] = True
        res["tokenizer_class"] = type(tok).__name__
        res["tokenizer_pieces"] = len(tok)
    except Exception as e:
        tok = None
        res["loads_tokenizer"] = False
        res["loads_tokenizer_error"] = f"{type(e).__name__}: {e}"[:500]
    tj = trimmed / "tokenizer.json"
    if tj.exists():
        res["tokenizer_json_pieces"] = len(json.loads(tj.read_text())["model"]["vocab"])
    if (trimmed / "vocab.txt").exists():
        res["vocab_txt_pieces"] = sum(1 for _ in open(trimmed / "vocab.txt", encoding="utf-8"))
    if tok is not None:
        res["mask_token_id"] = tok.mask_token_id
        res["special_ids"] = {t: tok.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")}

    sentences = read_sentences(args.sentences, args.n, args.max_words, args.text_column)
    pieces, source = kept_pieces(trimmed, res.get("rows", -1))
    res["kept_piece_list_from"] = source
    res["sentences"] = len(sentences)
    if pieces is None or model is None or orig_tok is None:
        if model is not None and tok is not None and orig_tok is not None:
            # no kept-piece list: only the end-to-end check, over all sentences
            same = 0
            for s in sentences:
                try:
                    same += torch.equal(hidden(orig_model, orig_tok(s)["input_ids"]), hidden(model, tok(s)["input_ids"]))
                except Exception as e:
                    res.setdefault("end_to_end_error", f"{type(e).__name__}: {str(e)[:200]}")
            res["hidden_identical_end_to_end_all_sentences"] = same
        print(json.dumps(res, ensure_ascii=False))
        return
    new_id = {p: i for i, p in enumerate(pieces)}
    covered = tok_same = hid_mapped = hid_e2e = 0
    e2e_errors: list[str] = []
    examples: list[dict] = []
    for s in sentences:
        o_ids = orig_tok(s)["input_ids"]
        o_pieces = orig_tok.convert_ids_to_tokens(o_ids)
        if not all(p in new_id for p in o_pieces):
            continue
        covered += 1
        mapped = [new_id[p] for p in o_pieces]
        h0 = hidden(orig_model, o_ids)
        if torch.equal(h0, hidden(model, mapped)):
            hid_mapped += 1
        if tok is not None:
            t_ids = tok(s)["input_ids"]
            if t_ids == mapped:
                tok_same += 1
            elif len(examples) < 2:
                examples.append({"sentence": s[:80], "expected": mapped[:12], "got": t_ids[:12]})
            try:
                if torch.equal(h0, hidden(model, t_ids)):
                    hid_e2e += 1
            except Exception as e:
                if len(e2e_errors) < 1:
                    e2e_errors.append(f"{type(e).__name__}: {str(e)[:200]}")
    res.update({"covered": covered, "tokenizer_same": tok_same if tok is not None else None,
                "hidden_identical_mapped_ids": hid_mapped,
                "hidden_identical_end_to_end": hid_e2e if tok is not None else None})
    if examples:
        res["tokenizer_mismatch_examples"] = examples
    if e2e_errors:
        res["end_to_end_error"] = e2e_errors[0]
    print(json.dumps(res, ensure_ascii=False))


if __name__ == "__main__":
    main()
