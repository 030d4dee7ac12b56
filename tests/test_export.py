"""`monoglot export`: a saved task model (tiny random-initialised BERT / XLM-R, fine-tuned by
`evaluate --save-models` on toy tasks) to ONNX fp32 and int8, scored beside PyTorch (monoglot.export)."""

import json
import random
import re
import shutil

import pytest
from conftest import make_tiny, toy_task, write_task_files
from test_cli import assert_bad, cli

from monoglot.errors import BadInput
from monoglot.export import export_and_score


def _sequence_folder(root):
    tsv = {f"{k}.tsv": "text\tlabel\n" + "".join(f"{x}\t{y}\n" for x, y in v) for k, v in toy_task().splits.items()}
    return write_task_files(root, "toy", "xx", tsv)


def _token_folder(root):
    """POS-like toy task: a word's tag is fixed by the word (NOUN for shule, ...), 60/20/20 sentences."""
    rng = random.Random(0)
    tags = {"shule": "NOUN", "watoto": "NOUN", "wanacheza": "VERB", "kubwa": "ADJ", ".": "PUNCT"}
    words = list(tags)

    def split(n):
        return "".join("".join(f"{w} {tags[w]}\n" for w in (rng.choice(words) for _ in range(rng.randint(2, 9)))) + "\n"
                       for _ in range(n))
    return write_task_files(root, "toypos", "xx", {"train.conll": split(60), "dev.conll": split(20), "test.conll": split(20)})


def _saved(root, family, make_folder):
    """``(folder, saved model, its result)``: a tiny model fine-tuned on a toy task as `evaluate
    --save-models` does (monoglot.tasks.verdict.evaluate with save_to; one seed, one rate)."""
    from monoglot.tasks import FinetuneSettings
    from monoglot.tasks.verdict import evaluate

    folder = make_folder(root)
    model = make_tiny(root / "tiny", family, hidden=32, heads=2, ffn=64, layers=2)
    settings = FinetuneSettings(epochs=3, lr=5e-3, max_length=16)
    result = evaluate(model, str(folder), settings, progress=False, save_to=root / "saved")
    return folder, root / "saved", result


@pytest.fixture(scope="module")
def seq_saved(tmp_path_factory):
    return _saved(tmp_path_factory.mktemp("seq"), "bert", _sequence_folder)


@pytest.mark.slow(seconds=15)
@pytest.mark.parametrize("family", ["bert", "xlmr"])
def test_export_scores_as_the_saved_model(tmp_path, family, seq_saved):
    """The PyTorch score repeats the saved task-result.json to the last digit; the fp32 graph scores
    the same; int8 keeps the parent and the fp32 export's check in monoglot.json and is smaller.
    BERT on a sequence task, XLM-R on a token task."""
    folder, saved, result = seq_saved if family == "bert" else _saved(tmp_path, family, _token_folder)
    recorded = json.loads((saved / "task-result.json").read_text())
    assert recorded["metrics"] == result["runs"][0]["metrics"] and recorded["task"] == str(folder)

    fp32 = export_and_score(saved, tmp_path / "fp32", score=True)
    metric = recorded["metric"]
    assert (fp32["task"], fp32["n_test"]) == (str(folder), 20 if family == "xlmr" else 40)
    assert fp32["scores"]["pytorch"] == recorded["metrics"]
    assert fp32["scores"]["onnx"][metric] == fp32["scores"]["pytorch"][metric]
    assert fp32["stats"]["max_abs_diff"] <= 1e-4

    int8 = export_and_score(saved, tmp_path / "int8", int8=True, score=True)
    meta = json.loads((tmp_path / "int8" / "monoglot.json").read_text())
    assert meta["parent"] == str(saved) and meta["settings"]["per_channel"] is True
    assert meta["stats"]["fp32_export"]["max_abs_diff"] <= 1e-4
    assert meta["stats"]["weights_bytes"] < meta["stats"]["parent_weights_bytes"] == fp32["stats"]["weights_bytes"]
    assert int8["scores"]["pytorch"] == recorded["metrics"]
    assert 0 <= int8["scores"]["onnx"][metric] <= 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary fp32 graph left


@pytest.mark.slow(seconds=20)
def test_export_cli_lines_and_errors(tmp_path, seq_saved):
    folder, saved, _ = seq_saved
    r = cli("export", saved, "--out", tmp_path / "o", "--int8", "--per-tensor", "--score", "--throughput", "--threads", 1)
    assert r.returncode == 0, r.stderr
    head, score, speed = r.stdout.strip().splitlines()[-3:]
    assert head.startswith(f"{tmp_path / 'o'}: ONNX int8 (per tensor) of {saved}") and "of PyTorch's" in head
    assert score.startswith(f"test macro_f1 on {folder} (40 examples): PyTorch ") and "ONNX int8 (per tensor)" in score
    assert json.loads((tmp_path / "o" / "monoglot.json").read_text())["settings"]["per_channel"] is False
    from monoglot.cpu import cpu_info
    assert re.fullmatch(rf"throughput \(32 x 128 tokens, 1 threads, {re.escape(cpu_info()['model'])}\): PyTorch fp32 [0-9.]+ seq/s, "
                        r"ONNX int8 \(per tensor\) [0-9.]+ seq/s \([0-9.]+x\)", speed), speed

    assert_bad(cli("export", saved, "--out", tmp_path / "p", "--per-tensor"), "--per-tensor", "add --int8")

    def bad(*words, model=saved, **kw):  # BadInput: the CLI's one-line error (test_cli), raised before any export
        with pytest.raises(BadInput) as e:
            export_and_score(model, kw.pop("out", tmp_path / "p"), **kw)
        assert all(w in str(e.value) for w in words), str(e.value)

    bad("already exists", out=tmp_path / "o")
    other = write_task_files(tmp_path, "three", "xx", {"test.tsv": "text\tlabel\nshule\ta\nmti\tb\nnyumba\tc\n"})
    bad("classes (a, b)", "not those of", "the task the model was fine-tuned on", task=str(other))
    bare = tmp_path / "bare"
    shutil.copytree(saved, bare, ignore=shutil.ignore_patterns("task-result.json"))
    bad("task-result.json", "--task FAMILY:LANG", model=bare, score=True)
    bad("cannot export", "ForSequenceClassification", model=make_tiny(tmp_path / "encoder", "bert", hidden=32, heads=2, ffn=64, layers=2))
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p*"))
