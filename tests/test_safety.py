"""Never lose a user's work (issue 12): signals, folders monoglot did not write, pickles, bad weights,
unwritable outputs, the network, file modes, non-text corpora and loose specs.

The signal tests start ``python -m monoglot`` on a tiny random model and interrupt it; the others run
the CLI in-process (``cli.main``) or call the library, to stay fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SWAHILI
from monoglot.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]
WORDS = " ".join(SWAHILI).replace(",", "").replace(".", "").split()


# ------------------------------------------------------------------------------------------ helpers


def run_cli(capsys, *args) -> tuple[int, str]:
    """Run ``monoglot ARGS`` in this process through ``cli.main``; return (exit status, stderr)."""
    from monoglot import cli
    from monoglot.teachers import loader

    old_term, old_argv, old_pickle = signal.getsignal(signal.SIGTERM), sys.argv, getattr(loader, "_ALLOW_PICKLE", False)
    sys.argv = ["monoglot", *map(str, args)]
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        signal.signal(signal.SIGTERM, old_term)
        sys.argv = old_argv
        if hasattr(loader, "allow_pickle"):
            loader.allow_pickle(old_pickle)
    return code, capsys.readouterr().err


def one_error(err: str) -> str:
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def write_corpus(path: Path, lines: int) -> Path:
    rng = random.Random(0)
    path.write_text("".join(" ".join(rng.choices(WORDS, k=30)) + "\n" for _ in range(lines)), encoding="utf-8")
    return path


def start(*args) -> subprocess.Popen:
    """Start ``python -m monoglot ARGS`` with SIGINT at its default (a shell may hand it on ignored)."""
    return subprocess.Popen([sys.executable, "-m", "monoglot", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until(p: subprocess.Popen, ready, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not ready():
        assert p.poll() is None, f"exited before the signal: {p.returncode} {p.communicate()}"
        assert time.monotonic() - t0 < timeout, "never got ready"
        time.sleep(0.005)


def reads(pid: int, path: Path) -> bool:
    """True once process ``pid`` has ``path`` open (Linux /proc)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")


# ------------------------------------------------------------------------- 1, 6: SIGINT and SIGTERM


@needs_proc
def test_sigint_during_trim_tiny_random_exits_130_with_one_line_and_leaves_nothing(tmp_path, tiny_bert):
    corpus = write_corpus(tmp_path / "c.txt", 40_000)
    p = start("trim", tiny_bert, "--corpus", corpus, "--out", tmp_path / "o", "--quiet")
    wait_until(p, lambda: reads(p.pid, corpus))  # counting pieces
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1].startswith("stopped: interrupted (SIGINT)"), err
    assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["c.txt", "tiny-bert"]


def test_sigterm_while_trim_writes_its_output_tiny_random_exits_143_and_leaves_nothing(tmp_path, tiny_bert):
    corpus = write_corpus(tmp_path / "c.txt", 2_000)
    p = start("trim", tiny_bert, "--corpus", corpus, "--out", tmp_path / "o", "--quiet")
    wait_until(p, lambda: any(f.startswith(".o.tmp-") for f in os.listdir(tmp_path)))  # inside atomic_dir
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 143, (out, err)
    assert err.strip().splitlines()[-1].startswith("stopped: terminated (SIGTERM)"), err
    assert sorted(os.listdir(tmp_path)) == ["c.txt", "tiny-bert"]  # no output, no temporary folder


def test_atomic_dir_removes_stale_temporaries_of_dead_processes_only(tmp_path, capsys):
    from monoglot.artifacts import atomic_dir

    child = subprocess.Popen(["true"])
    child.wait()  # its PID is now dead
    stale = tmp_path / f".o.tmp-{child.pid}-k2j4"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"\0" * 1000)
    live = tmp_path / f".o.tmp-{os.getpid()}-x8f1"  # a running process's temporary is left alone
    live.mkdir()
    unknown = tmp_path / ".o.tmp-k3j2_a1"  # no PID in the name (an older monoglot): named, not removed
    unknown.mkdir()
    other = tmp_path / f".other.tmp-{child.pid}-abcd"  # another output's temporary
    other.mkdir()
    with atomic_dir(tmp_path / "o") as tmp:
        assert f".o.tmp-{os.getpid()}-" in tmp.name
        (tmp / "f.txt").write_text("x")
    assert (tmp_path / "o" / "f.txt").is_file()
    assert not stale.exists() and live.is_dir() and unknown.is_dir() and other.is_dir()
    err = capsys.readouterr().err.replace("\n", "")
    assert "removed" in err and stale.name in err and unknown.name in err


