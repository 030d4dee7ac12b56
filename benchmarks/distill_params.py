"""Parameters of a bilingual student against the vocabulary cap: which ``top_n`` keeps a student
at >= 92% fewer parameters than e5-small, and what each cap costs in coverage per language.

Counts the pieces of e5-small's tokenizer on the recipe's corpora once, then for each cap selects
the vocabulary exactly as ``monoglot trim`` does (:func:`monoglot.vocab.select.select_vocab`:
the ``top_n`` most frequent pieces plus the always-kept single characters and special tokens) and
counts the student's parameters from its configuration (embeddings, layers, pooler).
Coverage: the fraction of each corpus's token occurrences whose piece is kept (the rest become
shorter pieces or <unk>).

Usage: python benchmarks/distill_params.py [--caps 15000,20000,...] [--layers 4 --hidden 256 --ffn 1024]
"""

from __future__ import annotations

import argparse

import numpy as np


def student_params(vocab: int, layers: int, hidden: int, ffn: int, positions: int = 514, types: int = 1) -> int:
    """Parameters of a BERT/XLM-R encoder as saved (``AutoModel``): embeddings (word, position,
    type, LayerNorm) + per layer Q, K, V, O (with biases), FFN in/out (with biases), two LayerNorms
    + the pooler (``H x H`` dense with bias; e5-small's 117.65M and the demo's 10.19M count it)."""
    emb = (vocab + positions + types) * hidden + 2 * hidden
    layer = 4 * (hidden * hidden + hidden) + (hidden * ffn + ffn) + (ffn * hidden + hidden) + 4 * hidden
    return emb + layers * layer + hidden * hidden + hidden


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--caps", default="none,25000,23000,22000,20000,18000,15000,12000")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=1024)
    args = ap.parse_args()

    from monoglot.corpus import iter_documents
    from monoglot.paths import data_root
    from monoglot.teachers import load_encoder, load_tokenizer, resolve_model
    from monoglot.vocab import VocabPolicy
    from monoglot.vocab.count import count_pieces
    from monoglot.vocab.select import select_vocab

    root = data_root(args.data)
    teacher = resolve_model("e5-small")
    tok = load_tokenizer(teacher)
    cfg = load_encoder(teacher).config
    e5 = student_params(len(tok), cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size,
                        cfg.max_position_embeddings, cfg.type_vocab_size)
    corpora = {"swa": [root / "corpora/swa/maneno_yetu.txt", root / "corpora/swa/bible_suv.tsv"],
               "eng": [root / "corpora/eng/bible_web.txt"]}
    docs = [(d for p in ps for d in iter_documents(p, text_column="text")) for ps in corpora.values()]
    counts = count_pieces(tok, docs)
    print(f"e5-small: {e5 / 1e6:.2f}M parameters (vocabulary {len(tok):,}); 92% fewer = at most {0.08 * e5 / 1e6:.2f}M")
    print(f"student shape: {args.layers} layers, hidden {args.hidden}, FFN {args.ffn}\n")
    print("| top_n | pieces kept | parameters | fewer than e5-small | Swahili coverage | English coverage |")
    print("|---|---|---|---|---|---|")
    for cap in args.caps.split(","):
        policy = VocabPolicy(min_count=1, top_n=None if cap == "none" else int(cap))
        ids = select_vocab(counts, tok, policy)
        keep = np.zeros(len(tok), dtype=bool)
        keep[ids] = True
        n = student_params(len(ids), args.layers, args.hidden, args.ffn, cfg.max_position_embeddings, cfg.type_vocab_size)
        cov = [counts.per_corpus[i][keep].sum() / max(1, counts.per_corpus[i].sum()) for i in range(len(corpora))]
        print(f"| {cap} | {len(ids):,} | {n / 1e6:.2f}M | {100 * (1 - n / e5):.1f}% | {100 * cov[0]:.2f}% | {100 * cov[1]:.2f}% |")


if __name__ == "__main__":
    main()
