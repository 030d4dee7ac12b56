"""Distillation throughput and model FLOPs utilisation (MFU) on this machine, in one run.

Measures, at the same thread count:
1. the peak fp32 matmul throughput (FLOP/s): the best of repeated square ``torch.mm``;
2. distillation of e5-small, trimmed to Swahili, into a 4L-256 student (8 heads, FFN 1024) at
   sequence length 128 with the default losses (hidden-state MSE over the layer map + last-layer
   attention KL; with ``--sentence-batch-size N`` also the demo recipe's sentence losses, embedding
   MSE and in-batch contrastive on N length-grouped corpus sentences per step): tokens/s, and
   MFU = analytic model FLOPs per token x tokens/s / peak (of the chunks: sentence tokens count in
   tokens/s but their FLOPs are not modelled);
3. where the time goes (``seconds_by_phase`` of the run: data, teacher forward, student forward +
   loss, student backward, optimizer; validation, logging and start-up are left out);
4. side by side, fp32 against bf16 (the teacher in bf16, the student under bf16 autocast with fp32
   master weights) and against bf16-teacher (only the frozen teacher's forward in bf16; see
   monoglot.distill.precision): tokens/s and the validation loss of each, and what
   ``precision="auto"`` picks on this CPU;
5. optionally (--compare-dropout), the same run with the student's own dropout (0.1), which
   monoglot switches off by default.

Model FLOPs per token count the matmuls the method needs (2 FLOPs per multiply-add): the teacher's
forward (12 layers) plus the student's forward and backward (3x forward) and the projection;
the attention recomputation for the attention loss counts as overhead, not as model FLOPs.

Usage: python benchmarks/distill.py [--steps 30] [--batch-size 16] [--sentence-batch-size 64] [--threads 2] [--work DIR] [--compare-dropout]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from monoglot.distill import DistillSettings, LossWeights, distill
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


def interleaved_step_seconds(teacher_dir: Path, student_dir: Path, batch: int, seq_len: int, repeats: int) -> dict[str, list[float]]:
    """Seconds of one distillation step's compute (teacher forward, student forward + backward of a
    hidden-state MSE on the last layer), fp32, bf16 and bf16-teacher in turn ``repeats`` times, on
    one random batch: on a shared machine the load drifts, and alternating spreads the drift over all.

    As in monoglot.distill.precision: bf16 is a bf16 copy of the teacher and the student (fp32
    weights) under ``torch.autocast("cpu", torch.bfloat16)``; bf16-teacher the same teacher with the
    student in plain fp32."""
    from monoglot.teachers.loader import load_saved_architecture

    t32 = load_saved_architecture(teacher_dir).eval()
    t16 = load_saved_architecture(teacher_dir).eval().to(torch.bfloat16)
    student = load_saved_architecture(student_dir).train()
    proj = torch.nn.Linear(student.config.hidden_size, t32.config.hidden_size)
    ids = torch.randint(5, t32.config.vocab_size, (batch, seq_len), generator=torch.Generator().manual_seed(0))

    def step(teacher, bf16: bool) -> float:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            with torch.inference_mode():
                target = teacher.base_model(input_ids=ids).last_hidden_state.float()
            out = proj(student.base_model(input_ids=ids).last_hidden_state)
            loss = (out.float() - target.clone()).pow(2).mean()
        loss.backward()
        student.zero_grad(set_to_none=True)
        return time.perf_counter() - t

    runs = {"fp32": (t32, False), "bf16": (t16, True), "bf16-teacher": (t16, False)}
    for teacher, autocast in runs.values():  # warm-up (oneDNN kernel selection)
        step(teacher, autocast)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for k, (teacher, autocast) in runs.items():
            times[k].append(step(teacher, autocast))
    return times


def train_seconds(stats: dict) -> float:
    """Seconds of a run's training steps: its ``seconds_by_phase`` less validation."""
    return sum(v for k, v in stats["seconds_by_phase"].items() if k != "validation")


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
    ap.add_argument("--sentence-batch-size", type=int, default=0,
                    help="also the sentence losses (embedding + contrastive) on this many corpus sentences per step, as the demo recipe")
    ap.add_argument("--compare-precision", action=argparse.BooleanOptionalAction, default=True,
                    help="run fp32, bf16 and bf16-teacher side by side")
    ap.add_argument("--interleaved", type=int, default=8, help="fp32/bf16/bf16-teacher step timings alternated this many times (0: skip)")
    ap.add_argument("--compare-dropout", action=argparse.BooleanOptionalAction, default=False,
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
    configs = {"fp32": {"precision": "no"}}
    if args.compare_precision:
        configs["bf16"] = {"precision": "bf16"}
        configs["bf16-teacher"] = {"precision": "bf16-teacher"}
    if args.compare_dropout:
        configs["fp32, the model's dropout 0.1"] = {"precision": "no", "dropout": None}
    peak = peak_matmul_flops()
    inter = interleaved_step_seconds(trimmed, init, args.batch_size, args.seq_len, args.interleaved) if args.interleaved else None
    rows = {}
    for name, extra in configs.items():
        if args.sentence_batch_size:
            extra = {**extra, "sentence_batch_size": args.sentence_batch_size, "group_by_length": True,
                     "loss": LossWeights(hidden=1, attention=1, embedding=1, contrastive=1), "hidden_projection": "pca"}
        s = DistillSettings(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, val_batches=1,
                            checkpoint_every=0, text_column="text", **extra)
        out = work / f"student-{time.strftime('%H%M%S')}"
        distill(trimmed, init, corpora[:1], out, s, progress=False)
        rows[name] = json.loads((out / "monoglot.json").read_text())["stats"]
    peak = max(peak, peak_matmul_flops())  # measured before and after: the machine's speed drifts
    from monoglot.distill.precision import cpu_flags, cpu_model, resolve_precision

    bf16_flags = [f for f in ("amx_bf16", "avx512_bf16") if f in cpu_flags()]
    print(f"CPU: {cpu_model()}; bf16 flags: {', '.join(bf16_flags) or 'none'}; precision auto -> {resolve_precision('auto')}")
    print(f"threads {args.threads}; peak fp32 matmul {peak / 1e9:.1f} GFLOP/s; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print("model FLOPs per token: " + ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in fl.items()) + f"; total {sum(fl.values()) / 1e6:.1f}M")
    print()
    print("| run | steps | batch x seq | tokens/s | x fp32 | model GFLOP/s | MFU (fp32 peak) | val loss after | vs fp32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = rows["fp32"]
    base_tok = base["tokens"] / train_seconds(base)
    base_val = sum(base["val_loss_after"].values()) / len(base["val_loss_after"])
    for name, st in rows.items():
        tok_s = st["tokens"] / train_seconds(st)
        val = sum(st["val_loss_after"].values()) / len(st["val_loss_after"])
        print(f"| {name} | {st['steps_run']} | {args.batch_size} x {args.seq_len} | {tok_s:,.0f} | {tok_s / base_tok:.2f}x | "
              f"{sum(fl.values()) * tok_s / 1e9:.1f} | {100 * sum(fl.values()) * tok_s / peak:.1f}% | {val:.4f} | {100 * (val - base_val) / base_val:+.2f}% |")
    if inter:
        import statistics

        med = {k: statistics.median(v) for k, v in inter.items()}
        print(f"\ninterleaved step compute (teacher forward + student forward/backward, {args.batch_size} x {args.seq_len}, "
              f"{args.interleaved} alternations, median): fp32 {med['fp32']:.3f} s = {args.batch_size * args.seq_len / med['fp32']:,.0f} tokens/s")
        for k in ("bf16", "bf16-teacher"):
            print(f"  {k}: {med[k]:.3f} s = {args.batch_size * args.seq_len / med[k]:,.0f} tokens/s, {med['fp32'] / med[k]:.2f}x fp32; "
                  f"per alternation: " + ", ".join(f"{a / b:.2f}" for a, b in zip(inter["fp32"], inter[k])))
    print()
    names = list(rows)
    print("| phase | " + " | ".join(f"s ({n})" for n in names) + " | share of training (fp32) |")
    print("|---|" + "---|" * (len(names) + 1))
    st0 = rows[names[0]]
    train_s = train_seconds(st0)
    for k, v in sorted(st0["seconds_by_phase"].items(), key=lambda kv: -kv[1]):
        share = f"{100 * v / train_s:.1f}%" if k != "validation" else "(not training)"
        print(f"| {k} | " + " | ".join(f"{rows[n]['seconds_by_phase'].get(k, 0):.2f}" for n in names) + f" | {share} |")
    print("\n(tokens/s over the training steps; validation, start-up and saving excluded)")


if __name__ == "__main__":
    main()