# --------------------------------------------------------------- 2, 11: run replaces only its own folders


def write_recipe(tmp_path: Path, teacher: Path | str, corpus: Path, source: Path | None = None) -> Path:
    recipe = tmp_path / "r.toml"
    src = f"source_corpora = [\"{source}\"]\n" if source else ""
    recipe.write_text(f'name = "swa"\nteacher = "{teacher}"\n[data]\ncorpora = ["{corpus}"]\n{src}'
                      "[shrink]\nlayers = 2\n[distill]\nsteps = 2\n[evaluate]\ntasks = []\n")
    return recipe


@pytest.mark.parametrize("stage_dir,content", [("trimmed", None), ("trimmed", "shrink"), ("student-init", None),
                                                ("student.work", None)])
def test_run_refuses_to_replace_a_folder_it_did_not_write_tiny_random(tmp_path, tiny_bert, capsys, stage_dir, content):
    corpus = write_corpus(tmp_path / "c.txt", 50)
    mine = tmp_path / "X" / "swa" / stage_dir
    mine.mkdir(parents=True)
    (mine / "important.txt").write_text("a user's work")
    if content:  # monoglot's output, but of another stage
        (mine / "monoglot.json").write_text(json.dumps({"stage": content}))
    code, err = run_cli(capsys, "run", write_recipe(tmp_path, tiny_bert, corpus), "--out", tmp_path / "X", "--quiet")
    assert code == 2 and str(mine) in one_error(err) and "replaces only its own" in one_error(err)
    assert (mine / "important.txt").read_text() == "a user's work"
    assert sorted(os.listdir(mine.parent)) == [stage_dir]  # nothing else written (no recipe.json)


def test_run_checks_teacher_and_source_corpus_before_writing_anything(tmp_path, tiny_bert, capsys):
    corpus = write_corpus(tmp_path / "c.txt", 50)
    code, err = run_cli(capsys, "run", write_recipe(tmp_path, tmp_path / "no-teacher", corpus), "--out", tmp_path / "X")
    assert code == 2 and "no-teacher" in one_error(err)
    code, err = run_cli(capsys, "run", write_recipe(tmp_path, tiny_bert, corpus, source=tmp_path / "no-src.txt"),
                        "--out", tmp_path / "X")
    assert code == 2 and "no-src.txt" in one_error(err)
    assert not (tmp_path / "X").exists()


# ------------------------------------------------------------------ 3, 4, 5: one loading path


def pickled_copy(src: Path, dst: Path) -> Path:
    """``src`` with its weights as a pickled ``pytorch_model.bin`` only."""
    import shutil

    import torch
    from safetensors.torch import load_file

    shutil.copytree(src, dst)
    torch.save(load_file(str(dst / "model.safetensors")), dst / "pytorch_model.bin")
    (dst / "model.safetensors").unlink()
    return dst


def test_pickled_weights_are_refused_by_every_command_unless_allowed_tiny_random(tmp_path, tiny_bert, capsys):
    from conftest import write_task_files
    from monoglot.teachers.loader import allow_pickle, load_saved_architecture

    pickled = pickled_copy(tiny_bert, tmp_path / "pickled")
    rows = "text\tlabel\n" + "".join(f"{s}\t{'ab'[i % 2]}\n" for i, s in enumerate(SWAHILI * 3))
    task = write_task_files(tmp_path, "mine", "swa", {"train.tsv": rows, "dev.tsv": rows, "test.tsv": rows})
    for args in (["evaluate", pickled, "--task", task, "--out", tmp_path / "e", "--quiet"],
                 ["trim", pickled, "--corpus", write_corpus(tmp_path / "c.txt", 10), "--out", tmp_path / "t"],
                 ["shrink", pickled, "--layers", "2", "--out", tmp_path / "s"]):
        code, err = run_cli(capsys, *args)
        assert code == 2 and "pytorch_model.bin" in one_error(err) and "--allow-pickle" in one_error(err), args
    assert not any((tmp_path / n).exists() for n in ("e", "t", "s"))
    allow_pickle(True)
    try:
        model = load_saved_architecture(str(pickled))
    finally:
        allow_pickle(False)
    ref = load_saved_architecture(str(tiny_bert))
    assert all(model.state_dict()[k].equal(v) for k, v in ref.state_dict().items())


