"""benchmarks/quality.py's task teacher for task distillation, on a tiny random-initialised BERT
standing in for the trimmed teacher (fast)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import make_tiny, toy_task, write_task_files
from monoglot.tasks import FinetuneSettings, evaluate_task


def _quality():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"
    spec = importlib.util.spec_from_file_location("quality_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sib_like_task(root: Path) -> str:
    """conftest's toy task in SIB-200's format, as the task 'sib200:xx_Latn'."""

    def tsv(examples) -> str:
        return "index_id\tcategory\ttext\n" + "".join(f"{i}\t{y}\t{x}\n" for i, (x, y) in enumerate(examples))

    write_task_files(root, "sib200", "xx_Latn", {f"{k}.tsv": tsv(v) for k, v in toy_task().splits.items()}
                     | {"labels.txt": "a\nb\n"})
    return "sib200:xx_Latn"


def test_the_task_teacher_is_the_trimmed_teacher_tuned_at_the_rate_best_on_dev_and_is_cached(tmp_path):
    quality = _quality()
    run = tmp_path / "run"
    make_tiny(run / "trimmed", "bert", layers=2)
    spec = _sib_like_task(tmp_path)
    s = FinetuneSettings(epochs=2, batch_size=16, max_length=16, lr_grid=[1e-6, 3e-3])

    out = quality.task_teacher(run, spec, s, tmp_path, progress=False)
    dev = {lr: evaluate_task(run / "trimmed", spec, s.model_copy(update={"lr": lr}), data_root=tmp_path,
                             progress=False)["dev_metrics"]["macro_f1"] for lr in s.lr_grid}
    best = max(s.lr_grid, key=dev.__getitem__)
    kept = json.loads((out / "task-result.json").read_text())
    assert kept["settings"]["lr"] == best and kept["dev_metrics"]["macro_f1"] == pytest.approx(dev[best])
    assert len(json.loads((out / "config.json").read_text())["id2label"]) == 2
    assert not list(out.parent.glob("*.tmp"))  # the other rates' models are gone

    weights = (out / "model.safetensors").stat().st_mtime_ns
    assert quality.task_teacher(run, spec, s, tmp_path, progress=False) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == weights  # the same settings: not tuned again
    quality.task_teacher(run, spec, s.model_copy(update={"seed": 7}), tmp_path, progress=False)
    assert (out / "model.safetensors").stat().st_mtime_ns != weights  # other settings: tuned again


def test_the_transfer_set_is_a_sample_of_the_recipes_corpora_without_its_tasks_sentences(tmp_path):
    from monoglot.recipe import load_recipe

    quality = _quality()
    spec = _sib_like_task(tmp_path)
    test_sentence = toy_task().splits["test"][0][0]  # 5 words: a short evaluation sentence is a span itself
    (tmp_path / "corpora").mkdir()
    clean = [f"sentensi safi namba {i} kutoka gazeti la leo." for i in range(30)]
    (tmp_path / "corpora" / "c.txt").write_text(" ".join(clean[:15]) + "\n" + f"habari {test_sentence} hapa leo. " + " ".join(clean[15:]) + "\n")
    recipe_file = tmp_path / "r.toml"
    recipe_file.write_text(f'name = "r"\nlanguages = ["sw"]\n[data]\ncorpora = ["corpora/c.txt"]\n[evaluate]\ntasks = ["{spec}"]\n')
    got = quality.transfer_set(load_recipe(recipe_file), tmp_path, 100)
    assert got == clean  # every clean sentence, in order; the one holding a test sentence is dropped
    assert len(quality.transfer_set(load_recipe(recipe_file), tmp_path, 10)) == 10
