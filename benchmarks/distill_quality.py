"""Which distillation losses, and how many tokens: probe retention of students against the teacher.

For each loss mix and each token budget, one student is distilled from e5-small (trimmed to the
Swahili + English corpora) and probed with frozen features (monoglot.tasks.probe: MTEB's
classification protocol, bitext mining on FLORES, a linear token probe); retention = student
metric / teacher metric per task, averaged over the tasks. Output (in --out): results.json (every
run, appended as it finishes, so an interrupted grid keeps what it measured), report.md (a table per
task) and retention.png (mean retention against tokens and against distillation time, one line per mix).

Mixes (--mixes, names as below):
  today            logits + hidden + attention (the demo's; needs the adapt stage's MLM head)
  embedding        today + sentence embedding (Reimers & Gurevych 2020, target sentences)
  crosslingual     today + cross-lingual embedding on the verse-aligned Bibles (+ in-batch contrastive)
  hidden-embedding hidden + embedding + cross-lingual embedding, no MLM head and no adapt stage
  minilmv2         MiniLMv2 self-attention relations (Q-Q, K-K, V-V of the last layer)
  demo             today + embedding + cross-lingual embedding (the demo recipe's mix before the contrastive one)
  demo-contrastive demo + in-batch contrastive (InfoNCE) on the Bibles at weight 1
  no-adapt-contrastive  hidden + attention + embedding + cross-lingual + contrastive: no MLM head, no adapt stage
  NAME-pca         NAME with ``hidden_projection = "pca"``: the student's states are compared with the
                   teacher's projected on the shrink's fixed PCA basis, not through a learned map
                   (recipes/swahili.toml is no-adapt-contrastive-pca-mono+sentence_batch_size=64+group_by_length=true+contrastive_queue=2048)
  NAME-long        NAME on 512-token chunks, a quarter as many per step (the same tokens), with the
                   sentence batches unchanged: every position that the probes use (MTEB truncates at
                   512; MasakhaNEWS articles are longer) is trained
  NAME-mono        NAME with half of the sentence pairs Swahili corpus segments paired with themselves
                   (``monolingual_share = 0.5``; at most 20,000): the sentence losses see web text, not
                   only Bible verses. Suffixes combine in the order NAME-pca-long-mono
  NAME+KEY=VALUE   NAME with a loss weight or a DistillSettings field changed, e.g.
                   no-adapt-contrastive-pca-mono+sentence_batch_size=64+contrastive=2 (``+steps=N``
                   overrides the budget's step count)

Budgets (--budgets, in millions of training tokens of packed chunks: steps = budget / (batch x
seq_len); the sentence losses' sentences come on top and are counted in the reported tokens).

Usage: python benchmarks/distill_quality.py --out DIR [--mixes today,embedding] [--budgets 0.5,1.5]
       [--layers 4 --hidden 256 --ffn 1024] [--adapt-steps 300] [--from-run RUN_DIR] [--threads 2]
``--from-run`` takes the trimmed teacher, the student-init and (for mixes with logits) the adapted
teacher of a finished pipeline run (``monoglot run``'s output directory) instead of making its own:
the students then have the recipe's shape and shrink strategies, so the grid chooses the recipe's
defaults.
The full grid (5 mixes x 0.5, 1.5, 3, 6, 12M tokens) is the default; on 2 shared CPU cores it
takes days: run a slice.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from monoglot.plots import retention_plot

MIXES = {
    "today": ({"logits": 1, "hidden": 1, "attention": 1}, False),
    "embedding": ({"logits": 1, "hidden": 1, "attention": 1, "embedding": 1}, False),
    "crosslingual": ({"logits": 1, "hidden": 1, "attention": 1, "parallel": 1, "contrastive": 0.1}, True),
    "hidden-embedding": ({"hidden": 1, "attention": 0, "embedding": 1, "parallel": 1}, True),
    "minilmv2": ({"hidden": 0, "attention": 0, "relations": 1}, False),
    "demo": ({"logits": 1, "hidden": 1, "attention": 1, "embedding": 1, "parallel": 1}, True),
    "demo-contrastive": ({"logits": 1, "hidden": 1, "attention": 1, "embedding": 1, "parallel": 1, "contrastive": 1}, True),
    "no-adapt-contrastive": ({"hidden": 1, "attention": 1, "embedding": 1, "parallel": 1, "contrastive": 1}, True),
}
"""name -> (loss weights, uses the parallel Bibles); ``NAME-pca`` is NAME with the fixed PCA projection."""

TASKS = ["sib200:swh_Latn", "masakhanews:swa", "afrisenti:swa", "flores:eng_Latn-swh_Latn", "masakhapos:swa"]
DECONTAMINATE = ["sib200:swh_Latn", "sib200:eng_Latn", "masakhanews:swa", "afrisenti:swa", "masakhapos:swa"]


SUFFIXES = {"-mono": {"monolingual_share": 0.5}, "-long": {"seq_len": 512}, "-pca": {"hidden_projection": "pca"}}
"""``NAME-SUFFIX``: NAME with these settings (``-long``: 512-token chunks, a quarter as many per step),
stripped from the end in this order: ``NAME-pca-long-mono``."""


def mix_spec(name: str) -> tuple[dict, bool, dict]:
    """``(loss weights, uses the parallel Bibles, settings that differ from the defaults)`` of a mix name.

    A name may end in overrides ``+KEY=VALUE`` (repeatable): a loss weight (``+contrastive=4``) or a
    :class:`~monoglot.distill.DistillSettings` field (``+sentence_batch_size=64``, ``+steps=122``);
    VALUE is read as JSON where it parses (numbers), else as a string.

    Raises:
        KeyError: an unknown base mix, or an override that is neither a loss weight nor a setting.
    """
    from monoglot.distill import DistillSettings, LossWeights

    name, *overrides = name.split("+")
    changes = {}
    for suffix, settings in SUFFIXES.items():
        if name.endswith(suffix):
            name, changes = name.removesuffix(suffix), {**changes, **settings}
    weights, uses_parallel = MIXES[name]
    weights = dict(weights)
    for item in overrides:
        key, sep, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if not sep or key == "loss":
            raise KeyError(item)
        if key in LossWeights.model_fields:
            weights[key] = value
        elif key in DistillSettings.model_fields:
            changes[key] = value
        else:
            raise KeyError(item)
    return weights, uses_parallel, changes


def _known(name: str) -> bool:
    try:
        mix_spec(name)
        return True
    except KeyError:
        return False


def retention(student: dict, teacher: dict) -> dict[str, float]:
    """Per task: the student's primary metric / the teacher's (1.0 = kept everything)."""
    return {t: student[t]["metrics"][student[t]["metric"]] / max(1e-9, teacher[t]["metrics"][teacher[t]["metric"]])
            for t in teacher if t in student}


def report(results: list[dict], teacher: dict, cpu: str, path: Path) -> None:
    tasks = list(teacher)
    lines = ["# Distillation quality: probe retention against the teacher\n", f"CPU: {cpu}\n",
             "| mix | tokens | steps | " + " | ".join(tasks) + " | mean retention | distill s |",
             "|---|---|---|" + "---|" * len(tasks) + "---|---|",
             "| teacher (metric) | | | " + " | ".join(f"{100 * teacher[t]['metrics'][teacher[t]['metric']]:.1f}" for t in tasks) + " | | |"]
    for r in results:
        lines.append(f"| {r['mix']} | {r['tokens'] / 1e6:.2f}M | {r['steps']} | "
                     + " | ".join(f"{100 * r['scores'][t]:.1f} ({100 * r['retention'][t]:.0f}%)" for t in tasks)
                     + f" | {100 * r['mean_retention']:.1f}% | {r['seconds']:.0f} |")
    lines.append("\nCells: student metric (retention = student / teacher). Bitext: F1 over both directions.")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--mixes", default=",".join(MIXES))
    ap.add_argument("--budgets", default="0.5,1.5,3,6,12", help="millions of tokens")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--adapt-steps", type=int, default=300, help="MLM-head steps of the adapt stage (mixes with logits)")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--from-run", default=None, help="a finished pipeline run: use its trimmed, adapted and student-init")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from monoglot.distill import AdaptSettings, DistillSettings, LossWeights, adapt_teacher, distill
    from monoglot.distill.precision import cpu_model
    from monoglot.paths import data_root
    from monoglot.pipeline import evaluation_texts
    from monoglot.shrink import shrink_to_dir
    from monoglot.tasks.probe import probe_model
    from monoglot.teachers import resolve_model
    from monoglot.vocab import VocabPolicy, trim_to_corpus

    mixes = [m.strip() for m in args.mixes.split(",")]
    unknown = [m for m in mixes if not _known(m)]
    if unknown:
        raise SystemExit(f"error: unknown mix(es) {unknown}; choose from {', '.join(MIXES)} (each with the suffixes -pca, -long, -mono, in that order, then +KEY=VALUE overrides of loss weights or DistillSettings fields)")
    budgets = [float(b) for b in args.budgets.split(",")]
    tasks = args.tasks.split(",")
    root = data_root(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    swa = [root / "corpora/swa/maneno_yetu.txt", root / "corpora/swa/bible_suv.tsv"]
    eng = [root / "corpora/eng/bible_web.txt"]
    parallel = (eng[0], swa[1])
    eval_texts = evaluation_texts(DECONTAMINATE, root)

    needs_adapt = any(mix_spec(m)[0].get("logits") for m in mixes)  # logits need the adapted teacher's MLM head
    trimmed, init, adapted = out / "e5-trimmed", out / "student-init", out / "e5-adapted"
    if args.from_run:
        run = Path(args.from_run)
        trimmed, init, adapted = run / "trimmed", run / "student-init", run / "adapted"
        needed = (trimmed, init, adapted) if needs_adapt else (trimmed, init)
        missing = [p.name for p in needed if not p.is_dir()]
        if missing:
            raise SystemExit(f"error: --from-run {run}: no {', '.join(missing)}; run the recipe first "
                             "(mixes with logits need its [adapt] stage)")
    if not trimmed.is_dir():
        trim_to_corpus(resolve_model("e5-small"), swa + eng, trimmed, VocabPolicy(min_count=1), progress=False)
    if not init.is_dir():
        shrink_to_dir(trimmed, init, layers=args.layers, hidden=args.hidden, ffn=args.ffn, head_strategy="first",
                      ffn_strategy="first", hidden_strategy="pca", corpora=swa[:1], eval_texts=eval_texts, measure=None, progress=False)
    if needs_adapt and not adapted.is_dir():
        adapt_teacher(trimmed, swa, adapted, AdaptSettings(head_steps=args.adapt_steps, batch_size=args.batch_size, seq_len=args.seq_len),
                      eval_texts=eval_texts, progress=False)

    res_file = out / "results.json"
    state = json.loads(res_file.read_text()) if res_file.is_file() else {"teacher": None, "runs": []}
    if state["teacher"] is None:
        state["teacher"] = probe_model(trimmed, tasks, root, progress=False)
        res_file.write_text(json.dumps(state, indent=1))
    teacher = state["teacher"]
    per_step = args.batch_size * args.seq_len
    for budget in budgets:
        for mix in mixes:
            if any(r["mix"] == mix and r["budget"] == budget for r in state["runs"]):
                continue
            weights, uses_parallel, changes = mix_spec(mix)
            steps = changes.pop("steps", max(1, round(budget * 1e6 / per_step)))
            seq_len = changes.pop("seq_len", args.seq_len)  # the same tokens per step at any length
            base = dict(steps=steps, batch_size=per_step // seq_len, seq_len=seq_len, sentence_batch_size=args.batch_size,
                        lr=args.lr, source_ratio=0.25, val_every=max(1, steps // 4), checkpoint_every=max(1, steps // 4),
                        text_column="text")
            s = DistillSettings(loss=LossWeights(**weights), **{**base, **changes})
            student = out / f"student-{mix}-{budget:g}M"
            t0 = time.perf_counter()
            distill(adapted if weights.get("logits") else trimmed, init, swa, student, s, source_corpora=eng,
                    eval_texts=eval_texts, parallel=parallel if uses_parallel else None, resume=True, overwrite=True, progress=False)
            seconds = time.perf_counter() - t0
            st = json.loads((student / "monoglot.json").read_text())["stats"]
            probes = probe_model(student, tasks, root, progress=False)
            ret = retention(probes, teacher)
            state["runs"].append({"mix": mix, "budget": budget, "steps": steps, "tokens": st["tokens"], "seconds": seconds,
                                  "precision": st.get("precision"), "val_loss_after": st["val_loss_after"],
                                  "scores": {t: probes[t]["metrics"][probes[t]["metric"]] for t in probes},
                                  "retention": ret, "mean_retention": sum(ret.values()) / len(ret)})
            res_file.write_text(json.dumps(state, indent=1))
            report(state["runs"], teacher, cpu_model(), out / "report.md")
            retention_plot(state["runs"], out / "retention.png")
            print(f"{mix} {budget}M: mean retention {100 * state['runs'][-1]['mean_retention']:.1f}% ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
