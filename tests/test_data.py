import gzip
import hashlib
import shutil

import pytest
import torch

from conftest import write_idx
from vae_report import data as vd
from vae_report.errors import DataError


def test_loads_tiny_idx_folder_through_torchvision(tiny_mnist, tmp_path):
    d = vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist), val_split=0.2, split_seed=0)
    assert d.train.shape == (40, 784) and d.val.shape == (10, 784) and d.test.shape == (20, 784)
    assert d.train.dtype == torch.float32 and d.train.min() >= 0 and d.train.max() <= 1
    assert (tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()
    # the split is a fixed permutation: same seed same split, other seed other split
    again = vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist), split_seed=0)
    other = vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist), split_seed=1)
    assert torch.equal(d.val, again.val) and not torch.equal(d.val, other.val)
    # train and validation partition the 50 training images
    assert torch.equal(torch.cat([d.train_labels, d.val_labels]).sort().values,
                       (torch.arange(50) % 10).sort().values)


def test_raw_uncompressed_files_and_env_variable(tiny_mnist, tmp_path, monkeypatch):
    raw_src = tmp_path / "raw_src"
    raw_src.mkdir()
    for gz in tiny_mnist.glob("*.gz"):
        with gzip.open(gz) as fh:
            (raw_src / gz.stem).write_bytes(fh.read())
    monkeypatch.setenv("MNIST_SOURCE", str(raw_src))
    d = vd.load_mnist(root=tmp_path / "data")
    assert d.test.shape == (20, 784)


def test_missing_file_is_named(tiny_mnist, tmp_path):
    (tiny_mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte.gz.*MNIST_SOURCE"):
        vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist))


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        vd.load_mnist(root=tmp_path / "data", source=str(tmp_path / "nowhere"))


def test_truncated_idx_is_named(tiny_mnist, tmp_path):
    images = torch.zeros(5, 28, 28)
    path = write_idx(tiny_mnist / "train-images-idx3-ubyte", images, 2051, compress=False)
    path.write_bytes(path.read_bytes()[:-100])
    (tiny_mnist / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="train-images-idx3-ubyte: .*truncated or corrupt"):
        vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist))


def test_truncated_gzip_is_named(tiny_mnist, tmp_path):
    gz = tiny_mnist / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: cannot be read"):
        vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist))


def test_wrong_magic_is_named(tiny_mnist, tmp_path):
    # labels where images should be
    shutil.copy(tiny_mnist / "train-labels-idx1-ubyte.gz", tiny_mnist / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: not an idx file.*2049"):
        vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist))


def test_checksum_mismatch_is_named(tiny_mnist, tmp_path):
    lines = []
    for f in sorted(tiny_mnist.glob("*.gz")):
        lines.append(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}")
    (tiny_mnist / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    vd.load_mnist(root=tmp_path / "ok", source=str(tiny_mnist))  # matching sums pass
    gz = tiny_mnist / "t10k-images-idx3-ubyte.gz"
    write_idx(tiny_mnist / "t10k-images-idx3-ubyte", torch.ones(20, 28, 28), 2051)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: SHA-256 does not match"):
        vd.load_mnist(root=tmp_path / "bad", source=str(tiny_mnist))
    assert gz.exists()


def test_corrupt_file_already_in_root_is_named(tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_SOURCE", raising=False)
    vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist))
    raw = tmp_path / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    raw.write_bytes(raw.read_bytes()[:1000])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: .*truncated"):
        vd.load_mnist(root=tmp_path / "data", source=None)


def test_real_mnist_shapes(mnist_source, tmp_path):
    d = vd.load_mnist(root=tmp_path / "data", source=mnist_source)
    assert d.train.shape == (48000, 784) and d.val.shape == (12000, 784)
    assert d.test.shape == (10000, 784)
    assert torch.bincount(d.test_labels).tolist()[:3] == [980, 1135, 1032]


def test_cache_returns_what_torchvision_read_and_follows_the_raw_files(tiny_mnist, tmp_path):
    root = tmp_path / "data"
    first = vd.load_mnist(root=root, source=str(tiny_mnist))
    cache = root / "MNIST" / "tensors.pt"
    assert cache.exists()
    stamp = cache.stat().st_mtime_ns
    cached = vd.load_mnist(root=root, source=str(tiny_mnist))
    assert cache.stat().st_mtime_ns == stamp            # served from the cache, not rewritten
    for field in ("train", "val", "test", "train_labels", "val_labels", "test_labels"):
        assert torch.equal(getattr(first, field), getattr(cached, field))
    # a new source with other test images replaces the raw file: the cache must not serve the old
    write_idx(tiny_mnist / "t10k-images-idx3-ubyte", torch.full((20, 28, 28), 255), 2051)
    changed = vd.load_mnist(root=root, source=str(tiny_mnist))
    assert torch.equal(changed.test, torch.ones(20, 784))
    assert torch.equal(changed.train, first.train)


def test_unreadable_cache_is_rebuilt(tiny_mnist, tmp_path):
    root = tmp_path / "data"
    first = vd.load_mnist(root=root, source=str(tiny_mnist))
    (root / "MNIST" / "tensors.pt").write_bytes(b"not a torch file")
    again = vd.load_mnist(root=root, source=str(tiny_mnist))
    assert torch.equal(first.test, again.test)
    assert torch.load(root / "MNIST" / "tensors.pt", weights_only=True)["test_images"].shape == (20, 28, 28)


def test_corrupt_gzip_stream_without_checksums_names_the_file(tiny_mnist, tmp_path):
    """A .gz whose header is fine but whose compressed data is damaged raises zlib.error deep in
    gzip; without SHA256SUMS to catch it first, the error must still name the file and the fix."""
    gz = tiny_mnist / "train-images-idx3-ubyte.gz"
    raw = bytearray(gz.read_bytes())
    for i in range(20, len(raw) - 20, 7):
        raw[i] ^= 0xFF
    gz.write_bytes(bytes(raw))
    assert not (tiny_mnist / "SHA256SUMS").exists()
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: cannot be read.*fresh copy"):
        vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist))


def test_subsets_keep_the_first_rows(tiny_mnist, tmp_path):
    d = vd.load_mnist(root=tmp_path / "data", source=str(tiny_mnist))
    s = d.subset(train=7, evaluation=3)
    assert torch.equal(s.train, d.train[:7]) and torch.equal(s.train_labels, d.train_labels[:7])
    assert torch.equal(s.test, d.test[:3]) and torch.equal(s.val_labels, d.val_labels[:3])
    assert d.subset(0, 0).train.shape == d.train.shape


def test_the_prepare_command_makes_the_cache_or_names_the_problem(tiny_mnist, tmp_path, capsys):
    """`python -m vae_report.data`: the workflow's first job."""
    root = tmp_path / "data"
    assert vd.main(["--root", str(root), "--source", str(tiny_mnist)]) == 0
    assert "MNIST ready" in capsys.readouterr().out
    assert (root / "MNIST" / "tensors.pt").exists()
    assert vd.main(["--root", str(root), "--source", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "MNIST_SOURCE" in err
