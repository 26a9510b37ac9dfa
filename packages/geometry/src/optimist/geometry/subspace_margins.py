"""Margins along frequency subspaces ("Hold me tight!", Ortiz-Jimenez et al., NeurIPS 2020).

For each 8x8 block of the 2-D DCT basis sliding along the diagonal, the margin of an image is the norm of the
smallest perturbation inside that block's span that changes the prediction: L2 DeepFool (core) with
``project=`` the block's projection (a separable DCT, no dense basis: it stays cheap at 224x224) and
``clamp=False``. A network that is nearly invariant along a subspace has a large (or infinite: DeepFool never
crosses the boundary) margin there. The paper's setting: overshoot 0.02, 100 test
images, stride 1 (21 blocks at 28x28).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.checks import check_model_input
from optimist.core.errors import InputError
from optimist.geometry.dct import block_frequency, block_starts, dct_block_projector
from optimist.geometry.margins import deepfool_margins, summarize


@dataclass
class SubspaceMargins:
    """Margins (n_blocks, N) per diagonal DCT block (inf where DeepFool found no boundary in the block)."""

    starts: list[int]
    block: int
    margin: torch.Tensor
    success: torch.Tensor

    def table(self) -> pd.DataFrame:
        """One row per block: frequencies covered and margin statistics (median, quartiles, found rate)."""
        rows = []
        for i, s in enumerate(self.starts):
            stats = summarize(self.margin[i], success=self.success[i])
            rows.append({"block": i, "start": s, "frequency": block_frequency(s, self.block),
                         "median": stats["median"], "q25": stats["q25"], "q75": stats["q75"],
                         "found": stats["found"]})
        return pd.DataFrame(rows).set_index("block")

    def median(self) -> np.ndarray:
        """Median margin per block, lowest frequency first."""
        return np.median(self.margin.double().cpu().numpy(), axis=1) if self.margin.numel() else np.zeros(0)


def subspace_margins(model: nn.Module, x: torch.Tensor, *, block: int = 8, stride: int = 1, overshoot: float = 0.02,
                     max_iter: int = 50, num_candidates: int = 10, batch_size: int = 128,
                     progress: bool = False) -> SubspaceMargins:
    """L2 DeepFool margins of images ``x`` (N, C, H, W) restricted to each diagonal DCT block.

    ``stride`` is the step between block starts (1 in the paper; larger is proportionally cheaper, and the
    highest block is always included). Square images only.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> result = subspace_margins(model, torch.rand(4, 1, 28, 28), block=14, stride=14, max_iter=5)
    >>> result.starts, tuple(result.margin.shape)
    ([0, 14], (2, 4))
    """
    check_model_input(model, x)
    _, channels, h, w = x.shape
    if h != w:
        raise InputError(f"frequency blocks need square images, got {h}x{w}")
    starts = block_starts(h, block, stride)
    margins, success = [], []
    for s in tqdm(starts, desc="subspace margins", disable=not progress, leave=False):
        project = dct_block_projector(h, s, block, channels, dtype=x.dtype, device=x.device)
        res = deepfool_margins(model, x, "l2", basis=project, overshoot=overshoot, max_iter=max_iter,
                               num_candidates=num_candidates, batch_size=batch_size)
        margins.append(res.margin)
        success.append(res.success)
    return SubspaceMargins(starts, block, torch.stack(margins), torch.stack(success))
