"""Probe retention of finished recipe runs against their distillation tokens and time.

Each RUN_DIR is a ``monoglot run`` output directory (its ``report.json``): the same recipe at
different ``steps`` (a budget curve), or the same budget in two languages. Prints one row per run
(steps, tokens, distillation seconds, the student's mean probe retention against the teacher, the
CPU and precision it ran on) and, with ``--plot FILE``, draws the retention plot, one line per label. Runs
are grouped into lines by ``--label NAME=RUN_DIR,...`` or, by default, by the recipe's first
language. Budgets and times come from each run's own distill stage, so compare times only between
runs on the same, otherwise idle, CPU.

Run directories are large and often gone by the next measurement, so the points can be kept as
data: ``--save-points FILE`` writes every point (JSON), and ``--points FILE`` reads such a file back,
so that a new run adds its point to the recorded curve (docs/recipe_curve.json holds the README's).

Usage: python benchmarks/recipe_curve.py [RUN_DIR ...] [--points docs/recipe_curve.json]
       [--save-points FILE] [--plot docs/recipe_curve.png] [--no-time]
       [--label swahili=out/swahili,out/swahili-1200]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monoglot.plots import retention_plot


def run_point(run_dir: Path) -> dict:
    """One run's budget and result from ``run_dir/report.json``.

    Raises:
        SystemExit: the directory has no report, or its report has no distilled student.
    """
    f = run_dir / "report.json"
    if not f.is_file():
        raise SystemExit(f"error: {run_dir} has no report.json; give a finished `monoglot run` output directory")
    r = json.loads(f.read_text())
    st, d = r.get("models", {}).get("student"), r.get("distill")
    if not st or not d or st.get("average_kept") is None:
        raise SystemExit(f"error: {run_dir}/report.json has no evaluated student; finish the run's evaluate stage first")
    return {"run": str(run_dir), "mix": (r["recipe"].get("languages") or ["?"])[0], "steps": d["steps_run"], "tokens": d["tokens"],
            "seconds": d["seconds"], "mean_retention": st["average_kept"], "cpu": d.get("cpu", "?"), "precision": d.get("precision", "?")}


POINT_KEYS = ("mix", "steps", "tokens", "mean_retention")


def recorded_points(path: Path) -> list[dict]:
    """Points saved before by ``--save-points``: ``{"points": [{"mix", "steps", "tokens",
    "mean_retention", ...}, ...]}``, tokens as a count, retention as a fraction of the teacher.

    Raises:
        SystemExit: the file is missing, not JSON, or a point lacks one of ``POINT_KEYS``.
    """
    try:
        points = json.loads(path.read_text())["points"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"error: --points {path}: {type(e).__name__}: {e}; give a file written by --save-points")
    for i, p in enumerate(points):
        missing = [k for k in POINT_KEYS if not isinstance(p, dict) or p.get(k) is None]
        if missing:
            raise SystemExit(f"error: --points {path}: point {i} lacks {', '.join(missing)}")
    return points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", type=Path, help="finished `monoglot run` output directories")
    ap.add_argument("--points", action="append", type=Path, default=[],
                    help="JSON points recorded by --save-points (runs whose directories are gone); repeatable")
    ap.add_argument("--save-points", type=Path, default=None, help="write every point, recorded and new, as JSON here")
    ap.add_argument("--plot", type=Path, default=None, help="write the retention plot here (PNG)")
    ap.add_argument("--no-time", action="store_true", help="plot against tokens only (when some runs shared the CPU, their times mislead)")
    ap.add_argument("--label", action="append", default=[], help="NAME=RUN_DIR,RUN_DIR: a line's label for these runs (repeatable)")
    args = ap.parse_args()
    labels = {}
    for spec in args.label:
        name, _, dirs = spec.partition("=")
        if not dirs:
            raise SystemExit(f"error: --label {spec!r} is not NAME=RUN_DIR,...")
        labels.update({Path(d).resolve(): name for d in dirs.split(",")})
    if not args.runs and not args.points:
        raise SystemExit("error: no runs; give RUN_DIR arguments or --points FILE")
    fresh = [run_point(d) for d in args.runs]
    for p, d in zip(fresh, args.runs):
        p["mix"] = labels.get(d.resolve(), p["mix"])
    new_runs = {p["run"] for p in fresh}
    points = [p for f in args.points for p in recorded_points(f) if p.get("run") not in new_runs] + fresh
    print("| line | run | steps | tokens | distill s | mean retention | CPU | precision |\n|---|---|---|---|---|---|---|---|")
    for p in sorted(points, key=lambda p: (p["mix"], p["tokens"])):
        secs = "" if p.get("seconds") is None else f"{p['seconds']:.0f}"
        print(f"| {p['mix']} | {p.get('run', '')} | {p['steps']} | {p['tokens'] / 1e6:.2f}M | {secs} | {100 * p['mean_retention']:.1f}% "
              f"| {p.get('cpu', '?')} | {p.get('precision', '?')} |")
    if args.save_points:
        tmp = args.save_points.with_name(args.save_points.name + ".tmp")
        tmp.write_text(json.dumps({"points": points}, indent=1) + "\n")
        tmp.replace(args.save_points)
        print(f"wrote {args.save_points}")
    if args.plot and not args.no_time and any(p.get("seconds") is None for p in points):
        raise SystemExit("error: some points have no distillation seconds (runs that shared the CPU); plot with --no-time")
    if args.plot:
        print(f"wrote {retention_plot(points, args.plot, time=not args.no_time)}")


if __name__ == "__main__":
    main()
