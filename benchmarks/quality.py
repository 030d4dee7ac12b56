"""Quality goal: the best student with at least 90% fewer parameters than e5-small keeps at least
95% of the teacher's score on average over the Swahili tasks, at at least 5x its CPU throughput.

Runs a recipe (default ``recipes/swahili.toml``: trim, adapt, shrink, distill, evaluate, report;
finished stages are reused) and prints, per task, the student's test score as a fraction of the
teacher's (in-language and zero-shot from English), the average over the tasks the teacher has
learned (a teacher at the majority-class baseline says nothing about the student), and the
throughput multiple measured side by side in the report's run.

Usage: python benchmarks/quality.py [--recipe recipes/swahili.toml] [--out out] [--data DATA_ROOT]
"""

from __future__ import annotations

import argparse
import json

from monoglot.pipeline import run_recipe
from monoglot.recipe import load_recipe


def at_chance(result: dict) -> str | None:
    """Why the teacher's result says nothing about the task (then the ratio is left out), or None.

    A teacher no better than the majority-class baseline (test accuracy within 1 point of it), or
    with an entity F1 of 0, has not learned the task under the evaluation budget.
    """
    m = result["metrics"]
    if result["metric"] == "entity_f1" and m["entity_f1"] == 0:
        return "teacher entity F1 0"
    if m.get("accuracy") is not None and m["accuracy"] <= result["majority_baseline"] + 0.01:
        return "teacher at the majority-class baseline"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/swahili.toml")
    ap.add_argument("--out", default=None)
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    run_dir = run_recipe(load_recipe(args.recipe), args.out, args.data)
    report = json.loads((run_dir / "report.json").read_text())
    models = report["models"]
    teacher = next(iter(models))
    small = {k: r for k, r in models.items() if r["fewer_parameters"] >= 0.9 and r.get("average_score") is not None}
    if not small:
        print("no model with at least 90% fewer parameters than the teacher was evaluated")
        return
    best = max(small, key=lambda k: small[k]["average_score"])
    r = small[best]
    print(f"best student with >= 90% fewer parameters: {best} ({r['parameters']['total'] / 1e6:.2f}M, "
          f"{100 * r['fewer_parameters']:.1f}% fewer than {teacher})\n")
    ev = report["evaluation"][teacher]
    print("| task | mode | teacher | student | student / teacher | counted |\n|---|---|---|---|---|---|")
    rels = []
    for task, score in r["primary"].items():
        mode = "zero-shot" if "->" in task else "in-language"
        t = models[teacher]["primary"][task]
        learned = at_chance(ev[task]) is None
        rel = r["relative_to_teacher"].get(task)
        if learned and rel is not None:
            rels.append(rel)
        print(f"| {task} | {mode} | {100 * t:.1f} | {100 * score:.1f} | {'–' if rel is None else f'{100 * rel:.1f}%'} | "
              f"{'yes' if learned else 'no: ' + at_chance(ev[task])} |")
    if not rels:
        print("\nthe teacher learned none of the tasks under this evaluation budget: no verdict")
        return
    avg = sum(rels) / len(rels)
    print(f"\naverage fraction of the teacher's score over the {len(rels)} tasks the teacher learned: {100 * avg:.1f}% "
          f"(goal >= 95%): {'met' if avg >= 0.95 else 'NOT met'}")
    print(f"CPU throughput: {r['speedup']:.1f}x the teacher's (goal >= 5x): {'met' if r['speedup'] >= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
