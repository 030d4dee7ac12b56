"""The transfer set of task distillation: unlabeled sentences of the target language that the task
teacher labels, soft labels only.

Hinton et al. 2015 (sec. 2) train the student on a "transfer set" labelled by the teacher; TinyBERT
(Jiao et al. 2020, sec. 3.1, data augmentation) grows the task's training set the same way before
task-specific distillation. With a small labelled set (SIB-200: 701 sentences) the gold labels and
the teacher's soft labels on them carry the same information; the teacher's soft labels on other
in-language text are new signal. The sentences are decontaminated against every evaluation set in
use, like every distillation corpus.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from ..errors import BadInput


def transfer_sentences(corpora: Sequence[str | Path], text_column: str, eval_texts: list[str] | None, count: int,
                       seed: int = 0, min_words: int = 6) -> list[str]:
    """A seeded uniform sample of ``count`` sentences (segments of at most 64 words, see
    :func:`monoglot.corpus.iter_segments`) of at least ``min_words`` words from all of ``corpora``,
    less those sharing an 8-word span with ``eval_texts``; in corpus order. Reservoir sampling
    (Vitter's algorithm R): one pass, memory for ``count`` sentences, so a sample spans every
    document of the corpora, not only the first ones.

    Raises:
        BadInput: ``count`` < 1; the corpora have no sentence of ``min_words`` words.
    """
    from ..distill.data import corpus_segments

    if count < 1:
        raise BadInput(f"a transfer set of {count} sentences: give at least 1")
    rng = random.Random(seed)
    kept: list[tuple[int, str]] = []
    n = 0
    for s in corpus_segments(corpora, text_column, eval_texts):
        if len(s.split()) < min_words:
            continue
        if len(kept) < count:
            kept.append((n, s))
        else:
            j = rng.randrange(n + 1)
            if j < count:
                kept[j] = (n, s)
        n += 1
    if not kept:
        raise BadInput(f"corpora {', '.join(map(str, corpora))} have no sentence of {min_words}+ words for a transfer set; give a text corpus")
    return [s for _, s in sorted(kept)]
