"""Direct tests of measurement (parameters, bytes, throughput), model cards and the report, on tiny
random-initialised models and hand-made evaluation results whose ratios are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import make_tiny
from monoglot.artifacts import write_meta
from monoglot.cards import model_card
from monoglot.measure import BusyWatch, count_parameters, dir_bytes, model_parameters, model_throughput, weights_bytes
from monoglot.recipe import Recipe
from monoglot.report import build_report


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def _result(kind: str, metric: str, value: float, method: str = "probe", **extra) -> dict:
    return {"kind": kind, "metric": metric, "metrics": {metric: value, **extra}, "std": {}, "method": method}


def test_parameter_count_reads_headers_and_splits_embeddings_tiny_random_bert(tmp_path):
    from transformers import AutoModel

    d = make_tiny(tmp_path / "m", "bert", layers=2, hidden=32, heads=2, ffn=64)
    model = AutoModel.from_pretrained(d, add_pooling_layer=False)  # as stored: no pooler
    counts = count_parameters(d)
    embedding = sum(p.numel() for n, p in model.named_parameters() if n.startswith("embeddings."))
    assert counts == {"total": model_parameters(model), "embedding": embedding, "encoder": model_parameters(model) - embedding}
    assert weights_bytes(d) == (d / "model.safetensors").stat().st_size
    assert dir_bytes(d) > weights_bytes(d)  # config and tokenizer files too
    assert count_parameters(tmp_path / "not-a-dir") is None  # e.g. a hub id


def test_tied_weights_count_once_tiny_random_xlmr_with_mlm_head(tmp_path):
    from transformers import AutoModelForMaskedLM

    d = make_tiny(tmp_path / "m", "xlmr", mlm=True, layers=1, hidden=32, heads=2, ffn=64)
    model = AutoModelForMaskedLM.from_pretrained(d)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert count_parameters(d)["total"] == model_parameters(model)


def test_throughput_reports_what_it_timed_tiny_random_bert(tmp_path):
    from transformers import AutoModel

    model = AutoModel.from_pretrained(make_tiny(tmp_path / "m", "bert", layers=1, hidden=32, heads=2, ffn=64))
    t = model_throughput(model, batch_size=4, seq_len=16, batches=2, threads=1)
    assert (t["batch_size"], t["seq_len"], t["threads"]) == (4, 16, 1)
    assert t["seconds_per_batch"] > 0 and t["sequences_per_second"] == pytest.approx(4 / t["seconds_per_batch"])
    assert t["other_busy_cores"] is None or t["other_busy_cores"] >= 0


def test_throughput_restores_the_process_thread_count_tiny_random_bert(tmp_path):
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(make_tiny(tmp_path / "m", "bert", layers=1, hidden=32, heads=2, ffn=64))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # e.g. OMP_NUM_THREADS=1 beside another job: fine-tuning after the report keeps it
        assert model_throughput(model, batch_size=2, seq_len=8, batches=1, threads=2)["threads"] == 2
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_busy_watch_counts_other_processes_not_its_own(monkeypatch):
    import monoglot.measure as measure

    # arithmetic: the machine spent 3 busy CPU seconds in 2 wall seconds, 1 of them this process's
    clocks = {"busy": iter([10.0, 13.0]), "own": iter([1.0, 2.0]), "wall": iter([100.0, 102.0])}
    monkeypatch.setattr(measure, "machine_busy_seconds", lambda: next(clocks["busy"]))
    monkeypatch.setattr(measure.time, "process_time", lambda: next(clocks["own"]))
    monkeypatch.setattr(measure.time, "perf_counter", lambda: next(clocks["wall"]))
    with BusyWatch() as w:
        pass
    assert w.other_cores() == pytest.approx(1.0)
    monkeypatch.setattr(measure, "machine_busy_seconds", lambda: None)  # no /proc/stat: unmeasurable, not zero
    monkeypatch.setattr(measure.time, "process_time", lambda: 0.0)
    monkeypatch.setattr(measure.time, "perf_counter", iter([0.0, 1.0]).__next__)
    with BusyWatch() as w:
        pass
    assert w.other_cores() is None


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="reads Linux's /proc/stat")
def test_busy_watch_sees_a_busy_child_process():
    import subprocess
    import sys

    spin = "import time\nwhile time.process_time() < 0.8: pass"
    with BusyWatch() as w:  # this process only waits; the child burns 0.8 CPU seconds
        subprocess.run([sys.executable, "-c", spin], check=True)
    assert w.other_cores() * (w.t1 - w.t0) >= 0.7  # the child's seconds, less one clock tick each end


def test_model_card_front_matter_scores_and_protocol_tiny_random_xlmr(tmp_path):
    d = make_tiny(tmp_path / "student", "xlmr", layers=1, hidden=32, heads=2, ffn=64)
    write_meta(d, "distill", "trimmed", {"steps": 10})
    row = {"parameters": {"total": 2_000_000}, "fewer_parameters": 0.9, "bytes": 8_000_000,
           "throughput": {"sequences_per_second": 123.4}, "speedup": 6.0}
    results = {"sib200:swh_Latn": _result("sequence", "accuracy", 0.56789),
               "masakhaner2:swa": _result("token", "entity_f1", 0.61)}
    card = model_card(d, name="swahili-student", languages=["sw", "en"], base_model="e5-small", license="mit",
                      row=row, results=results).read_text()
    meta = _front_matter(card)
    assert meta["language"] == ["sw", "en"] and meta["license"] == "mit"
    assert meta["base_model"] == "intfloat/multilingual-e5-small"
    index = meta["model-index"][0]["results"]
    assert [r["metrics"][0]["value"] for r in index] == [56.79, 61.0]
    assert [r["task"]["type"] for r in index] == ["text-classification", "token-classification"]
    assert "| sib200:swh_Latn | accuracy | 56.8 |" in card
    assert "2.00M (90.0% fewer than the teacher)" in card and "123.4 sequences/s (6.0x the teacher)" in card
    assert "frozen-encoder probes" in card and "fine-tuned on train" not in card  # the card names how it was scored

    results = {"sib200:swh_Latn": _result("sequence", "accuracy", 0.5, method="finetune")}
    card = model_card(d, name="s", languages=["sw"], base_model="e5-small", license="mit", row=row, results=results).read_text()
    assert "fine-tuned on train" in card and "frozen-encoder probes" not in card


def test_report_ratios_baselines_and_tables_tiny_random(tmp_path):
    teacher = make_tiny(tmp_path / "teacher", "xlmr", layers=2, hidden=64, heads=4, ffn=128)
    student = make_tiny(tmp_path / "student", "xlmr", layers=1, hidden=32, heads=2, ffn=64)
    recipe = Recipe(name="tiny", languages=["sw"], teacher=str(teacher), data={"corpora": ["c.txt"]},
                    measure={"batch_size": 2, "seq_len": 8, "batches": 1, "threads": 1})
    sib = "sib200:swh_Latn"
    results = {
        "teacher": {sib: _result("sequence", "accuracy", 0.60, macro_f1=0.50) | {"majority": {"accuracy": 0.25, "macro_f1": 0.1}},
                    "flores:eng_Latn-swh_Latn": _result("bitext", "f1", 0.80) | {"majority": {"f1": 0.001}}},
        "student": {sib: _result("sequence", "accuracy", 0.45, macro_f1=0.40) | {"majority": {"accuracy": 0.25, "macro_f1": 0.1}},
                    "flores:eng_Latn-swh_Latn": _result("bitext", "f1", 0.60) | {"majority": {"f1": 0.001}}},
    }
    run = tmp_path / "run"
    run.mkdir()
    build_report(run, recipe, {"teacher": teacher, "student": student}, results, note="two tasks")
    report = json.loads((run / "report.json").read_text())
    s, t = report["models"]["student"], report["models"]["teacher"]
    assert s["relative_to_teacher"] == pytest.approx({sib: 0.75, "flores:eng_Latn-swh_Latn": 0.75})
    assert s["average_kept"] == pytest.approx(0.75) and t["average_kept"] == pytest.approx(1.0)
    assert s["fewer_parameters"] == pytest.approx(1 - s["parameters"]["total"] / t["parameters"]["total"])
    assert s["speedup"] == pytest.approx(s["throughput"]["sequences_per_second"] / t["throughput"]["sequences_per_second"])
    md = (run / "report.md").read_text()
    assert "Tasks: two tasks." in md
    assert f"### {sib} (in-language; acc on test)" in md and "| majority class | 25.0 | – |" in md
    assert "| chance | 0.1 | – |" in md  # bitext: chance, not a majority class
    assert "| student | 45.0 | 75.0% | 25.0% |" in md
    assert "frozen-encoder probes" in md  # the probe protocol is named
    assert (student / "README.md").is_file() is False  # cards only for directories under the run folder


def test_report_keeps_idle_measurements_and_warns_on_busy_ones_tiny_random(tmp_path, monkeypatch):
    import monoglot.report as report_mod

    teacher = make_tiny(tmp_path / "teacher", "xlmr", layers=2, hidden=64, heads=4, ffn=128)
    student = make_tiny(tmp_path / "student", "xlmr", layers=1, hidden=32, heads=2, ffn=64)
    write_meta(student, "distill", "trimmed", {}, settings_hash="h1")
    recipe = Recipe(name="tiny", languages=["sw"], teacher=str(teacher), data={"corpora": ["c.txt"]},
                    measure={"batch_size": 2, "seq_len": 8, "batches": 1, "threads": 1})
    results = {label: {"sib200:swh_Latn": _result("sequence", "accuracy", v)} for label, v in (("teacher", 0.6), ("student", 0.5))}
    models = {"teacher": teacher, "student": student}
    speeds, timed = [10.0, 50.0, 20.0, 60.0, 30.0, 90.0, 40.0, 80.0], []
    busy = {"cores": 0.0}

    def fake_throughput(path, *args):
        timed.append(Path(path).name)
        return {"sequences_per_second": speeds[len(timed) - 1], "seconds_per_batch": 1.0, "batch_size": 2,
                "seq_len": 8, "threads": 1, "other_busy_cores": busy["cores"]}

    monkeypatch.setattr(report_mod, "cpu_throughput", fake_throughput)
    run = tmp_path / "run"
    run.mkdir()

    def speedup() -> float:
        return json.loads((run / "report.json").read_text())["models"]["student"]["speedup"]

    build_report(run, recipe, models, results)
    assert speedup() == pytest.approx(5.0)
    build_report(run, recipe, models, results, remeasure=False)  # same models on an idle machine: kept
    assert speedup() == pytest.approx(5.0)
    build_report(run, recipe, models, results)  # remeasure (as `monoglot report` does)
    assert speedup() == pytest.approx(3.0)
    write_meta(student, "distill", "trimmed", {}, settings_hash="h2")  # the student changed: measured again
    busy["cores"] = 1.5
    build_report(run, recipe, models, results, remeasure=False)
    assert speedup() == pytest.approx(3.0)
    md = (run / "report.md").read_text()
    assert "Warning: other processes kept 1.5 cores busy while teacher was timed" in md
    assert "rerun `monoglot report RUN_DIR` on an idle machine" in md
    build_report(run, recipe, models, results, remeasure=False)  # busy measurements are never kept
    assert timed == ["teacher", "student"] * 4 and speedup() == pytest.approx(2.0)


@pytest.fixture
def saved_figure(monkeypatch) -> dict:
    """The figure a plot function saves (``["fig"]``), kept open instead of written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved = {}
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, path, **kw: saved.update(fig=fig, path=path))
    monkeypatch.setattr(plt, "close", lambda fig: None)
    return saved


