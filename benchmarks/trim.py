"""Vocabulary trimming benchmark: monoglot vs the PyPI peers textpruner and vocabtrimmer.

Trims the same teacher (e5-small, converted) with the same corpora (the full Swahili corpora of
the data root, about 3.7M words) with each tool, in one run, and prints a table: wall time of
counting + trimming, pieces and parameters of the result, whether it loads with
``AutoModel`` / ``AutoTokenizer``, and whether its tokenizer and last hidden states are identical
to the original's on covered text (``benchmarks/peers/check_output.py``, run in the environment
that produced the output).

The peers run in their own environments, made by ``bash benchmarks/peers/setup_peer_envs.sh``
(textpruner in ``/work/peers-venv``, transformers 5; vocabtrimmer in ``/work/peers-venv-tf4``,
transformers 4.57, as it imports names transformers 5 removed; see ``benchmarks/peers/NOTES.md``);
a peer that cannot run is a row that says why.

Usage: python benchmarks/trim.py [--data DATA_ROOT] [--textpruner-python PATH] [--vocabtrimmer-python PATH] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = {"textpruner": HERE / "peers" / "run_textpruner.py", "vocabtrimmer": HERE / "peers" / "run_vocabtrimmer.py"}


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def check(python: str, original: Path, trimmed: Path, sentences: list[Path]) -> dict:
    cmd = [python, str(HERE / "peers" / "check_output.py"), "--original", str(original), "--trimmed", str(trimmed)]
    for s in sentences:
        cmd += ["--sentences", str(s)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return last_json(r.stdout) or {"error": (r.stderr.strip().splitlines() or ["no output"])[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="data root (default $MONOGLOT_DATA or ../shared/data)")
    ap.add_argument("--textpruner-python", default="/work/peers-venv/bin/python")
    ap.add_argument("--vocabtrimmer-python", default="/work/peers-venv-tf4/bin/python")
    ap.add_argument("--work", type=Path, default=None, help="where outputs go (default: a temporary directory)")
    args = ap.parse_args()

    from monoglot.paths import data_root
    from monoglot.teachers import resolve_model
    from monoglot.vocab import trim_to_corpus

    root = data_root(args.data)
    corpora = [root / "corpora" / "swa" / "maneno_yetu.txt", root / "corpora" / "swa" / "bible_suv.tsv"]
    teacher = Path(resolve_model("e5-small"))
    work = args.work or Path(tempfile.mkdtemp(prefix="trim-bench-"))
    rows = []

    t0 = time.perf_counter()
    out = trim_to_corpus(teacher, corpora, work / "monoglot", overwrite=True, progress=False)
    wall = time.perf_counter() - t0
    st = json.loads((out / "monoglot.json").read_text())["stats"]
    rows.append({"tool": "monoglot", "seconds": st["seconds_counting_and_trimming"], "wall": wall,
                 **check(sys.executable, teacher, out, corpora)})

    for name, script in PEERS.items():
        python = getattr(args, f"{name}_python")
        if not Path(python).exists():
            rows.append({"tool": name, "error": f"environment {python} not found; run benchmarks/peers/setup_peer_envs.sh"})
            continue
        cmd = [python, str(script), "--model", str(teacher), "--out", str(work / name)]
        for c in corpora:
            cmd += ["--corpus", str(c)]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        wall = time.perf_counter() - t0
        res = last_json(r.stdout)
        if r.returncode != 0 or "error" in res:
            rows.append({"tool": name, "wall": wall, "error": res.get("error") or (r.stderr.strip().splitlines() or ["failed"])[-1]})
            continue
        rows.append({"tool": name, "seconds": res.get("seconds"), "wall": wall,
                     **check(python, teacher, work / name, corpora)})

    print(f"\nTeacher e5-small ({teacher}), corpora: {', '.join(c.name for c in corpora)}; outputs in {work}\n")
    head = ["tool", "count+trim s", "wall s", "pieces", "parameters", "AutoModel", "AutoTokenizer", "same pieces", "identical hidden states", "note"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    yn = lambda v: "–" if v is None else ("yes" if v else "no")  # noqa: E731
    for r in rows:
        if "error" in r and "loads_model" not in r:
            print(f"| {r['tool']} | – | {r.get('wall', 0):.1f} | – | – | – | – | – | – | {r['error']} |")
            continue
        print(f"| {r['tool']} | {r.get('seconds') or 0:.1f} | {r['wall']:.1f} | {r.get('tokenizer_pieces', '–')} | "
              f"{r.get('params', 0) / 1e6:.2f}M | {yn(r.get('loads_model'))} | {yn(r.get('loads_tokenizer'))} | "
              f"{yn(r.get('tokenizer_same'))} | {yn(r.get('hidden_identical_end_to_end'))} | "
              f"{r.get('model_error') or r.get('tokenizer_error') or ''} |")
    (work / "results.json").write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