def test_missing_truncated_weights_and_unwritable_out_are_one_line_errors_tiny_random(tmp_path, tiny_bert, capsys, monkeypatch):
    import shutil

    no_weights = shutil.copytree(tiny_bert, tmp_path / "no-weights")
    (no_weights / "model.safetensors").unlink()
    code, err = run_cli(capsys, "shrink", no_weights, "--layers", "2", "--out", tmp_path / "s")
    assert code == 2 and "no weights" in one_error(err)
    truncated = shutil.copytree(tiny_bert, tmp_path / "truncated")
    f = truncated / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    code, err = run_cli(capsys, "shrink", truncated, "--layers", "2", "--out", tmp_path / "s")
    assert code == 2 and "truncated" in one_error(err)
    (tmp_path / "a-file").write_text("x")
    outs = ["/proc/monoglot-test/o", tmp_path / "a-file" / "o"]
    if os.geteuid() != 0:  # root may write in a read-only folder
        (tmp_path / "ro").mkdir(mode=0o555)
        outs.append(tmp_path / "ro" / "sub" / "o")
    for out in outs:
        code, err = run_cli(capsys, "shrink", tiny_bert, "--layers", "2", "--out", out)
        assert code == 2 and f"cannot write output {out}" in one_error(err), err
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, "shrink", "tiny-bert/trimmed", "--layers", "2", "--out", "s")
    assert code == 2 and "tiny-bert/trimmed does not exist" in one_error(err)
    assert not (tmp_path / "s").exists() and "Traceback" not in err