def test_retention_plot_draws_one_line_per_mix_in_token_order(tmp_path, saved_figure):
    from monoglot.plots import retention_plot

    runs = [{"mix": "sw", "tokens": 3.67e6, "seconds": 1291, "mean_retention": 0.895},
            {"mix": "cy", "tokens": 2.09e6, "seconds": 709, "mean_retention": 0.870},
            {"mix": "sw", "tokens": 2.56e6, "seconds": 938, "mean_retention": 0.884}]
    assert retention_plot(runs, tmp_path / "r.png") == tmp_path / "r.png"
    tokens_ax, time_ax = saved_figure["fig"].axes
    lines = {l.get_label(): l for l in tokens_ax.get_lines() if l.get_label() in ("sw", "cy")}
    assert list(lines["sw"].get_xdata()) == [2.56, 3.67] and list(lines["sw"].get_ydata()) == pytest.approx([88.4, 89.5])
    assert list(lines["cy"].get_xdata()) == [2.09]
    assert [l.get_label() for l in time_ax.get_lines() if l.get_label() == "sw"] == ["sw"]
    assert tokens_ax.get_xscale() == "log"


def test_retention_plot_without_time_has_only_the_tokens_panel(tmp_path, saved_figure):
    from monoglot.plots import retention_plot

    retention_plot([{"mix": "sw", "tokens": 2.56e6, "mean_retention": 0.896}], tmp_path / "r.png", time=False)  # no seconds needed
    (ax,) = saved_figure["fig"].axes
    assert "tokens" in ax.get_xlabel()
