"""The CLI contract: bad input gives a one-line error, exit status 2, and no half-written output."""

import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monoglot.errors import BadInput
from monoglot.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def cli_process(*args, cwd=None):
    """``python -m monoglot ARGS`` in a new process (in ``cwd``, default the repository root)."""
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "monoglot", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env)


def cli(*args, cwd=None):
    """``monoglot ARGS`` through its entry point (:func:`monoglot.cli.main`) in this process: the
    exit status, stdout and stderr a new process would give, without its 4-5 s of start-up and
    imports. The signal handlers main() installs are restored afterwards. With ``cwd``: a new
    process in that folder (:func:`cli_process`)."""
    import contextlib
    import io
    import signal

    from monoglot import cli as entry

    if cwd is not None:
        return cli_process(*args, cwd=cwd)
    out, err = io.StringIO(), io.StringIO()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    argv, code = sys.argv, 0
    sys.argv = ["monoglot", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                entry.main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = argv
        for s, h in handlers.items():
            signal.signal(s, h)
        entry._SIGNALLED.clear()
    return subprocess.CompletedProcess(["monoglot", *map(str, args)], code, out.getvalue(), err.getvalue())


def assert_bad(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = [l for l in r.stderr.strip().splitlines() if l.startswith("error:")]
    assert len(err) == 1, r.stderr
    for w in words:
        assert w in err[0], err[0]


def test_help_lists_every_stage():
    r = cli_process("--help")  # `python -m monoglot`: the package's own entry point
    assert r.returncode == 0
    for cmd in ("teacher", "trim", "shrink", "distill", "evaluate", "report", "run", "embed", "export"):
        assert cmd in r.stdout
    r = cli("trim", "--help")
    assert "--min-count" in r.stdout and "--top-n" in r.stdout and "default" in r.stdout.lower()


def test_missing_and_empty_corpus(tmp_path, tiny_bert):
    assert_bad(cli("trim", tiny_bert, "--corpus", tmp_path / "nope.txt", "--out", tmp_path / "o"), "nope.txt", "does not exist")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert_bad(cli("trim", tiny_bert, "--corpus", empty, "--out", tmp_path / "o"), "empty.txt")
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.tmp-*"))


def test_not_an_encoder_and_existing_output(tmp_path, tiny_bert):
    corpus = tmp_path / "c.txt"
    corpus.write_text("habari ya asubuhi\n")
    assert_bad(cli("trim", tmp_path, "--corpus", corpus, "--out", tmp_path / "o"), "not a model directory")
    (tmp_path / "exists").mkdir()
    assert_bad(cli("shrink", tiny_bert, "--layers", "2", "--out", tmp_path / "exists"), "already exists")
    assert_bad(cli("shrink", tiny_bert, "--layers", "9", "--out", tmp_path / "s"), "larger than the teacher")


def test_non_utf8_corpus_is_decoded_counted_and_reported(tmp_path, tiny_bert):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"habari ya \xff\xfe asubuhi\nrafiki yangu\n")
    r = cli("trim", tiny_bert, "--corpus", corpus, "--out", tmp_path / "o", "--quiet")
    assert r.returncode == 0, r.stderr
    stats = json.loads((tmp_path / "o" / "monoglot.json").read_text())["stats"]
    assert stats["corpus"]["invalid_utf8"] == 2


def test_recipe_unknown_key_and_wrong_type(tmp_path):
    good = (ROOT / "recipes" / "swahili.toml").read_text()
    assert load_recipe(ROOT / "recipes" / "swahili.toml").shrink.layers == 4
    bad = tmp_path / "bad.toml"
    bad.write_text(good.replace("[shrink]\n", "[shrink]\nlayerz = 3\n"))
    assert_bad(cli("run", bad), "unknown key 'shrink.layerz'")
    bad.write_text(re.sub(r"(?m)^steps = \d+", 'steps = "many"', good, count=1))  # the [distill] steps
    assert_bad(cli("run", bad), "distill.steps")
    with pytest.raises(BadInput, match="does not exist"):
        load_recipe(tmp_path / "none.toml")


def test_recipe_overrides():
    recipe = ROOT / "recipes" / "swahili.toml"
    r = load_recipe(recipe, ["distill.steps=2400", "name=swahili-2400", "distill.loss.embedding=2.5",
                             'evaluate.tasks=["sib200:swh_Latn"]', "distill.lr = 5e-4"])
    base = load_recipe(recipe)
    assert (r.distill.steps, r.name, r.distill.lr, r.evaluate.tasks) == (2400, "swahili-2400", 5e-4, ["sib200:swh_Latn"])
    assert r.distill.loss == base.distill.loss.model_copy(update={"embedding": 2.5})   # the other weights stay
    assert r.shrink == base.shrink and r.data == base.data
    assert_bad(cli("run", recipe, "--set", "distill.stepz=3"), "unknown key 'distill.stepz'")
    assert_bad(cli("run", recipe, "--set", "distill.steps"), "expected KEY=VALUE")
    assert_bad(cli("run", recipe, "--set", "name.x=1"), "'name' is a value, not a table")
    assert_bad(cli("run", recipe, "--set", "distill.steps=many"), "distill.steps")


def test_evaluate_unknown_task(tmp_path, tiny_bert):
    assert_bad(cli("evaluate", tiny_bert, "--task", "nosuchtask:xx", "--out", tmp_path / "e"), "nosuchtask")


def test_evaluate_transfer_corpus_needs_a_teacher_and_sentence_tasks(tmp_path, tiny_bert):
    from conftest import toy_task, write_task_files

    corpus = tmp_path / "c.txt"
    corpus.write_text("habari ya asubuhi njema sana kwa wote leo.\n")
    tsv = {f"{k}.tsv": "text\tlabel\n" + "".join(f"{x}\t{y}\n" for x, y in v) for k, v in toy_task().splits.items()}
    folder = write_task_files(tmp_path, "toy", "xx", tsv)
    assert_bad(cli("evaluate", tiny_bert, "--task", folder, "--transfer-corpus", corpus, "--out", tmp_path / "e"),
               "--transfer-corpus needs --teacher DIR")
    tagged = write_task_files(tmp_path, "tags", "xx", {f"{k}.txt": "habari X\nyako Y\n\n" for k in ("train", "dev", "test")})
    assert_bad(cli("evaluate", tiny_bert, "--task", tagged, "--teacher", tiny_bert, "--transfer-corpus", corpus,
                   "--out", tmp_path / "e"), "is a token task", "sentence tasks only")
    assert not (tmp_path / "e").exists()

    # the good path: a teacher tuned on the task labels a transfer set of the corpus's clean sentences
    from monoglot.tasks import FinetuneSettings, evaluate_task

    fast = dict(epochs=1, batch_size=16, max_length=16)
    evaluate_task(tiny_bert, str(folder), FinetuneSettings(**fast), progress=False, save_to=tmp_path / "teacher")
    leaked = toy_task().splits["test"][0][0]
    corpus.write_text(f"habari ya asubuhi njema sana kwa wote leo. {leaked} kweli kabisa leo.\n")
    r = cli("evaluate", tiny_bert, "--task", folder, "--teacher", tmp_path / "teacher", "--transfer-corpus", corpus,
            "--epochs", 1, "--max-length", 16, "--out", tmp_path / "e", "--quiet")
    assert r.returncode == 0, r.stderr
    result = next(iter(json.loads((tmp_path / "e" / "results.json").read_text())[str(tiny_bert)].values()))
    assert (result["n_transfer"], result["method"]) == (1, "full+distill")  # the sentence holding a test sentence is dropped


def test_evaluate_task_distillation_options(tmp_path, tiny_bert):
    """--distill-* reach the task-distillation loss, need --teacher, and a hidden-state loss the
    student cannot take fails before any fine-tuning."""
    from conftest import make_tiny, toy_task, write_task_files

    tsv = {f"{k}.tsv": "text\tlabel\n" + "".join(f"{x}\t{y}\n" for x, y in v) for k, v in toy_task().splits.items()}
    folder = write_task_files(tmp_path, "toy", "xx", tsv)
    assert_bad(cli("evaluate", tiny_bert, "--task", folder, "--distill-hidden", 1, "--out", tmp_path / "e"),
               "--distill-hidden is a task-distillation setting", "--teacher DIR")
    # the task teacher: a model fine-tuned with --save-models (the first seed at the rate chosen on dev)
    assert_bad(cli("evaluate", tiny_bert, "--task", folder, "--method", "probe", "--save-models", "--out", tmp_path / "t"),
               "--save-models", "--method probe fine-tunes none")
    assert_bad(cli("evaluate", tiny_bert, tiny_bert, "--task", folder, "--save-models", "--out", tmp_path / "t"),
               "two models would share the folder")
    r = cli("evaluate", tiny_bert, "--task", folder, "--epochs", 1, "--max-length", 16, "--lr-grid", "1e-6,5e-3", "--seeds", 2,
            "--patience", 2, "--save-models", "--out", tmp_path / "t", "--quiet")
    assert r.returncode == 0, r.stderr
    tuned = json.loads((tmp_path / "t" / "results.json").read_text())[str(tiny_bert)][str(folder)]
    saved = tmp_path / "t" / tuned["saved_to"]
    assert saved.parent.name == "models" and sorted(p.name for p in saved.parent.iterdir()) == [saved.name]  # no other rate's model, no staging folder
    first = json.loads((saved / "task-result.json").read_text())
    assert (first["settings"]["lr"], first["settings"]["seed"], first["settings"]["patience"]) == (tuned["lr"], 42, 2)
    assert first["metrics"] == tuned["runs"][0]["metrics"]
    shutil.copytree(saved, tmp_path / "teacher")
    narrow = make_tiny(tmp_path / "narrow", "bert", hidden=32)  # same tokenizer, half the width, no saved basis
    assert_bad(cli("evaluate", tiny_bert, narrow, "--task", folder, "--teacher", tmp_path / "teacher", "--distill-hidden", 1,
                   "--out", tmp_path / "e"), "needs equal hidden sizes (teacher 64, student 32)", "--distill-hidden 0")
    assert_bad(cli("evaluate", tiny_bert, "--task", folder, "--teacher", tmp_path / "teacher", "--distill-alpha", 1.5,
                   "--out", tmp_path / "e"), "--distill-alpha", "less than or equal to 1")
    assert not (tmp_path / "e").exists()

    r = cli("evaluate", tiny_bert, "--task", folder, "--teacher", tmp_path / "teacher", "--distill-alpha", 0.25,
            "--distill-hidden", 1, "--distill-temperature", 3, "--epochs", 1, "--max-length", 16, "--out", tmp_path / "e", "--quiet")
    assert r.returncode == 0, r.stderr
    result = next(iter(json.loads((tmp_path / "e" / "results.json").read_text())[str(tiny_bert)].values()))
    assert result["method"] == "full+distill"
    assert {k: result["settings"][k] for k in ("distill_alpha", "distill_hidden", "distill_temperature", "distill_attention")} == \
        {"distill_alpha": 0.25, "distill_hidden": 1.0, "distill_temperature": 3.0, "distill_attention": 0.0}


def test_shrink_and_trim_options_are_checked(tmp_path, tiny_bert):
    r = cli("shrink", "--help")
    assert r.returncode == 0 and "--ffn-strategy" in r.stdout and "taylor" in r.stdout and "pca" in r.stdout
    assert_bad(cli("shrink", tiny_bert, "--ffn", 64, "--ffn-strategy", "magnitude", "--out", tmp_path / "s"),
               "unknown ffn strategy 'magnitude'", "taylor")
    assert_bad(cli("shrink", tiny_bert, "--ffn", 64, "--out", tmp_path / "s"), "needs target text", "--corpus")
    corpus = tmp_path / "c.txt"
    corpus.write_text("habari ya asubuhi\n")
    assert_bad(cli("trim", tiny_bert, "--corpus", corpus, "--coverage", 1.5, "--out", tmp_path / "t"), "--coverage", "1")
    assert not (tmp_path / "s").exists() and not (tmp_path / "t").exists()


def test_every_stage_option_defaults_to_its_settings_field():
    """The settings classes are the one source of every default: each option named like a field of
    its stage's settings has that field's default (and a help text)."""
    import typer

    from monoglot.cli import app
    from monoglot.distill.settings import AdaptSettings, DistillSettings
    from monoglot.shrink.settings import ShrinkSettings
    from monoglot.tasks.settings import FinetuneSettings
    from monoglot.vocab.settings import VocabPolicy

    commands = typer.main.get_command(app).commands
    checked = 0
    for command, settings in (("trim", VocabPolicy), ("shrink", ShrinkSettings), ("distill", DistillSettings),
                              ("adapt", AdaptSettings), ("evaluate", FinetuneSettings)):
        for param in commands[command].params:
            field = settings.model_fields.get(param.name)
            if field is None or isinstance(field.get_default(call_default_factory=True), (list, dict)) \
                    or param.name == "loss":
                continue
            assert param.default == field.default, (command, param.name, param.default, field.default)
            assert param.help, (command, param.name)
            checked += 1
    assert checked >= 40, checked


def test_usage_errors_are_one_line():
    """Unknown options, missing arguments and unknown commands: one ``error:`` line, no traceback, status 2."""
    for args, words in [(("run", "recipes/welsh.toml", "--resume"), ("No such option: --resume", "run --help")),
                        (("evaluate",), ("Missing argument 'models'", "evaluate --help")),
                        (("bogus",), ("No such command 'bogus'",))]:
        r = cli(*args)
        assert_bad(r, *words)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
