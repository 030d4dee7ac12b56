"""Model cards: a ``README.md`` with Hugging Face metadata in every model directory a run writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .artifacts import read_meta
from .files import write_text_atomic
from .st_format import USAGE, has_sentence_transformers

HUB_IDS = {"e5-small": "intfloat/multilingual-e5-small"}


def model_card(model_dir: str | Path, *, name: str, languages: list[str], base_model: str, license: str,
               row: dict[str, Any], results: dict[str, dict], teacher_label: str = "teacher") -> Path:
    """Write ``model_dir/README.md``: the hub's metadata (``huggingface_hub.ModelCardData``:
    ``language``, ``license``, ``base_model``, ``library_name``, ``tags``, ``metrics``,
    ``model-index`` with each task's test score in %) and a short
    description of how the model was made, its size, speed and scores; for a directory with the
    sentence-transformers files (:mod:`monoglot.st_format`), the three-line sentence-transformers usage.

    ``row`` is the model's row of the report (parameters, bytes, throughput, speed-up);
    ``results`` maps a task to its evaluation result (``metric``, ``metrics``, ``std``).
    """
    from .tasks.metrics import SCORE_PROTOCOL, format_score  # the report's format and protocol sentence

    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    meta = read_meta(model_dir)
    sentence_transformers = has_sentence_transformers(model_dir)
    tags = ["monoglot", "knowledge-distillation", "model-compression"]
    tags += ["sentence-transformers", "sentence-similarity"] if sentence_transformers else []
    evals = [EvalResult(task_type="token-classification" if r["kind"] == "token" else "text-classification",
                        dataset_type=task.split(":")[0].split("->")[0], dataset_name=task, metric_type=r["metric"],
                        metric_value=round(100 * r["metrics"][r["metric"]], 2)) for task, r in results.items()]
    data = ModelCardData(language=list(languages) or None, license=license, base_model=HUB_IDS.get(base_model, base_model),
                         library_name="transformers", tags=tags, metrics=sorted({r["metric"] for r in results.values()}) or None,
                         model_name=name if evals else None, eval_results=evals or None)
    lines = ["---", data.to_yaml(), "---", "", f"# {name}", "",
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
    write_text_atomic(path, str(ModelCard("\n".join(lines) + "\n")))
    return path
