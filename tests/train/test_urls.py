"""Shards read from where WebDataset users keep them: pipe: commands, HTTP, fsspec URLs."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from train.data import ShardStream, make_loader, resolve_shards
from train.urls import is_url


def _batches(urls: list[str]) -> tuple[list[list[str]], torch.Tensor]:
    stream = ShardStream(urls, 64, 3, batches_per_epoch=3, seed=5)
    batches = list(make_loader(stream, 0))
    return [b["keys"] for b in batches], torch.cat([b["images"] for b in batches])


def _pattern(shard_dir: Path) -> tuple[str, int]:
    """``shard-{000000..N}.tar`` for the completed shards of ``shard_dir``, and N + 1."""
    n = len(resolve_shards(shard_dir))
    return f"shard-{{000000..{n - 1:06d}}}.tar", n


@pytest.fixture(scope="module")
def http_root(shard_dir: Path) -> Iterator[str]:
    """``shard_dir`` served on 127.0.0.1 (a free port) for the module's tests."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(shard_dir))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_pipe_urls_read_the_same_samples_as_the_files(shard_dir: Path) -> None:
    pattern, n = _pattern(shard_dir)
    urls = resolve_shards(f"pipe:cat {shard_dir}/{pattern}")
    assert len(urls) == n and urls[0] == f"pipe:cat {shard_dir}/shard-000000.tar"
    keys, pixels = _batches(urls)
    local_keys, local_pixels = _batches(resolve_shards(shard_dir))
    assert keys == local_keys and torch.equal(pixels, local_pixels)


def test_http_urls_read_the_same_samples_as_the_files(shard_dir: Path, http_root: str) -> None:
    if shutil.which("curl") is None:
        pytest.skip("webdataset reads http:// through curl, which is not installed")
    pattern, n = _pattern(shard_dir)
    urls = resolve_shards(f"{http_root}/{pattern}")
    assert len(urls) == n
    keys, pixels = _batches(urls)
    local_keys, local_pixels = _batches(resolve_shards(shard_dir))
    assert keys == local_keys and torch.equal(pixels, local_pixels)


def test_fsspec_urls_read_the_same_samples_as_the_files(shard_dir: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    local = resolve_shards(shard_dir)
    for path in local:
        fs.pipe(f"/qpt-test/{Path(path).name}", Path(path).read_bytes())
    pattern, _ = _pattern(shard_dir)
    urls = resolve_shards(f"memory://qpt-test/{pattern}")
    keys, pixels = _batches(urls)
    local_keys, local_pixels = _batches(local)
    assert keys == local_keys and torch.equal(pixels, local_pixels)


def test_unknown_scheme_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown URL scheme 'nosuch'"):
        resolve_shards("nosuch://bucket/shard-{0..1}.tar")


def test_local_paths_are_not_urls(tmp_path: Path) -> None:
    assert not is_url(str(tmp_path)) and not is_url("C:/data/shard.tar")
    assert is_url("pipe:aws s3 cp s3://b/s.tar -") and is_url("https://h/s.tar")
    with pytest.raises(FileNotFoundError):
        resolve_shards(str(tmp_path / "shard-{0..1}.tar"))
