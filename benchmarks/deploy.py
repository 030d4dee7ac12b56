"""Deployment speed benchmark: a student-shaped model in PyTorch fp32/bf16 and ONNX (plain, fused, int8),
beside the teacher, measured side by side in one run.

The student is a random-initialised BERT of the shape ``monoglot shrink`` makes from e5-small
(4 layers, hidden 256, 8 heads, FFN 1024, 30k vocabulary; a 7-class sequence-classification head);
speed does not depend on the weights' values. The teacher is the real e5-small (XLM-R, 12 layers,
hidden 384, 250k vocabulary; converted as a BERT) with the same kind of head, in PyTorch fp32.

Rows: teacher PyTorch fp32; student PyTorch fp32; student PyTorch bf16 (where the CPU has
avx512_bf16 or AMX: oneDNN's bf16 kernels; onnxruntime's CPU provider has no bf16 transformer
kernels); student ONNX fp32 as exported before fusion (torch.export), fused fp32
(:func:`monoglot.deploy.export_onnx`), and dynamic int8 of the fused graph, per tensor and per
channel (:func:`monoglot.deploy.quantize_int8`).

Measures: throughput on 32 x 128-token batches (sequences/s) and single-query latency (batch 1 at
16, 64 and 128 tokens; p50 and p95 in ms). The CPU is shared, so the rows are measured in
``--rounds`` interleaved rounds (each round visits every row once); throughput is the median over
rounds, latency percentiles pool every call of every round. Ratios are to the student's PyTorch fp32.

Usage: python benchmarks/deploy.py [--threads 2] [--rounds 3] [--calls 30] [--no-teacher] [--work DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np

LENGTHS = (16, 64, 128)


class TorchRunner:
    def __init__(self, model, dtype=None):
        import torch

        self.torch = torch
        self.model = (copy.deepcopy(model).to(dtype) if dtype is not None else model).eval()

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> None:
        with self.torch.inference_mode():
            self.model(input_ids=self.torch.from_numpy(ids), attention_mask=self.torch.from_numpy(mask))


class OnnxRunner:
    def __init__(self, onnx_dir: Path, threads: int):
        from monoglot.deploy import OnnxTaskModel

        self.model = OnnxTaskModel(onnx_dir, threads=threads)

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> None:
        self.model.logits(ids, mask)


def inputs(vocab: int, batch: int, seq: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab - 1, size=(batch, seq), dtype=np.int64)
    return ids, np.ones_like(ids)


def measure_round(run, vocab: int, calls: int, batches: int) -> dict:
    """One visit of a row: throughput on ``batches`` 32x128 batches, and ``calls`` single queries per length."""
    ids, mask = inputs(vocab, 32, 128)
    run(ids, mask)  # warm-up
    t0 = time.perf_counter()
    for _ in range(batches):
        run(ids, mask)
    out = {"sequences_per_second": 32 * batches / (time.perf_counter() - t0), "latency_ms": {}}
    for n in LENGTHS:
        ids, mask = inputs(vocab, 1, n, seed=n)
        run(ids, mask)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            run(ids, mask)
            times.append(1000 * (time.perf_counter() - t0))
        out["latency_ms"][n] = times
    return out


def student_model(num_labels: int = 7):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30_000, hidden_size=256, num_hidden_layers=4, num_attention_heads=8,
                     intermediate_size=1024, num_labels=num_labels)
    return BertForSequenceClassification(cfg).eval()


def student_tokenizer():
    """A WordPiece tokenizer for the export check (the graph's speed does not depend on it)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = "habari ya asubuhi rafiki yangu serikali tanzania mpango mpya elimu shule the quick brown fox".split()
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(words)))}
    t = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return PreTrainedTokenizerFast(tokenizer_object=t, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=30, help="single queries per length per round")
    ap.add_argument("--batches", type=int, default=3, help="32x128 batches per round")
    ap.add_argument("--no-teacher", action="store_true")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    import torch

    from monoglot.cpu import cpu_info, cpu_line
    from monoglot.deploy import export_onnx, quantize_int8

    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="deploy-bench-"))
    student, tok = student_model(), student_tokenizer()
    cpu = cpu_info()
    rows: dict[str, tuple] = {}
    if not args.no_teacher:
        from transformers import AutoModelForSequenceClassification

        from monoglot.teachers import resolve_model

        teacher = AutoModelForSequenceClassification.from_pretrained(resolve_model("e5-small"), num_labels=7).eval()
        rows["teacher e5-small PyTorch fp32"] = (TorchRunner(teacher), teacher.config.vocab_size)
    V = student.config.vocab_size
    rows["student PyTorch fp32"] = (TorchRunner(student), V)
    if {"avx512_bf16", "amx_bf16"} & set(cpu["flags"]):
        rows["student PyTorch bf16"] = (TorchRunner(student, torch.bfloat16), V)
    plain = export_onnx(student, tok, work / "plain.onnx", optimize=False, overwrite=True)
    fused = export_onnx(student, tok, work / "fused.onnx", overwrite=True)
    int8 = quantize_int8(fused, work / "fused.int8.onnx", overwrite=True)
    int8_pc = quantize_int8(fused, work / "fused.int8pc.onnx", per_channel=True, overwrite=True)
    fused_ops = json.loads((fused / "monoglot.json").read_text())["stats"]["fused_operators"]
    rows["student ONNX fp32 (torch.export, unfused)"] = (OnnxRunner(plain, args.threads), V)
    rows["student ONNX fp32 fused"] = (OnnxRunner(fused, args.threads), V)
    rows["student ONNX int8 (fused, per tensor)"] = (OnnxRunner(int8, args.threads), V)
    rows["student ONNX int8 (fused, per channel)"] = (OnnxRunner(int8_pc, args.threads), V)

    results: dict[str, list[dict]] = {k: [] for k in rows}
    for r in range(args.rounds):
        order = list(rows) if r % 2 == 0 else list(rows)[::-1]  # alternate the order as well
        for label in order:
            run, vocab = rows[label]
            results[label].append(measure_round(run, vocab, args.calls, args.batches))

    summary = {}
    for label, rounds in results.items():
        thr = float(np.median([x["sequences_per_second"] for x in rounds]))
        lat = {n: np.concatenate([x["latency_ms"][n] for x in rounds]) for n in LENGTHS}
        summary[label] = {"sequences_per_second": thr, "per_round": [round(x["sequences_per_second"], 1) for x in rounds],
                          "latency_ms": {n: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))} for n, v in lat.items()}}
    ref = summary["student PyTorch fp32"]
    print(f"\n{cpu_line()}; torch threads {args.threads}, onnxruntime intra-op threads {args.threads}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {args.rounds} interleaved rounds")
    print(f"student: BERT 4 layers, hidden 256, 8 heads, FFN 1024, vocab 30,000; fused operators: {fused_ops}\n")
    head = ["model", "seq/s (32x128)", "x student fp32"] + [f"{n} tok p50/p95 ms" for n in LENGTHS] + [f"x fp32 @{LENGTHS[0]} p50"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for label, s in summary.items():
        lat = " | ".join(f"{s['latency_ms'][n]['p50']:.2f} / {s['latency_ms'][n]['p95']:.2f}" for n in LENGTHS)
        speed = ref["latency_ms"][LENGTHS[0]]["p50"] / s["latency_ms"][LENGTHS[0]]["p50"]
        print(f"| {label} | {s['sequences_per_second']:.1f} | {s['sequences_per_second'] / ref['sequences_per_second']:.2f} | {lat} | {speed:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "threads": args.threads, "rounds": args.rounds,
                                         "fused_operators": fused_ops, "rows": summary}, indent=2))


if __name__ == "__main__":
    main()
