"""The orthonormal 2-D DCT-II basis and its diagonal frequency blocks ("Hold me tight!", Ortiz-Jimenez et al. 2020).

A block is the span of the ``block x block`` 2-D DCT basis images whose frequency pair ``(k1, k2)`` lies in
``[start, start + block)^2``. Sliding the block along the diagonal of the frequency plane goes from the lowest
(start 0, the DC component included) to the highest frequencies; at 28x28 with 8x8 blocks and stride 1 there are
21 blocks. Margins restricted to each block tell which frequencies a network is sensitive or invariant to.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.fft import dct

from optimist.core.errors import InputError


def dct_matrix(n: int) -> np.ndarray:
    """The (n, n) orthonormal DCT-II matrix: row ``k`` is the frequency-``k`` cosine, ``C @ C.T == I``.

    Examples
    --------
    >>> import numpy as np
    >>> C = dct_matrix(8)
    >>> C.shape, bool(np.allclose(C @ C.T, np.eye(8)))
    ((8, 8), True)
    """
    if n < 1:
        raise InputError(f"DCT size must be positive, got {n}")
    # column j is the transform of the unit vector e_j, so C @ signal == dct(signal, norm="ortho")
    return dct(np.eye(n), norm="ortho", axis=0)


def block_starts(image_size: int, block: int = 8, stride: int = 1) -> list[int]:
    """Start frequencies of the diagonal blocks, lowest first; the last (highest) block is always included.

    Examples
    --------
    >>> block_starts(28, block=8, stride=8)
    [0, 8, 16, 20]
    """
    if image_size < 1:
        raise InputError(f"image_size must be positive, got {image_size}")
    if not 1 <= block <= image_size:
        raise InputError(f"block must be in [1, image_size={image_size}], got {block}")
    if stride < 1:
        raise InputError(f"stride must be >= 1, got {stride}")
    starts = list(range(0, image_size - block + 1, stride))
    if starts[-1] != image_size - block:
        starts.append(image_size - block)
    return starts


def dct_block_basis(image_size: int, start: int, block: int = 8, channels: int = 1,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Orthonormal rows spanning the DCT block at ``start`` on the diagonal, shape (channels*block^2, D).

    ``D = channels * image_size^2`` in the (C, H, W) flattening of an image. Row order: channel, then the
    vertical frequency ``k1``, then the horizontal ``k2``. Each channel gets its own copy of the block, so the
    subspace holds every colour combination of those frequencies.

    Examples
    --------
    >>> basis = dct_block_basis(28, start=0, block=8)
    >>> import torch
    >>> basis.shape, bool(torch.allclose(basis @ basis.T, torch.eye(64), atol=1e-5))
    (torch.Size([64, 784]), True)
    """
    if channels < 1:
        raise InputError(f"channels must be positive, got {channels}")
    if not 1 <= block <= image_size or not 0 <= start <= image_size - block:
        raise InputError(f"a block of {block} starting at {start} does not fit in {image_size} frequencies")
    c = dct_matrix(image_size)[start:start + block]  # (block, size)
    per_channel = np.einsum("ka,lb->klab", c, c).reshape(block * block, image_size * image_size)
    basis = np.kron(np.eye(channels), per_channel)  # block-diagonal over channels
    return torch.tensor(basis, dtype=dtype)


def dct_block_projector(image_size: int, start: int, block: int = 8, channels: int = 1, *,
                        dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):
    """The orthogonal projection onto the span of :func:`dct_block_basis`, as a function of flattened images
    ``(..., channels * image_size^2)``, computed with the separable DCT: two small matrix products per side instead
    of a dense (channels*block^2, D) basis (which takes 5.7 GB for a 56x56 block of a 224x224 colour image).

    Examples
    --------
    >>> import torch
    >>> w = torch.randn(2, 3 * 16 * 16, dtype=torch.float64)
    >>> basis = dct_block_basis(16, 4, 8, channels=3, dtype=torch.float64)
    >>> project = dct_block_projector(16, 4, 8, channels=3, dtype=torch.float64)
    >>> torch.allclose(project(w), (w @ basis.T) @ basis)
    True
    """
    if channels < 1:
        raise InputError(f"channels must be positive, got {channels}")
    if not 1 <= block <= image_size or not 0 <= start <= image_size - block:
        raise InputError(f"a block of {block} starting at {start} does not fit in {image_size} frequencies")
    c = torch.tensor(dct_matrix(image_size)[start:start + block], dtype=dtype, device=device)  # (block, size)

    def project(w: torch.Tensor) -> torch.Tensor:
        images = w.reshape(*w.shape[:-1], channels, image_size, image_size)
        coefficients = c @ images @ c.T  # (..., channels, block, block)
        return (c.T @ coefficients @ c).reshape(w.shape)

    return project


def block_frequency(start: int, block: int = 8) -> float:
    """Mean of the block's diagonal frequency index (start + (block - 1) / 2): the x-axis of margin plots.

    Examples
    --------
    >>> block_frequency(0, 8), block_frequency(20, 8)
    (3.5, 23.5)
    """
    return start + (block - 1) / 2
