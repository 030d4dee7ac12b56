"""Hidden-size reduction by projection: an orthonormal basis ``P`` of shape ``(H, H')``.

- ``svd``: the top right singular vectors of the word-embedding matrix (data-free).
- ``pca``: the top principal directions of the teacher's hidden states (every layer's output and
  the embeddings' output) on target text, as BiStil (Ansell et al. 2023, sec. 3.3) initialises
  its smaller-width students. The directions are those of the uncentred second moment, so that
  the projection keeps as much of the states' energy as possible (the stream has no bias to
  carry a mean offset).

Every tensor touching the hidden space is multiplied by ``P`` (see :mod:`.slicing`). LayerNorm
normalises over ``H'`` instead of ``H`` dimensions, so its weights get the diagonal of
``P^T diag(gamma) P`` times ``std(x) / std(P^T x)`` measured on the states (``ln_scale``).
"""

from __future__ import annotations

import torch


def svd_basis(embeddings: torch.Tensor, k: int) -> torch.Tensor:
    """Top ``k`` right singular vectors of ``embeddings`` ``(V, H)``, as ``(H, k)``."""
    _, _, vh = torch.linalg.svd(embeddings.double(), full_matrices=False)
    return vh[:k].T.float().contiguous()


def pca_basis(states: torch.Tensor, k: int) -> torch.Tensor:
    """Top ``k`` eigenvectors of the uncentred second moment of ``states`` ``(N, H)``, as ``(H, k)``."""
    x = states.double()
    m = x.T @ x / x.shape[0]
    _, vecs = torch.linalg.eigh(m)  # ascending
    return vecs[:, -k:].flip(-1).float().contiguous()


def ln_scale(states: torch.Tensor, basis: torch.Tensor) -> float:
    """Mean ratio ``std(x) / std(P^T x)`` over the rows of ``states`` ``(N, H)``."""
    proj = states @ basis
    return float((states.std(-1) / proj.std(-1).clamp_min(1e-12)).mean())


def hidden_states_sample(model, batches: list[torch.Tensor], max_rows: int = 20000, seed: int = 0) -> torch.Tensor:
    """Rows of every hidden state (embeddings and each layer) of ``model`` on ``batches``, ``(N, H)``, N <= max_rows."""
    rows = []
    with torch.inference_mode():
        for b in batches:
            hs = model.base_model(input_ids=b, output_hidden_states=True).hidden_states
            rows.extend(h.reshape(-1, h.shape[-1]) for h in hs)
    x = torch.cat(rows)
    if x.shape[0] > max_rows:
        x = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:max_rows]]
    return x
