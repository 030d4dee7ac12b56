"""Vocabulary trimming benchmark: monoglot vs the PyPI peers textpruner and vocabtrimmer.

Trims the same teacher (e5-small, converted) with the same corpora (the full Swahili corpora of
the data root, about 3.7M words) with each tool, in one run, and prints a table: wall time of
counting + trimming (monoglot: as it records in ``monoglot.json``; every tool: the wall time of its
process), pieces and parameters of the result, whether it loads with
``AutoModel`` / ``AutoTokenizer``, and whether its tokenizer and last hidden states are identical
to the original's on covered text (``benchmarks/peers/check_output.py``, run in the environment
that produced the output).

The peers run in their own environments, made by ``bash benchmarks/peers/setup_peer_envs.sh``
(textpruner in ``/work/peers-venv``, transformers 5; vocabtrimmer in ``/work/peers-venv-tf4``,
transformers 4.57, as it imports names transformers 5 removed; see ``benchmarks/peers/NOTES.md``);
a peer that cannot run is a row that says why.

``--baseline REF`` also runs monoglot as of git revision REF (e.g. ``main``; its ``src`` taken with
``git archive``) in the same run, alternating with the current code ``--repeat`` times, so that
the before/after ratio is measured side by side on a shared CPU. The CPU model and flags are printed.

Usage: python benchmarks/trim.py [--data DATA_ROOT] [--baseline REF] [--repeat N] [--no-peers]
       [--textpruner-python PATH] [--vocabtrimmer-python PATH] [--work DIR]
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


MONOGLOT_RUN = """
import json, sys, time
from pathlib import Path
from monoglot.vocab import trim_to_corpus
t0 = time.perf_counter()
out = trim_to_corpus(sys.argv[1], sys.argv[3:], sys.argv[2], overwrite=True, progress=False)
st = json.loads((Path(out) / "monoglot.json").read_text())["stats"]
print(json.dumps({"seconds": st["seconds_counting_and_trimming"], "in_process": time.perf_counter() - t0}))
"""


def run_monoglot(src: Path, teacher: Path, out: Path, corpora: list[Path]) -> dict:
    """Trim in a fresh process with monoglot's source at ``src``; returns seconds (recorded, wall)."""
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", MONOGLOT_RUN, str(teacher), str(out), *map(str, corpora)],
                       capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        return {"wall": wall, "error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return {"wall": wall, **last_json(r.stdout)}


def baseline_source(ref: str, work: Path) -> Path:
    """``src`` of monoglot at git revision ``ref``, exported into ``work``."""
    dest = work / f"src-{ref.replace('/', '_')}"
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest), "--strip-components=1"], input=archive.stdout, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="data root (default $MONOGLOT_DATA or ../shared/data)")
    ap.add_argument("--textpruner-python", default="/work/peers-venv/bin/python")
    ap.add_argument("--vocabtrimmer-python", default="/work/peers-venv-tf4/bin/python")
    ap.add_argument("--work", type=Path, default=None, help="where outputs go (default: a temporary directory)")
    ap.add_argument("--baseline", default=None, help="also time monoglot at this git revision (e.g. main)")
    ap.add_argument("--repeat", type=int, default=1, help="monoglot runs per version, alternated (report the median)")
    ap.add_argument("--no-peers", action="store_true", help="time monoglot only")
    args = ap.parse_args()

    from monoglot.paths import data_root
    from monoglot.teachers import resolve_model
    root = data_root(args.data)
    corpora = [root / "corpora" / "swa" / "maneno_yetu.txt", root / "corpora" / "swa" / "bible_suv.tsv"]
    teacher = Path(resolve_model("e5-small"))
    work = args.work or Path(tempfile.mkdtemp(prefix="trim-bench-"))
    rows = []

    versions = {"monoglot": HERE.parent / "src"}
    if args.baseline:
        versions[f"monoglot@{args.baseline}"] = baseline_source(args.baseline, work)
    runs: dict[str, list[dict]] = {v: [] for v in versions}
    for _ in range(max(args.repeat, 1)):
        for name, src in versions.items():  # alternated, so that a busy CPU slows both alike
            runs[name].append(run_monoglot(src, teacher, work / name, corpora))
    for name, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            rows.append({"tool": name, **rs[-1]})
            continue
        best = sorted(ok, key=lambda r: r["seconds"])[len(ok) // 2]  # the median run
        rows.append({"tool": name, "seconds": best["seconds"], "wall": best["wall"],
                     "all_seconds": [round(r["seconds"], 2) for r in ok], **check(sys.executable, teacher, work / name, corpora)})

    for name, script in ({} if args.no_peers else PEERS).items():
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

    from monoglot.cpu import cpu_line

    print(f"\nTeacher e5-small ({teacher}), corpora: {', '.join(c.name for c in corpora)}; outputs in {work}")
    print(f"{cpu_line()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
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
    timed = {r["tool"]: r for r in rows if r.get("seconds")}
    if args.baseline and f"monoglot@{args.baseline}" in timed and "monoglot" in timed:
        a, b = timed["monoglot"], timed[f"monoglot@{args.baseline}"]
        print(f"\nmonoglot runs (count+trim s): now {a['all_seconds']}, {args.baseline} {b['all_seconds']}; "
              f"speed-up of the medians {b['seconds'] / a['seconds']:.2f}x")
    (work / "results.json").write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
