"""Default evaluation tasks of a recipe: the tasks that exist under the data root for its languages.

A recipe without an ``[evaluate]`` task list names no language of its own: the FIRST of its
``languages`` is the target (the student's language), the others are source languages. The
default tasks are

- every in-language task of the target found under ``<data root>/tasks/``: SIB-200, MasakhaNEWS,
  AfriSenti, MasakhaPOS, MasakhaNER 2.0 and its Universal Dependencies treebanks;
- for each source language: SIB-200 zero-shot transfer (``sib200:SRC->sib200:TGT``) and FLORES
  bitext mining (``flores:SRC-TGT``), where both SIB-200 folders exist.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths

LANGUAGES = {
    # ISO 639-1: (ISO 639-3 as MasakhaNEWS/AfriSenti/MasakhaPOS/MasakhaNER name folders, FLORES-200 code, UD name)
    "am": ("amh", "amh_Ethi", "Amharic"), "cy": ("cym", "cym_Latn", "Welsh"), "en": ("eng", "eng_Latn", "English"),
    "fr": ("fra", "fra_Latn", "French"), "ha": ("hau", "hau_Latn", "Hausa"), "ig": ("ibo", "ibo_Latn", "Igbo"),
    "rw": ("kin", "kin_Latn", "Kinyarwanda"), "so": ("som", "som_Latn", "Somali"), "sw": ("swa", "swh_Latn", "Swahili"),
    "xh": ("xho", "xho_Latn", "Xhosa"), "yo": ("yor", "yor_Latn", "Yoruba"), "zu": ("zul", "zul_Latn", "Zulu"),
}
_BY_ISO3 = {v[0]: k for k, v in LANGUAGES.items()}


def language_codes(lang: str) -> tuple[str, str, str] | None:
    """``(ISO 639-3, FLORES-200 code, UD language name)`` of an ISO 639-1 or 639-3 code, or ``None``
    for a language this table does not know."""
    lang = lang.lower()
    return LANGUAGES.get(lang) or LANGUAGES.get(_BY_ISO3.get(lang, ""))


def default_tasks(languages: list[str], data_root: str | Path | None = None) -> tuple[list[str], str]:
    """The default task specs of a recipe with ``languages`` (see the module docstring).

    Returns:
        ``(tasks, note)``: the specs whose folders exist, and a one-line note for the report saying
        how they were chosen (or why there are none).
    """
    if not languages:
        return [], "no [evaluate] tasks and no recipe languages: nothing evaluated; add languages = [\"sw\"] or an [evaluate] tasks list"
    try:
        tasks_dir = paths.data_root(data_root) / "tasks"
    except Exception:  # BadInput: no data root
        return [], "no [evaluate] tasks and no data root: nothing evaluated"
    target = language_codes(languages[0])
    if target is None:
        return [], (f"no [evaluate] tasks, and no known task folders for language {languages[0]!r}: nothing evaluated; "
                    f"list tasks in [evaluate]")
    iso3, flores, ud_name = target
    found = [f"sib200:{flores}"] if (tasks_dir / "sib200" / flores).is_dir() else []
    found += [f"{fam}:{iso3}" for fam in ("masakhanews", "afrisenti", "masakhapos", "masakhaner2")
              if (tasks_dir / fam / iso3).is_dir()]
    ud = tasks_dir / "ud"
    found += [f"ud:{d.name}" for d in sorted(ud.glob(f"UD_{ud_name}-*")) if d.is_dir()] if ud.is_dir() else []
    for src in languages[1:]:
        codes = language_codes(src)
        if codes and (tasks_dir / "sib200" / codes[1]).is_dir() and (tasks_dir / "sib200" / flores).is_dir():
            found += [f"sib200:{codes[1]}->sib200:{flores}", f"flores:{codes[1]}-{flores}"]
    where = f"{tasks_dir} for target language {languages[0]!r}" + (f" and source(s) {', '.join(map(repr, languages[1:]))}" if languages[1:] else "")
    if not found:
        return [], f"no [evaluate] tasks and none found under {where}: nothing evaluated"
    return found, f"no [evaluate] tasks: evaluated the tasks found under {where}: {', '.join(found)}"
