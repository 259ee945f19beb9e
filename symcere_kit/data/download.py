"""Downloading a registry dataset's file into the data folder: resumable, checked, found there next time.

Sources, in order: the Hugging Face copy of the publisher's file where the registry names one (the Amazon
Reviews 2023 categories: ``raw/review_categories/<Category>.jsonl`` of the dataset ``McAuley-Lab/Amazon-Reviews-2023``,
whose sha256 and size the registry holds from the dataset's public Git LFS pointers), then the publisher's own URL
(``DatasetEntry.url``; no published checksum, so only its size is checked, against the server's Content-Length).

The transfer is huggingface_hub's ``http_get`` (Range requests, retries that resume a cut connection, redirects,
a progress bar) writing to ``<file>.part`` beside the target: a download stopped halfway, by a cut connection or a
killed process, resumes from the bytes already written (whole 10 MiB chunks) on the next call; a lock file keeps
two processes off one target. The finished file is checked (its sha256; without one, that it is the kind of file
its name says and, for gzip, its CRC) and only then renamed into place; a file that does not pass is removed and
the error says so. Why not ``hf_hub_download`` or pooch: huggingface_hub 2.x discards a partial download
between calls (its ``_download_to_tmp_and_move``) and keeps files in its own cache, and pooch never resumes.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DatasetNotFoundError
from ..files import check_gzip, sha256_file

if TYPE_CHECKING:
    from .registry import DatasetEntry

HUB_REPO = "McAuley-Lab/Amazon-Reviews-2023"  # a dataset repository on the Hugging Face hub
DEFAULT_ENDPOINT = "https://huggingface.co"


class DownloadError(DatasetNotFoundError):
    """No source gave the file: each source's reason, and that nothing half-written was kept unless resumable."""


def hub_url(path_in_repo: str, endpoint: str | None = None) -> str:
    """The download URL of ``path_in_repo`` in ``HUB_REPO`` at ``endpoint`` (``$HF_ENDPOINT`` or the hub)."""
    from huggingface_hub import hf_hub_url

    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    return hf_hub_url(HUB_REPO, path_in_repo, repo_type="dataset", endpoint=endpoint)


def fetch(url: str, target: Path, *, sha256: str | None = None, size: int | None = None) -> Path:
    """Download ``url`` to ``target``, resuming ``target``'s ``.part`` file when one is there.

    One process at a time per target (a lock file in the temporary folder): a second one waits, then finds the
    file. The bytes are asked for as they are stored (no transfer encoding, so a resumed range counts the file's
    own bytes). Without a published sha256, a file must start as its name says (gzip's magic bytes for ``.gz``,
    a JSON ``{`` or ``[`` for ``.json``/``.jsonl``) and a ``.gz`` must pass its CRC check, so an HTML error page
    or a stale ``.part`` from an older file is never renamed into place.

    Args:
        url: An http(s) URL; redirects are followed.
        target: Where the finished file goes (its folder is made).
        sha256: The expected hex digest, or None (no published checksum).
        size: The expected size in bytes, or None (then the server's Content-Length is checked).

    Returns:
        ``target``.

    Raises:
        DownloadError: the file came whole but is not the file (sha256, kind or CRC); its ``.part`` is removed.
        OSError, httpx errors: the transfer failed; the ``.part`` file stays, for the next call to resume.
    """
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    # the lock lives in the temporary folder, so data/raw/ holds data files only
    key = hashlib.sha1(str(target.resolve()).encode()).hexdigest()
    lock = Path(tempfile.gettempdir()) / f"symcere-download-{key}.lock"
    with FileLock(str(lock)):
        if target.is_file():  # another process finished it while this one waited
            return target
        part = target.with_name(target.name + ".part")
        if part.is_file() and (size is not None and part.stat().st_size > size or _wrong_kind(part, target)):
            part.unlink()  # not a prefix of this file: an error page, or longer than the file
        try:
            _transfer(url, part, size, target.name)
        except BaseException:
            if part.is_file() and part.stat().st_size == 0:  # nothing came (an HTTP error, offline)
                part.unlink()
            raise
        problem = _not_the_file(part, target, sha256)
        if problem:
            part.unlink()
            raise DownloadError(f"{url} gave {problem}; it was removed. Run again to download it afresh; if it "
                                "happens again, the source changed or serves something else: report it, or put a "
                                "copy you trust in the data folder.")
        os.replace(part, target)
    return target


def _transfer(url: str, part: Path, size: int | None, name: str) -> None:
    """Append the rest of ``url`` to ``part`` (huggingface_hub's http_get: Range, retries, progress bar)."""
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get

    resume = part.stat().st_size if part.is_file() else 0
    with open(part, "ab") as out:
        try:
            http_get(url, out, resume_size=resume, expected_size=size, displayed_filename=name,
                     headers={"Accept-Encoding": "identity"})
        except HfHubHTTPError as exc:  # 416: the range starts at the end, so the part may be whole already
            if resume and exc.response is not None and exc.response.status_code == 416:
                return
            raise


def _wrong_kind(path: Path, target: Path) -> bool:
    """Whether ``path`` does not start as ``target``'s name says: gzip's magic bytes for ``.gz``, a JSON ``{``/``[``
    for ``.json``/``.jsonl``; other names are not judged."""
    with open(path, "rb") as f:
        head = f.read(64)
    if not head:
        return False
    if target.name.endswith(".gz"):
        return head[:2] != b"\x1f\x8b"
    if target.suffix in (".json", ".jsonl"):
        return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"[")
    return False


def _not_the_file(part: Path, target: Path, sha256: str | None) -> str | None:
    """Why the finished ``part`` is not the file, or None."""
    if sha256 is not None:
        actual = sha256_file(part)
        return None if actual == sha256 else f"a file whose sha256 is {actual}, not the published {sha256}"
    if _wrong_kind(part, target):
        with open(part, "rb") as f:
            return f"something else than {target.name} (it starts {f.read(40)!r})"
    if target.name.endswith(".gz"):
        import gzip
        import zlib

        try:
            check_gzip(part)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            return f"a damaged gzip stream ({exc})"
    return None


def download(entry: DatasetEntry, folder: Path) -> Path:
    """Fetch ``entry``'s file into ``folder`` from its sources in order (module docstring); the path it lies at.

    Raises:
        DownloadError: every source failed; the message gives each one's reason.
    """
    sources = []
    if entry.hub_file:
        sources.append((hub_url(entry.hub_file), folder / Path(entry.hub_file).name, entry.sha256, entry.size))
    if entry.url:
        sources.append((entry.url, folder / entry.files[0], None, None))
    reasons = []
    for i, (url, target, sha256, size) in enumerate(sources):
        try:
            return fetch(url, target, sha256=sha256, size=size)
        except Exception as exc:  # any failure of one source (HTTP status, network, offline mode, checksum): next
            reason = (str(exc).splitlines()[0] if str(exc) else type(exc).__name__).rstrip(".")
            reasons.append(f"{url}: {reason}")
            if i < len(sources) - 1:
                print(f"symcere: downloading {url} failed ({reason}); trying the next source", file=sys.stderr)
    raise DownloadError(f"Downloading {entry.name} failed from every source: " + "; ".join(reasons)
                        + ". A cut download resumes from its .part file on the next try.")
