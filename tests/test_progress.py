"""Progress output where stderr is not a terminal (a log file): plain lines during a long bar."""

import io

from rich.console import Console

from monoglot import progress


def run_bar(monkeypatch, terminal: bool, every_s: float) -> str:
    out = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=out, force_terminal=terminal, width=200))
    monkeypatch.setattr(progress, "LOG_EVERY_S", every_s)
    with progress.bar("distill", 4) as advance:
        advance(0)
        for i in range(4):
            advance(loss=f"{0.5 / (i + 1):.4f}", val="0.3")
    return out.getvalue()


def test_log_file_gets_plain_progress_lines_with_count_fields_and_eta(monkeypatch):
    text = run_bar(monkeypatch, terminal=False, every_s=0.0)
    lines = [l for l in text.splitlines() if l.startswith("  distill: ")]
    assert [l.split("  ")[1] for l in lines] == ["distill: 0/4 (0%)", "distill: 1/4 (25%)", "distill: 2/4 (50%)",
                                                 "distill: 3/4 (75%)", "distill: 4/4 (100%)"]
    assert "loss 0.1250  val 0.3  elapsed 0:00:00  ETA " in lines[-1], lines[-1]
    assert "\x1b" not in text  # no terminal control codes in a log


def test_log_file_lines_are_rate_limited(monkeypatch):
    text = run_bar(monkeypatch, terminal=False, every_s=3600.0)
    assert not [l for l in text.splitlines() if l.startswith("  distill: ")], text  # only rich's final bar


def test_terminal_gets_the_live_bar_only(monkeypatch):
    text = run_bar(monkeypatch, terminal=True, every_s=0.0)
    assert "distill: 1/4 (25%)" not in text and "4/4" in text
