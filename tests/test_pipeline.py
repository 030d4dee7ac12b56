"""The whole recipe on a tiny random-initialised XLM-R teacher: trim -> importance shrink -> distill
-> evaluate on real SIB-200 -> report with the trimming and shrink-step tables; a rerun is cached."""

import json

from conftest import SWAHILI, make_tiny

from monoglot.pipeline import run_recipe
from monoglot.recipe import load_recipe

# one fine-tuning epoch on real SIB-200 Swahili, tiny throughput measurement
EVAL_TAIL = '''
[evaluate]
method = "finetune"
tasks = ["sib200:swh_Latn"]
[evaluate.finetune]
epochs = 1
batch_size = 64
max_length = 32
[measure]
batch_size = 2
seq_len = 16
batches = 1
'''


def test_recipe_end_to_end_tiny_random_xlmr(tmp_path, data):
    teacher = make_tiny(tmp_path / "teacher", "xlmr", hidden=32, heads=4, ffn=64, layers=3)
    corpus = tmp_path / "swa.txt"
    corpus.write_text("\n".join(SWAHILI * 60) + "\n")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'''
name = "tiny"
teacher = "{teacher}"
[data]
corpora = ["{corpus}"]
[trim]
coverage = 0.999
[shrink]
layers = 2
hidden = 16
ffn = 32
layer_strategy = "importance"
importance_sequences = 8
seq_len = 16
[distill]
steps = 3
batch_size = 2
seq_len = 16
val_batches = 1
''' + EVAL_TAIL.replace("[evaluate]\n", "[evaluate]\ndeploy = true\n"))
    run_dir = run_recipe(load_recipe(recipe), out=tmp_path / "out", data=data, progress=False)
    report = (run_dir / "report.md").read_text()
    assert "## Vocabulary trimming" in report and "![coverage" in report and (run_dir / "trimmed" / "coverage.png").exists()
    assert "## Shrink steps" in report and "| + heads and hidden | 2-16-2-32 |" in report
    data_ = json.loads((run_dir / "report.json").read_text())
    assert data_["shrink"]["choices"]["layers"]["strategy"] == "importance"
    from monoglot.cpu import cpu_info
    assert data_["cpu"] == cpu_info() and f"CPU threads on {cpu_info()['model']} (" in report  # every timing names its CPU
    assert data_["shrink"]["choices"]["hidden"]["strategy"] == "pca"
    assert set(data_["models"]) == {"teacher", "trimmed teacher", "student-init", "student", "student (ONNX fp32)", "student (ONNX int8)"}
    onnx = data_["models"]["student (ONNX fp32)"]
    assert onnx["bytes"] > data_["models"]["student (ONNX int8)"]["bytes"] and onnx["throughput"]["sequences_per_second"] > 0
    assert 0 <= onnx["scores"]["sib200:swh_Latn/macro_f1"] <= 1 and "| student (ONNX int8) |" in report
    first_seed = data_["evaluation"]["student"]["sib200:swh_Latn"]["runs"][0]["metrics"]["macro_f1"]
    assert onnx["scores"]["sib200:swh_Latn/macro_f1"] == first_seed  # the same task model, in onnxruntime
    init = json.loads((run_dir / "student-init" / "monoglot.json").read_text())
    assert init["settings"]["corpora"] == [corpus.name]  # no absolute path of the builder's machine
    assert "### sib200:swh_Latn (in-language; macro-F1 on test)" in report and "| student |" in report
    f1 = 100 * data_["evaluation"]["student"]["sib200:swh_Latn"]["metrics"]["macro_f1"]
    assert f"| student | {f1:.1f} |" in report
    assert (run_dir / "pareto_parameters.png").stat().st_size > 1000 and (run_dir / "pareto_throughput.png").is_file()
    card = (run_dir / "student" / "README.md").read_text()
    from huggingface_hub import ModelCard
    meta = ModelCard.load(run_dir / "student" / "README.md").data  # the hub's own reader
    assert meta.license == "mit" and meta.base_model == str(teacher) and meta.eval_results[0].metric_type == "macro_f1"
    rel = data_["models"]["student"]["relative_to_teacher"]["sib200:swh_Latn"]
    assert rel == data_["models"]["student"]["primary"]["sib200:swh_Latn"] / data_["models"]["teacher"]["primary"]["sib200:swh_Latn"]
    mtime = (run_dir / "student" / "model.safetensors").stat().st_mtime_ns
    run_recipe(load_recipe(recipe), out=tmp_path / "out", data=data, progress=False)
    assert (run_dir / "student" / "model.safetensors").stat().st_mtime_ns == mtime  # cached, not redone


def test_two_step_bilingual_recipe_with_teacher_adaptation_tiny_random_xlmr(tmp_path, data):
    """adapt (MLM head on the frozen body) -> assistant (logit + hidden + attention) -> student, on
    alternating Swahili/English batches; the report lists the assistant and the student."""
    teacher = make_tiny(tmp_path / "teacher", "xlmr", hidden=32, heads=4, ffn=64, layers=3)
    swa, eng = tmp_path / "swa.txt", tmp_path / "eng.txt"
    swa.write_text("\n".join(SWAHILI * 60) + "\n")
    eng.write_text("\n".join(["The quick brown fox.", "Good morning, my friend."] * 80) + "\n")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'''
name = "two-step"
teacher = "{teacher}"
[data]
corpora = ["{swa}"]
source_corpora = ["{eng}"]
[trim]
min_rel_freq = 1e-6
[adapt]
head_steps = 3
batch_size = 2
seq_len = 16
[assistant.shrink]
layers = 2
seq_len = 16
importance_sequences = 4
[assistant.distill]
steps = 4
batch_size = 2
seq_len = 16
val_batches = 1
loss = {{ logits = 1.0, hidden = 1.0, attention = 1.0 }}
[shrink]
layers = 1
hidden = 16
ffn = 32
seq_len = 16
importance_sequences = 4
[distill]
steps = 4
batch_size = 2
seq_len = 16
val_batches = 1
loss = {{ logits = 1.0, hidden = 1.0, attention = 0.0, relations = 1.0 }}
''' + EVAL_TAIL)
    run_dir = run_recipe(load_recipe(recipe), out=tmp_path / "out", data=data, progress=False)
    meta = {n: json.loads((run_dir / n / "monoglot.json").read_text()) for n in ("adapted", "assistant", "student")}
    assert meta["adapted"]["stage"] == "adapt"
    assert meta["assistant"]["settings"]["teacher"] == str(run_dir / "adapted")
    assert meta["student"]["settings"]["teacher"] == str(run_dir / "assistant")
    for n in ("assistant", "student"):
        h = meta[n]["stats"]["history"]
        assert [r["lang"] for r in h] == ["target", "source"] * 2 and all(r["logits"] > 0 for r in h)
        assert set(meta[n]["stats"]["val_loss_after"]) == {"target", "source"}
    assert json.loads((run_dir / "student" / "config.json").read_text())["num_hidden_layers"] == 1
    report = json.loads((run_dir / "report.json").read_text())
    assert set(report["models"]) == {"teacher", "trimmed teacher", "assistant", "student-init", "student"}


def test_every_shipped_recipe_validates():
    from pathlib import Path

    recipes = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))
    assert len(recipes) >= 2
    for f in recipes:
        load_recipe(f)
