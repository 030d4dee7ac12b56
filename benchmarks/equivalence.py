"""Behaviour check for restructurings: a tiny end-to-end recipe must give bit-identical weights and
the same report numbers before and after a change (issue 13).

Runs one tiny recipe on a random-initialised XLM-R teacher (the test suite's ``make_tiny``):
trim -> adapt (MLM head) -> importance shrink -> distill (logits, hidden states, attention and the
sentence-embedding loss) -> fine-tuning on real SIB-200 and MasakhaPOS (one epoch each, a small
train sample) -> report. It records the sha256 of every weight file the run wrote and every score
and parameter count of ``report.json``.

Usage:
    python benchmarks/equivalence.py --record before.json     # on the old commit
    python benchmarks/equivalence.py --compare before.json    # on the new one; exit 1 on any difference

Bit-identity holds on one machine (one CPU model and thread count): float results differ between
CPU instruction sets, so compare runs made side by side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

RECIPE = '''
name = "equivalence"
teacher = "{teacher}"
[data]
corpora = ["{corpus}"]
[trim]
coverage = 0.999
[adapt]
head_steps = 4
batch_size = 4
seq_len = 16
[shrink]
layers = 2
hidden = 16
ffn = 32
layer_strategy = "importance"
importance_sequences = 8
seq_len = 16
[distill]
steps = 6
batch_size = 4
seq_len = 16
val_batches = 1
val_every = 2
loss = {{ logits = 1.0, hidden = 1.0, attention = 1.0, embedding = 1.0 }}
[evaluate]
method = "finetune"
tasks = ["sib200:swh_Latn", "masakhapos:swa"]
[evaluate.finetune]
epochs = 2
batch_size = 16
max_length = 32
max_train_examples = 64
patience = 1
[measure]
batch_size = 2
seq_len = 16
batches = 1
'''


def fingerprint(run_dir: Path) -> dict:
    """``{"weights": {relative path: sha256}, "report": {model: {scores, parameters}}}`` of a run."""
    weights = {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(run_dir.rglob("*.safetensors")) if "runs" not in p.parts}
    report = json.loads((run_dir / "report.json").read_text())
    numbers = {label: {"scores": m.get("scores"), "parameters": m.get("parameters"), "average_score": m.get("average_score")}
               for label, m in report["models"].items()}
    evaluation = {label: {task: {"metrics": r["metrics"], "dev_metrics": r.get("dev_metrics"), "best_epoch": r.get("best_epoch")}
                          for task, r in per.items()} for label, per in report["evaluation"].items()}
    return {"weights": weights, "report": numbers, "evaluation": evaluation}


def run(data: str | None) -> dict:
    """Run the tiny recipe in a temporary directory; return its :func:`fingerprint`."""
    from conftest import SWAHILI, make_tiny

    from monoglot.pipeline import run_recipe
    from monoglot.recipe import load_recipe

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        teacher = make_tiny(tmp / "teacher", "xlmr", hidden=32, heads=4, ffn=64, layers=3)
        corpus = tmp / "swa.txt"
        corpus.write_text("\n".join(SWAHILI * 60) + "\n")
        (tmp / "r.toml").write_text(RECIPE.format(teacher=teacher, corpus=corpus))
        run_dir = run_recipe(load_recipe(tmp / "r.toml"), out=tmp / "out", data=data, progress=False)
        return fingerprint(run_dir)


def differences(a: dict, b: dict, path: str = "") -> list[str]:
    """Every leaf where ``a`` and ``b`` differ, as ``path: a != b``."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--record", type=Path, help="write the fingerprint here")
    group.add_argument("--compare", type=Path, help="compare with a recorded fingerprint; exit 1 on any difference")
    ap.add_argument("--data", default=None, help="data root (default $MONOGLOT_DATA or ../shared/data)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)  # one thread: reductions in a fixed order
    fp = run(args.data)
    if args.record:
        args.record.write_text(json.dumps(fp, indent=1) + "\n")
        print(f"recorded {len(fp['weights'])} weight files and {len(fp['evaluation'])} models' scores in {args.record}")
        return
    diff = differences(json.loads(args.compare.read_text()), fp)
    print(f"{len(fp['weights'])} weight files, {len(fp['evaluation'])} models' scores compared with {args.compare}: "
          + ("identical" if not diff else f"{len(diff)} differences"))
    for d in diff[:40]:
        print("  " + d)
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
