import numpy as np
import pytest
import torch
from scipy.fft import dctn

from optimist.geometry import block_frequency, block_starts, dct_block_basis, dct_block_projector, dct_matrix
from optimist.geometry.compare import GeometrySettings, _blocks


def test_dct_matrix_orthonormal_and_matches_scipy():
    c = dct_matrix(28)
    np.testing.assert_allclose(c @ c.T, np.eye(28), atol=1e-12)
    signal = np.random.default_rng(0).normal(size=28)
    from scipy.fft import dct

    np.testing.assert_allclose(c @ signal, dct(signal, norm="ortho"), atol=1e-12)
    # row k is the frequency-k cosine of the DCT-II, row 0 the constant (DC)
    k, n = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    alpha = np.where(k == 0, np.sqrt(1 / 28), np.sqrt(2 / 28))
    np.testing.assert_allclose(c, alpha * np.cos(np.pi * (2 * n + 1) * k / 56), atol=1e-12)


def test_block_starts_paper_setting_and_strides():
    assert block_starts(28, 8, 1) == list(range(21))  # 21 blocks at 28x28
    assert block_starts(28, 8, 4) == [0, 4, 8, 12, 16, 20]
    assert block_starts(28, 8, 3) == [0, 3, 6, 9, 12, 15, 18, 20]  # the highest block always included
    assert block_frequency(0) == 3.5 and block_frequency(20) == 23.5
    with pytest.raises(ValueError, match="block"):
        block_starts(28, 30)
    with pytest.raises(ValueError, match="stride"):
        block_starts(28, 8, 0)


@pytest.mark.parametrize("start", [0, 7, 20])
def test_block_basis_orthonormal_and_covers_its_frequencies(start):
    b = dct_block_basis(28, start, 8).double()
    assert b.shape == (64, 784)
    torch.testing.assert_close(b @ b.T, torch.eye(64, dtype=torch.float64), atol=1e-6, rtol=0)
    # the 2-D DCT of every basis image is one-hot at a frequency pair inside the block
    coeffs = dctn(b.numpy().reshape(64, 28, 28), norm="ortho", axes=(1, 2))
    support = np.abs(coeffs) > 1e-5
    assert (support.sum(axis=(1, 2)) == 1).all()
    freq = np.argwhere(support)[:, 1:]
    assert freq.min() == start and freq.max() == start + 7
    assert len({tuple(f) for f in freq}) == 64  # every pair of the 8x8 block exactly once


def test_block_basis_channels_and_errors():
    b = dct_block_basis(8, 2, 4, channels=3).double()
    assert b.shape == (48, 192)
    torch.testing.assert_close(b @ b.T, torch.eye(48, dtype=torch.float64), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="does not fit"):
        dct_block_basis(28, 21, 8)
    with pytest.raises(ValueError, match="channels"):
        dct_block_basis(28, 0, 8, channels=0)


def test_adjacent_blocks_overlap_and_distant_blocks_are_orthogonal():
    b0, b1, b8 = (dct_block_basis(28, s).double() for s in (0, 1, 8))
    assert torch.linalg.matrix_rank(torch.cat([b0, b1])) == 64 + 15  # share a 7x7 block
    assert (b0 @ b8.T).abs().max() < 1e-6  # disjoint frequencies


def test_default_blocks_keep_their_count_and_share_of_the_spectrum():
    """At 28x28 the defaults are the paper's 8x8 blocks with stride 4 (six); at 224x224 a quarter of the side, four
    blocks tiling the diagonal from the lowest to the highest frequencies: the count (and so the cost) does not
    grow with the image."""
    s = GeometrySettings()
    assert _blocks(s, 28) == (8, 4) and block_starts(28, 8, 4) == [0, 4, 8, 12, 16, 20]
    block, stride = _blocks(s, 224)
    assert block == 56 and block_starts(224, block, stride) == [0, 56, 112, 168]
    assert block_starts(64, *_blocks(s, 64)) == [0, 16, 32, 48]
    assert _blocks(GeometrySettings(block=16, stride=16), 224) == (16, 16)


def test_the_projector_equals_the_dense_basis():
    w = torch.randn(3, 2, 2 * 12 * 12, dtype=torch.float64)
    for start, block in ((0, 4), (5, 7), (8, 4)):
        basis = dct_block_basis(12, start, block, channels=2, dtype=torch.float64)
        project = dct_block_projector(12, start, block, channels=2, dtype=torch.float64)
        assert torch.allclose(project(w), (w @ basis.T) @ basis)
