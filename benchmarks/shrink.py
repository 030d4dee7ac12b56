"""Importance-based vs random (and first-k) structured pruning of the real e5-small on Swahili.

For each target shape and strategy set, shrink e5-small (no distillation) and print the relative
hidden-state error of the student's last layer against the teacher's on held-out Swahili text
(``monoglot.shrink.hidden_state_error``; 0 = identical), plus the time to choose. Importance is
scored on the Swahili Bible, the error is measured on the Maneno Yetu corpus.

Usage: python benchmarks/shrink.py [--data ../shared/data] [--sequences 32] [--held-out 32]
"""

from __future__ import annotations

import argparse
import time

import torch

from monoglot.paths import data_root
from monoglot.shrink import ShrinkSettings, hidden_state_error, plan_shrink, shrink_model
from monoglot.shrink.importance import text_batches
from monoglot.teachers import load_tokenizer, resolve_model
from monoglot.teachers.loader import load_saved_architecture

SHAPES = {"12L-384-12h-768": dict(ffn=768), "12L-256-8h-1024": dict(hidden=256, ffn=1024),
          "4L-256-8h-1024": dict(layers=4, hidden=256, ffn=1024)}
STRATEGIES = {
    "importance (hidden: CoFi mask)": dict(head_strategy="importance", ffn_strategy="taylor", hidden_strategy="importance"),
    "importance (hidden: PCA)": dict(head_strategy="importance", ffn_strategy="taylor", hidden_strategy="pca"),
    "random": dict(head_strategy="random", ffn_strategy="random", hidden_strategy="random"),
    "first-k (truncation)": dict(head_strategy="first", ffn_strategy="first", hidden_strategy="truncate"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--sequences", type=int, default=32, help="scoring sequences of 128 tokens")
    ap.add_argument("--held-out", type=int, default=32, help="held-out sequences of 128 tokens")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = data_root(args.data)
    path = resolve_model("e5-small")
    model, tok = load_saved_architecture(path), load_tokenizer(path)
    score_text = [root / "corpora" / "swa" / "bible_suv.tsv"]
    held = text_batches(tok, [root / "corpora" / "swa" / "maneno_yetu.txt"], args.held_out, 128)
    print("| shape | layers | strategy | hidden-state error | seconds |\n|---|---|---|---|---|")
    for shape_name, shape in SHAPES.items():
        layer_strategies = ["stride", "importance"] if "layers" in shape else ["all"]
        for ls in layer_strategies:
            for name, strategies in STRATEGIES.items():
                if "hidden" not in shape and name != "importance (hidden: CoFi mask)" and name not in ("random", "first-k (truncation)"):
                    continue
                t0 = time.perf_counter()
                s = ShrinkSettings(**shape, **strategies, layer_strategy="stride" if ls == "all" else ls,
                                   importance_sequences=args.sequences)
                plan, _ = plan_shrink(model, s, tok, score_text)
                dt = time.perf_counter() - t0
                err = hidden_state_error(model, shrink_model(model, plan), plan, held)
                label = name if "hidden" in shape else name.replace(" (hidden: CoFi mask)", "")
                print(f"| {shape_name} | {ls if ls != 'all' else '12 of 12'} {plan.layers if ls != 'all' else ''} | {label} | {err:.4f} | {dt:.1f} |", flush=True)


if __name__ == "__main__":
    main()
