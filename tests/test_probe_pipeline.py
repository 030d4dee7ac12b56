"""Probes in the pipeline: a recipe's default method, default tasks from its languages (no language
named in the code), baselines (majority class, student-init, teacher) and "kept vs teacher" in the
report; the CLI's --method probe."""

import json

from conftest import SWAHILI, make_tiny, write_task_files

from monoglot.pipeline import run_recipe
from monoglot.recipe import load_recipe
from monoglot.tasks.defaults import default_tasks

SIB_HEADER = "index_id\tcategory\ttext\n"


def _sib(root, lang, n=24):
    rows = "".join(f"{i}\t{'ab'[i % 2]}\t{SWAHILI[i % 4]} {i}\n" for i in range(n))
    write_task_files(root, "sib200", lang, {"train.tsv": SIB_HEADER + rows, "dev.tsv": SIB_HEADER + rows[:200],
                                            "test.tsv": SIB_HEADER + rows, "labels.txt": "a\nb\n"})


def test_default_tasks_follow_the_recipe_languages(tmp_path):
    _sib(tmp_path, "yor_Latn")
    _sib(tmp_path, "eng_Latn")
    write_task_files(tmp_path, "masakhapos", "yor", {"test.txt": "ile NOUN\n"})
    tasks, note = default_tasks(["yo", "en"], tmp_path)
    assert tasks == ["sib200:yor_Latn", "masakhapos:yor", "sib200:eng_Latn->sib200:yor_Latn", "flores:eng_Latn-yor_Latn"]
    assert "target language 'yo'" in note and "masakhapos:yor" in note
    assert default_tasks(["sw"], tmp_path) == ([], f"no [evaluate] tasks and none found under {tmp_path / 'tasks'} "
                                                   f"for target language 'sw': nothing evaluated")
    assert default_tasks([], tmp_path)[0] == [] and "no recipe languages" in default_tasks([], tmp_path)[1]
    assert default_tasks(["xx"], tmp_path)[0] == []


def test_default_tasks_swahili_on_the_shared_data_root(data):
    tasks, _ = default_tasks(["sw", "en"], data)
    assert tasks == ["sib200:swh_Latn", "masakhanews:swa", "afrisenti:swa", "masakhapos:swa", "masakhaner2:swa",
                     "sib200:eng_Latn->sib200:swh_Latn", "flores:eng_Latn-swh_Latn"]
    assert not any("swh" in t or "swa" in t for t in default_tasks(["cy"], data)[0])  # Welsh: no Swahili task


def _recipe(tmp_path, teacher, corpus, languages):
    f = tmp_path / "r.toml"
    f.write_text(f'''
name = "tiny"
teacher = "{teacher}"
languages = {json.dumps(languages)}
[data]
corpora = ["{corpus}"]
[shrink]
layers = 1
hidden = 16
ffn = 32
seq_len = 16
importance_sequences = 4
[distill]
steps = 2
batch_size = 2
seq_len = 16
val_batches = 1
[measure]
batch_size = 2
seq_len = 16
batches = 1
''')
    return load_recipe(f)


def test_recipe_without_evaluate_probes_default_tasks_with_baselines_tiny_random_xlmr(tmp_path):
    teacher = make_tiny(tmp_path / "teacher", "xlmr", hidden=32, heads=4, ffn=64, layers=2)
    corpus = tmp_path / "swa.txt"
    corpus.write_text("\n".join(SWAHILI * 40) + "\n")
    root = tmp_path / "data"
    _sib(root, "swh_Latn")
    _sib(root, "eng_Latn")
    run_dir = run_recipe(_recipe(tmp_path, teacher, corpus, ["sw", "en"]), out=tmp_path / "out", data=root, progress=False)
    report = json.loads((run_dir / "report.json").read_text())
    md = (run_dir / "report.md").read_text()
    tasks = ["sib200:swh_Latn", "sib200:eng_Latn->sib200:swh_Latn", "flores:eng_Latn-swh_Latn"]
    assert list(report["models"]) == ["teacher", "trimmed teacher", "student-init", "student"]
    for label in report["models"]:
        assert list(report["evaluation"][label]) == tasks
        assert all(r["method"] == "probe" for r in report["evaluation"][label].values())
    assert "Tasks: no [evaluate] tasks: evaluated the tasks found under" in md and "frozen-encoder probes" in md
    assert "| majority class | 50.0 |" in md and "| chance |" in md  # 12 a / 12 b; 24 bitext pairs
    student = report["models"]["student"]
    assert student["average_kept"] == sum(student["relative_to_teacher"].values()) / 3
    assert "average kept vs teacher" in md and "kept vs teacher" in md


def test_yoruba_recipe_without_evaluate_gets_no_swahili_task(tmp_path):
    from monoglot.pipeline import recipe_tasks

    root = tmp_path / "data"
    _sib(root, "swh_Latn")  # Swahili tasks exist, but the recipe is Yoruba: none may be evaluated
    recipe = _recipe(tmp_path, "e5-small", tmp_path / "yor.txt", ["yo"])
    assert recipe.evaluate.tasks is None and recipe.evaluate.method == "probe"
    tasks, note = recipe_tasks(recipe, root)
    assert tasks == [] and "target language 'yo': nothing evaluated" in note


def test_cli_evaluate_method_probe_writes_results_tiny_random_bert(tmp_path, tiny_bert):
    from test_cli import assert_bad, cli

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("habari ya asubuhi\nrafiki yangu\nmpira\n")
    b.write_text("habari ya asubuhi\nrafiki yangu\nmpira\n")
    spec = f"bitext:{a},{b}"
    r = cli("evaluate", tiny_bert, "--method", "probe", "--task", spec, "--out", tmp_path / "e", "--quiet")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "e" / "results.json").read_text())[str(tiny_bert)][spec]
    assert res["method"] == "probe" and res["metrics"]["f1"] == 1.0
    assert "\tprobe\tf1=1.0000±0.0000" in r.stdout
    b.write_text("habari\n")
    assert_bad(cli("evaluate", tiny_bert, "--method", "probe", "--task", spec, "--out", tmp_path / "e2"), "has 3 lines but")
    assert not (tmp_path / "e2").exists()


def test_recipe_deploy_needs_finetune(tmp_path):
    from test_cli import assert_bad, cli

    from monoglot.recipe import load_recipe as load

    from pathlib import Path
    good = (Path(__file__).resolve().parents[1] / "recipes" / "swahili.toml").read_text()
    assert load(Path(__file__).resolve().parents[1] / "recipes" / "swahili.toml").evaluate.method == "probe"
    bad = tmp_path / "bad.toml"
    bad.write_text(good.replace("deploy = false", "deploy = true"))
    assert_bad(cli("run", bad), "deploy = true", 'method = "finetune"')
