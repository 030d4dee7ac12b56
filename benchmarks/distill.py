"""Distillation throughput and model FLOPs utilisation (MFU) on this machine, in one run.

Measures, at the same thread count:
1. the peak fp32 matmul throughput (FLOP/s): the best of repeated square ``torch.mm``;
2. distillation of e5-small, trimmed to Swahili, into a 4L-256 student (8 heads, FFN 1024) at
   sequence length 128 with the default losses (hidden-state MSE over the layer map + last-layer
   attention KL): tokens/s, and MFU = analytic model FLOPs per token x tokens/s / peak;
3. where the time goes (``seconds_by_phase`` of the run: data, teacher forward, student forward +
   loss, student backward, optimizer; validation, logging and start-up are left out);
4. side by side, the same run with the student's own dropout (0.1), which monoglot switches off
   by default: the waste this benchmark found.

Model FLOPs per token count the matmuls the method needs (2 FLOPs per multiply-add): the teacher's
forward (12 layers) plus the student's forward and backward (3x forward) and the projection;
the attention recomputation for the attention loss counts as overhead, not as model FLOPs.

Usage: python benchmarks/distill.py [--steps 30] [--batch-size 16] [--threads 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from monoglot.distill import DistillSettings, distill
from monoglot.paths import data_root
from monoglot.shrink import shrink_to_dir
from monoglot.teachers import resolve_model
from monoglot.vocab import VocabPolicy, trim_to_corpus


def peak_matmul_flops(n: int = 2048, repeats: int = 10) -> float:
    """Best observed fp32 FLOP/s of ``(n, n) @ (n, n)`` at the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def layer_flops(hidden: int, ffn: int, seq_len: int) -> int:
    """Forward matmul FLOPs per token of one encoder layer: Q, K, V, O projections, FFN, and the
    two attention products (scores and weighted values) over ``seq_len`` keys."""
    return 2 * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * 2 * seq_len * hidden


def model_flops_per_token(t_cfg, s_cfg, seq_len: int) -> dict[str, int]:
    teacher = t_cfg.num_hidden_layers * layer_flops(t_cfg.hidden_size, t_cfg.intermediate_size, seq_len)
    student = s_cfg.num_hidden_layers * layer_flops(s_cfg.hidden_size, s_cfg.intermediate_size, seq_len)
    proj = 2 * s_cfg.hidden_size * t_cfg.hidden_size * (s_cfg.num_hidden_layers + 1)
    return {"teacher forward": teacher, "student forward+backward": 3 * (student + proj)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compare-dropout", action=argparse.BooleanOptionalAction, default=True,
                    help="also run with the student's own dropout, side by side")
    ap.add_argument("--work", default=None, help="directory for the trimmed teacher and the student (default: a temporary one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = data_root(args.data)
    work = Path(args.work or tempfile.mkdtemp(prefix="monoglot-bench-"))
    corpora = [root / "corpora" / "swa" / "maneno_yetu.txt", root / "corpora" / "swa" / "bible_suv.tsv"]
    trimmed, init = work / "e5-swa", work / "student-init"
    if not trimmed.is_dir():
        trim_to_corpus(resolve_model("e5-small"), corpora, trimmed, VocabPolicy(), progress=False)
    if not init.is_dir():
        shrink_to_dir(trimmed, init, layers=4, hidden=256, ffn=1024, head_strategy="first", ffn_strategy="first",
                      hidden_strategy="pca", corpora=corpora[:1], measure=None, progress=False)

    from transformers import AutoConfig

    fl = model_flops_per_token(AutoConfig.from_pretrained(trimmed), AutoConfig.from_pretrained(init), args.seq_len)
    configs = {"monoglot default (dropout off)": {}}
    if args.compare_dropout:
        configs["with the model's dropout 0.1"] = {"dropout": None}
    peak = peak_matmul_flops()
    rows = {}
    for name, extra in configs.items():
        s = DistillSettings(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, val_batches=1,
                            checkpoint_every=0, text_column="text", **extra)
        out = work / f"student-{time.strftime('%H%M%S')}"
        distill(trimmed, init, corpora[:1], out, s, progress=False)
        rows[name] = json.loads((out / "monoglot.json").read_text())["stats"]
    peak = max(peak, peak_matmul_flops())  # measured before and after: the machine's speed drifts
    print(f"threads {args.threads}; peak fp32 matmul {peak / 1e9:.1f} GFLOP/s")
    print("model FLOPs per token: " + ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in fl.items()) + f"; total {sum(fl.values()) / 1e6:.1f}M")
    print()
    print("| run | steps | batch x seq | tokens/s | model GFLOP/s | MFU |")
    print("|---|---|---|---|---|---|")
    for name, st in rows.items():
        tok_s = st["tokens"] / sum(st["seconds_by_phase"].values())
        print(f"| {name} | {st['steps_run']} | {args.batch_size} x {args.seq_len} | {tok_s:,.0f} | "
              f"{sum(fl.values()) * tok_s / 1e9:.1f} | {100 * sum(fl.values()) * tok_s / peak:.1f}% |")
    print()
    names = list(rows)
    print("| phase | " + " | ".join(f"s ({n})" for n in names) + " | share (default) |")
    print("|---|" + "---|" * (len(names) + 1))
    st0 = rows[names[0]]
    train_s = sum(st0["seconds_by_phase"].values())
    for k, v in sorted(st0["seconds_by_phase"].items(), key=lambda kv: -kv[1]):
        print(f"| {k} | " + " | ".join(f"{rows[n]['seconds_by_phase'].get(k, 0):.2f}" for n in names) + f" | {100 * v / train_s:.1f}% |")
    print("\n(tokens/s over the training steps; validation, start-up and saving excluded)")


if __name__ == "__main__":
    main()
