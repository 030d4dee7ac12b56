"""Exporting a fine-tuned task model directory for deployment: ONNX in fp32 or dynamic int8, and
its test score beside PyTorch's on the task it was tuned for.

``monoglot export`` and a recipe's deploy stage (:func:`monoglot.pipeline.deploy_rows`) use it; the
graph-level work (export, fusion, quantisation, onnxruntime) is :mod:`monoglot.deploy`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .errors import BadInput
from .tasks.verdict import TASK_RESULT


def load_task_model(model_dir: str | Path):
    """``(model, tokenizer)`` of a saved task model directory, in fp32 eval mode, with the
    classifier pooling its config records (mean pooling for monoglot's sentence models).

    Raises:
        BadInput: not a model directory, unsafe or missing weights (:func:`monoglot.teachers.resolve_model`).
    """
    from .tasks.pooling import apply_classifier_pooling
    from .teachers import load_tokenizer, resolve_model
    from .teachers.loader import load_saved_architecture

    path = resolve_model(str(model_dir))
    return apply_classifier_pooling(load_saved_architecture(path)), load_tokenizer(path)


def export_task_model(model_dir: str | Path, out: str | Path, *, int8: bool = False, per_channel: bool = True,
                      optimize: bool = True, overwrite: bool = False) -> Path:
    """Export the task model in ``model_dir`` to ONNX in ``out``, checked against PyTorch
    (:func:`monoglot.deploy.export_onnx`: logits within 1e-4), and with ``int8`` quantised
    (:func:`monoglot.deploy.quantize_int8`: int8 weights, one scale per output channel, or per
    tensor without ``per_channel``: as fast, and SIB-200 swh macro-F1 of the 2,400-step run's
    trimmed teacher fell from 75.0 to 74.3 per channel, to 71.2 per tensor). The fp32 graph of an
    int8 export is made in a temporary folder beside ``out`` and removed; ``out/monoglot.json``
    records ``model_dir`` as the parent and the fp32 export's stats under ``fp32_export``.

    Returns:
        ``out`` (written atomically: nothing is left there on failure).

    Raises:
        BadInput: ``out`` exists and not ``overwrite`` (checked before the export); ``model_dir``
            not a BERT / XLM-R ``*ForSequenceClassification`` or ``*ForTokenClassification``
            directory in fp32.
        RuntimeError: onnxruntime's logits differ from PyTorch's by more than 1e-4.
    """
    from .artifacts import check_new_output

    out = check_new_output(out, overwrite)
    model, tokenizer = load_task_model(model_dir)
    return _export(model, tokenizer, str(model_dir), out, int8=int8, per_channel=per_channel, optimize=optimize,
                   overwrite=overwrite)


def _export(model, tokenizer, parent: str, out: Path, *, int8: bool, per_channel: bool, optimize: bool,
            overwrite: bool) -> Path:
    """:func:`export_task_model` of a loaded task model (``parent``: the directory or hub id it came from)."""
    from .artifacts import read_meta
    from .deploy import export_onnx, quantize_int8

    if not int8:
        return export_onnx(model, tokenizer, out, overwrite=overwrite, optimize=optimize)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.fp32-") as tmp:
        fp32 = export_onnx(model, tokenizer, Path(tmp) / "fp32", optimize=optimize)
        return quantize_int8(fp32, out, per_channel=per_channel, overwrite=overwrite, parent=parent,
                             extra_stats={"fp32_export": read_meta(fp32).get("stats", {})})


def task_to_score(model_dir: str | Path, task: str | None = None) -> tuple[str, int]:
    """``(task spec, max_length)`` to score a task model on: ``task`` if given, else the task its
    ``task-result.json`` records (``monoglot evaluate --save-models`` writes it), with the
    ``max_length`` it was fine-tuned with (128 when unrecorded).

    Raises:
        BadInput: no ``task`` and no readable ``task-result.json``.
    """
    f = Path(model_dir, TASK_RESULT)
    try:
        result = json.loads(f.read_text())
        return task or str(result["task"]), int((result.get("settings") or {}).get("max_length", 128))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        if task is not None:
            return task, 128
        raise BadInput(f"{f} is missing or unreadable ({type(e).__name__}), so the model's task is unknown; "
                       f"pass --task FAMILY:LANG (the task it was fine-tuned on)") from None


def check_scorable(config, task) -> None:
    """Check that a task model can be scored on ``task``: the task has a test split, and the
    model's classes (``id2label`` of its config: a transformers config or the dict of a
    ``config.json``) are the task's, in its order.

    Raises:
        BadInput: no test split; another number or order of classes (the model was tuned on another task).
    """
    if not task.splits.get("test"):
        raise BadInput(f"{task.name} has no test split to score; pass a task with test data")
    id2label = (config.get("id2label") if isinstance(config, dict) else getattr(config, "id2label", None)) or {}
    labels = [str(label) for _, label in sorted((int(k), v) for k, v in id2label.items())]
    if labels != list(task.labels):
        raise BadInput(f"the model's {len(labels)} classes ({', '.join(labels[:8])}) are not those of {task.name} "
                       f"({', '.join(task.labels[:8])}); pass the task the model was fine-tuned on")


def eval_length(config, task, max_length: int) -> int:
    """Tokens per test example, as fine-tuning scored them (:func:`monoglot.tasks.evaluate_task`):
    ``max_length`` for sequence tasks, the model's longest sequence for token tasks (no word lost).
    ``config``: a transformers config or the dict of a ``config.json``."""
    from .positions import max_sequence_length

    longest = max_sequence_length(config)
    return longest if task.kind == "token" else min(max_length, longest)


def score_test_split(model, tokenizer, task, *, max_length: int = 128, batch_size: int = 32) -> dict[str, float]:
    """Test metrics (fractions, :func:`monoglot.tasks.finetune.score`) of a task model: a PyTorch
    model or an :class:`monoglot.deploy.OnnxTaskModel`, predicting in batches of ``batch_size``
    examples sorted by length as fine-tuning's own test score does (``2 * batch_size`` of
    training: 32 by default), so a saved model's PyTorch score repeats its ``task-result.json``.

    Raises:
        BadInput: the task has no test split, or the model's classes are not the task's (:func:`check_scorable`).
    """
    from .deploy import OnnxTaskModel
    from .tasks.finetune import encode, predict, score

    check_scorable(model.config, task)
    data = encode(tokenizer, task, "test", eval_length(model.config, task, max_length))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    token = task.kind == "token"
    run = model.predict if isinstance(model, OnnxTaskModel) else (lambda *a: predict(model, *a))
    return score(task, "test", run(data, pad, batch_size, token))


def compare_scores(model, tokenizer, onnx_dir: str | Path, task, *, max_length: int = 128,
                   threads: int | None = None) -> dict[str, dict[str, float]]:
    """The test metrics of a task model (loaded: :func:`load_task_model`) in PyTorch and of its
    ONNX export, side by side: ``{"pytorch": metrics, "onnx": metrics}`` (fractions; see
    :func:`score_test_split`; the export holds a copy of the same tokenizer). ``threads``:
    onnxruntime intra-op threads (default PyTorch's).

    Raises:
        BadInput: as :func:`score_test_split`.
    """
    from .deploy import OnnxTaskModel

    return {"pytorch": score_test_split(model, tokenizer, task, max_length=max_length),
            "onnx": score_test_split(OnnxTaskModel(onnx_dir, threads=threads), tokenizer, task, max_length=max_length)}


def compare_throughput(model, onnx_dir: str | Path, *, batch_size: int = 32, seq_len: int = 128,
                       batches: int = 3, rounds: int = 2, threads: int | None = None) -> dict:
    """CPU inference throughput of a task model's encoder in PyTorch (fp32; loaded:
    :func:`load_task_model`) and of its ONNX export, measured side by side: ``rounds`` alternating
    rounds (PyTorch, ONNX, PyTorch, ...) of :func:`monoglot.measure.model_throughput` and
    :func:`monoglot.deploy.onnx_throughput` (one warm-up batch, then ``batches`` timed batches of
    ``batch_size`` x ``seq_len`` random tokens), the same ``threads`` for both (default: PyTorch's).

    Returns:
        ``{"pytorch", "onnx"}``: sequences per second (the mean seconds per batch over the rounds),
        ``"ratio"`` (ONNX / PyTorch), ``"threads"``, ``"batch_size"``, ``"seq_len"``, ``"cpu"``
        (:func:`monoglot.cpu.cpu_info`: every timing names its CPU).
    """
    import torch

    from .cpu import cpu_info
    from .deploy import onnx_throughput
    from .measure import model_throughput

    threads = threads or torch.get_num_threads()
    seconds: dict[str, list[float]] = {"pytorch": [], "onnx": []}
    for _ in range(rounds):
        seconds["pytorch"].append(model_throughput(model, batch_size, seq_len, batches, threads)["seconds_per_batch"])
        seconds["onnx"].append(onnx_throughput(onnx_dir, batch_size, seq_len, batches, threads)["seconds_per_batch"])
    rate = {k: batch_size * len(v) / sum(v) for k, v in seconds.items()}
    return {**rate, "ratio": rate["onnx"] / rate["pytorch"], "threads": threads, "batch_size": batch_size,
            "seq_len": seq_len, "cpu": cpu_info()}


def export_and_score(model_dir: str | Path, out: str | Path, *, int8: bool = False, per_channel: bool = True,
                     optimize: bool = True, overwrite: bool = False, task: str | None = None, score: bool = False,
                     data_root: Path | None = None, threads: int | None = None, throughput: bool = False) -> dict:
    """``monoglot export``: :func:`export_task_model`, then with ``score`` (or a ``task``) the test
    scores of PyTorch and of the export side by side (:func:`compare_scores`) on ``task`` or the
    model's own (:func:`task_to_score`), and with ``throughput`` their speed side by side
    (:func:`compare_throughput`). Every input is checked before the export.

    Returns:
        ``{"out", "stats"`` (the export's ``monoglot.json`` stats), ``"task"`` (the spec or
        ``None``), ``"metric"``, ``"n_test"``, ``"scores"`` (:func:`compare_scores`, or ``None``),
        ``"throughput"`` (:func:`compare_throughput`, or ``None``)``}``.

    Raises:
        BadInput: as :func:`export_task_model`, :func:`task_to_score`, :func:`check_scorable` and
            :func:`monoglot.tasks.load_task`.
    """
    from .artifacts import check_new_output, read_meta
    from .tasks import load_task
    from .teachers import resolve_model

    out = check_new_output(out, overwrite)
    local = Path(resolve_model(str(model_dir)))  # a hub id: its snapshot
    spec, max_length, task_data = None, 128, None
    if score or task:
        spec, max_length = task_to_score(local, task)
        task_data = load_task(spec, data_root)
    model, tokenizer = load_task_model(local)  # once: the export, the scores and the timing share it
    if task_data is not None:
        check_scorable(model.config, task_data)
    _export(model, tokenizer, str(model_dir), out, int8=int8, per_channel=per_channel, optimize=optimize,
            overwrite=overwrite)
    return {"out": out, "stats": read_meta(out).get("stats", {}), "task": spec,
            "metric": task_data.metric if task_data else None, "n_test": len(task_data.splits["test"]) if task_data else 0,
            "scores": compare_scores(model, tokenizer, out, task_data, max_length=max_length, threads=threads) if task_data else None,
            "throughput": compare_throughput(model, out, threads=threads) if throughput else None}
