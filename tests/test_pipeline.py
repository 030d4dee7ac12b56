"""The whole recipe on a tiny random-initialised XLM-R teacher: trim -> importance shrink -> distill
-> evaluate on real SIB-200 -> report with the trimming and shrink-step tables; a rerun is cached."""

import json

from conftest import SWAHILI, make_tiny

from monoglot.pipeline import run_recipe
from monoglot.recipe import load_recipe


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
[evaluate]
tasks = ["sib200:swh_Latn"]
[evaluate.finetune]
epochs = 1
batch_size = 64
max_length = 32
[measure]
batch_size = 2
seq_len = 16
batches = 1
''')
    run_dir = run_recipe(load_recipe(recipe), out=tmp_path / "out", data=data, progress=False)
    report = (run_dir / "report.md").read_text()
    assert "## Vocabulary trimming" in report and "![coverage" in report and (run_dir / "trimmed" / "coverage.png").exists()
    assert "## Shrink steps" in report and "| + heads and hidden | 2-16-2-32 |" in report
    data_ = json.loads((run_dir / "report.json").read_text())
    assert data_["shrink"]["choices"]["layers"]["strategy"] == "importance"
    assert data_["shrink"]["choices"]["hidden"]["strategy"] == "pca"
    assert set(data_["models"]) == {"teacher", "trimmed teacher", "student"}
    init = json.loads((run_dir / "student-init" / "monoglot.json").read_text())
    assert init["settings"]["corpora"] == [str(corpus)]
    mtime = (run_dir / "student" / "model.safetensors").stat().st_mtime_ns
    run_recipe(load_recipe(recipe), out=tmp_path / "out", data=data, progress=False)
    assert (run_dir / "student" / "model.safetensors").stat().st_mtime_ns == mtime  # cached, not redone
