"""Model cards: a ``README.md`` with Hugging Face metadata in every model directory a run writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .artifacts import read_meta
from .files import write_text_atomic
from .st_format import USAGE, has_sentence_transformers

HUB_IDS = {"e5-small": "intfloat/multilingual-e5-small"}


def _yaml_list(key: str, items: list[str]) -> list[str]:
    return [f"{key}:"] + [f"- {x}" for x in items] if items else []


def model_card(model_dir: str | Path, *, name: str, languages: list[str], base_model: str, license: str,
               row: dict[str, Any], results: dict[str, dict], teacher_label: str = "teacher") -> Path:
    """Write ``model_dir/README.md``: YAML front matter (``language``, ``license``, ``base_model``,
    ``library_name``, ``tags``, ``metrics``, ``model-index`` with each task's test score) and a short
    description of how the model was made, its size, speed and scores; for a directory with the
    sentence-transformers files (:mod:`monoglot.st_format`), the three-line sentence-transformers usage.

    ``row`` is the model's row of the report (parameters, bytes, throughput, speed-up);
    ``results`` maps a task to its evaluation result (``metric``, ``metrics``, ``std``).
    """
    from .tasks.metrics import SCORE_PROTOCOL, format_score  # the report's format and protocol sentence

    meta = read_meta(model_dir)
    sentence_transformers = has_sentence_transformers(model_dir)
    metrics = sorted({r["metric"] for r in results.values()})
    lines = ["---"] + _yaml_list("language", languages) + [f"license: {license}", f"base_model: {HUB_IDS.get(base_model, base_model)}",
             "library_name: transformers", "tags:", "- monoglot", "- knowledge-distillation", "- model-compression"]
    lines += ["- sentence-transformers", "- sentence-similarity"] if sentence_transformers else []
    lines += _yaml_list("metrics", metrics)
    if results:
        lines += ["model-index:", f"- name: {name}", "  results:"]
        for task, r in results.items():
            lines += [f"  - task: {{type: {'token-classification' if r['kind'] == 'token' else 'text-classification'}}}",
                      f"    dataset: {{name: {task}, type: {task.split(':')[0].split('->')[0]}}}",
                      "    metrics:", f"    - {{type: {r['metric']}, value: {round(100 * r['metrics'][r['metric']], 2)}}}"]
    lines += ["---", "", f"# {name}", "",
              f"A compressed encoder made by [monoglot](https://github.com/) from `{base_model}` "
              f"(stage `{meta.get('stage')}`, parent `{meta.get('parent')}`). Load it with "
              "`transformers.AutoModel.from_pretrained` and `AutoTokenizer`; `monoglot.json` records every setting.", "",
              f"- parameters: {row['parameters']['total'] / 1e6:.2f}M ({100 * row['fewer_parameters']:.1f}% fewer than the {teacher_label})",
              f"- weights: {row['bytes'] / 1e6:.1f} MB",
              f"- CPU throughput: {row['throughput']['sequences_per_second']:.1f} sequences/s ({row['speedup']:.1f}x the {teacher_label})", ""]
    if sentence_transformers:
        lines += ["Sentence embeddings with [sentence-transformers](https://www.sbert.net) (the teacher's prompts, "
                  "mean pooling, L2 normalisation; `monoglot embed` writes them without code):", "",
                  USAGE.format(path=name, example="Habari ya asubuhi" if "sw" in languages else "Hello world"), ""]
    if results:
        lines += ["| task | metric | test score |", "|---|---|---|"]
        for task, r in results.items():
            score = format_score(r["metrics"][r["metric"]], (r.get("std") or {}).get(r["metric"]))
            lines.append(f"| {task} | {r['metric']} | {score} |")
        method = "probe" if all(r.get("method") == "probe" for r in results.values()) else "finetune"
        lines += ["", f"Scores: {SCORE_PROTOCOL[method]}"]
    path = Path(model_dir) / "README.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