def test_path_like_specs_never_reach_the_hub_and_offline_mode_is_honoured(tmp_path, tiny_bert, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    from monoglot.teachers import resolve_model

    calls = []
    real = huggingface_hub.snapshot_download
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.chdir(tmp_path)
    for spec in ("tiny-bert/nonexist", "./m", "a/b/c", "~/no-such-model", "m\\x"):
        with pytest.raises(BadInput, match="does not exist"):
            resolve_model(spec)
    assert calls == []
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    t0 = time.monotonic()
    with pytest.raises(BadInput, match="HF_HUB_OFFLINE"):
        resolve_model("someone-x/no-such-model")
    assert calls == [("someone-x/no-such-model",)] and time.monotonic() - t0 < 10


# ------------------------------------------------------------------------------------ 7: file modes


def test_outputs_get_the_modes_of_a_plain_mkdir_tiny_random(tmp_path, tiny_bert):
    from monoglot.shrink import shrink_to_dir

    old = os.umask(0o022)
    try:
        out = shrink_to_dir(tiny_bert, tmp_path / "s", layers=2, progress=False)
        os.umask(0o027)
        out2 = shrink_to_dir(tiny_bert, tmp_path / "s2", layers=2, progress=False)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o755 and (out / "model.safetensors").stat().st_mode & 0o777 == 0o644
    assert all(f.stat().st_mode & 0o777 == 0o644 for f in out.iterdir())
    assert out2.stat().st_mode & 0o777 == 0o750 and (out2 / "model.safetensors").stat().st_mode & 0o777 == 0o640


# -------------------------------------------------------------------------------- 8: not text, unknown


def test_binary_and_all_unknown_corpora_are_refused_tiny_random(tmp_path, tiny_bert, capsys):
    binary = tmp_path / "model.txt"
    binary.write_bytes(random.Random(0).randbytes(300_000))
    code, err = run_cli(capsys, "trim", tiny_bert, "--corpus", binary, "--out", tmp_path / "o", "--quiet")
    assert code == 2 and "is not text" in one_error(err) and "invalid UTF-8" in one_error(err)
    cjk = tmp_path / "cjk.txt"
    cjk.write_text("日本語のテキスト 中文 한국어\n" * 20, encoding="utf-8")
    code, err = run_cli(capsys, "trim", tiny_bert, "--corpus", cjk, "--out", tmp_path / "o", "--quiet")
    assert code == 2 and "100% of the corpus' tokens are unknown" in one_error(err)
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------- 9: evaluate checks up front


def test_evaluate_checks_every_model_before_fine_tuning_tiny_random(tmp_path, tiny_bert, capsys, monkeypatch):
    import shutil

    import monoglot.tasks
    from conftest import write_task_files

    rows = "text\tlabel\n" + "".join(f"{s}\t{'ab'[i % 2]}\n" for i, s in enumerate(SWAHILI * 3))
    task = write_task_files(tmp_path, "mine", "swa", {"train.tsv": rows, "dev.tsv": rows, "test.tsv": rows})
    no_tok = shutil.copytree(tiny_bert, tmp_path / "no-tokenizer")
    for f in no_tok.glob("tokenizer*"):
        f.unlink()
    fine_tuned = []
    monkeypatch.setattr(monoglot.tasks, "evaluate", lambda *a, **k: fine_tuned.append(a) or pytest.fail("fine-tuned"))
    code, err = run_cli(capsys, "evaluate", tiny_bert, no_tok, "--task", task, "--out", tmp_path / "e", "--quiet")
    assert code == 2 and "no-tokenizer" in one_error(err)
    assert fine_tuned == [] and not (tmp_path / "e").exists()


# ------------------------------------------------------------------------------- 10: loose task specs


@pytest.mark.parametrize("spec", ["sib200:eng_Latn->", "->sib200:swh_Latn", "a:x->b:y->c:z"])
def test_loose_zero_shot_specs_are_refused(spec, tmp_path, monkeypatch):
    from monoglot.tasks import load_task

    monkeypatch.chdir(tmp_path)  # an empty side used to read the current folder as a task
    with pytest.raises(BadInput, match="SRC->TGT"):
        load_task(spec, tmp_path)


# --------------------------------------------------------------------------------- 12: auto_map


def test_auto_map_is_dropped_with_a_warning_tiny_random(tmp_path, tiny_bert, capsys):
    from monoglot.shrink import shrink_to_dir

    for name in ("config.json", "tokenizer_config.json"):
        cfg = json.loads((tiny_bert / name).read_text())
        cfg["auto_map"] = {"AutoModel": "modeling_evil.EvilModel", "AutoTokenizer": ["tok_evil.T", None]}
        (tiny_bert / name).write_text(json.dumps(cfg))
    out = shrink_to_dir(tiny_bert, tmp_path / "s", layers=2, progress=False)
    assert "auto_map" not in json.loads((out / "config.json").read_text())
    assert "auto_map" not in json.loads((out / "tokenizer_config.json").read_text())
    assert "auto_map" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ 13: wording


def test_error_wording_names_the_option_to_fix_tiny_random(tmp_path, tiny_bert, capsys):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("id\tsentence\n1\thabari ya asubuhi\n")
    code, err = run_cli(capsys, "trim", tiny_bert, "--corpus", tsv, "--out", tmp_path / "o")
    assert code == 2 and "--text-column" in one_error(err)
    code, err = run_cli(capsys, "trim", tiny_bert, "--corpus", tmp_path, "--out", tmp_path / "o")
    assert code == 2 and "is a folder" in one_error(err) and "does not exist" not in one_error(err)
    code, err = run_cli(capsys, "shrink", tiny_bert, "--hidden", "50", "--out", tmp_path / "o")
    assert code == 2 and "--heads 4" not in one_error(err) and "head dimension 16" in one_error(err)
    code, err = run_cli(capsys, "shrink", tiny_bert, "--layers", "2", "--seq-len", "1000", "--out", tmp_path / "o")
    assert code == 2 and "--seq-len 1000 is longer than the teacher's 512 positions" in one_error(err)


# --------------------------------------------------------------------------- 14: portable provenance


def test_monoglot_json_names_corpora_by_data_root_path_and_hash_tiny_random(tmp_path, tiny_bert, monkeypatch):
    from monoglot.vocab import trim_to_corpus

    root = tmp_path / "data"
    corpus = write_corpus((root / "corpora" / "swa").mkdir(parents=True) or root / "corpora" / "swa" / "c.txt", 50)
    other = write_corpus(tmp_path / "elsewhere.txt", 20)
    monkeypatch.setenv("MONOGLOT_DATA", str(root))
    out = trim_to_corpus(tiny_bert, [corpus, other], tmp_path / "o", progress=False)
    meta = json.loads((out / "monoglot.json").read_text())
    assert meta["settings"]["corpora"] == ["corpora/swa/c.txt", "elsewhere.txt"]
    assert list(meta["stats"]["coverage_per_corpus"]) == ["corpora/swa/c.txt", "elsewhere.txt"]
    assert meta["corpus_files"][0] == {"file": "corpora/swa/c.txt", "bytes": corpus.stat().st_size,
                                       "sha256": hashlib.sha256(corpus.read_bytes()).hexdigest()}
    corpus_fields = [meta["settings"]["corpora"], meta["stats"]["coverage_per_corpus"], meta["corpus_files"]]
    assert str(tmp_path) not in json.dumps(corpus_fields)
