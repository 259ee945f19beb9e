"""Files: atomic writes (a killed process never leaves a half-written cache, result or checkpoint) and
content hashes (file checksums, order-free hashes of settings)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _umask_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# The mode a plain new file gets under this process's umask: temporary files (mkstemp: 0600) and
# safetensors' own writes are set to it, so results look like any other file.
FILE_MODE = _umask_mode()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, FILE_MODE)  # mkstemp makes 0600; the result should look like any other file
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(target: str | Path, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``target`` atomically."""
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of the file at ``path``, read in ``chunk``-byte blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def stable_hash(obj, length: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of dict order."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def check_gzip(path: str | Path) -> None:
    """Read a gzip file to its end, which checks every member's CRC-32 and length (readers that decompress without
    the check, DuckDB's among them, would take a damaged file's changed bytes as data).

    Raises:
        gzip.BadGzipFile, EOFError, zlib.error: the stream is damaged or cut.
    """
    import gzip

    with gzip.open(path, "rb") as stream:
        while stream.read(1 << 24):
            pass
