"""Downloading a registry dataset's file into the data folder: resumable, checked, found there next time.

Sources, in order: the Hugging Face copy of the publisher's file where the registry names one (the Amazon
Reviews 2023 categories: ``raw/review_categories/<Category>.jsonl`` of the dataset ``McAuley-Lab/Amazon-Reviews-2023``,
whose sha256 and size the registry holds from the dataset's public Git LFS pointers), then the publisher's own URL
(``DatasetEntry.url``; no published checksum, so only its size is checked, against the server's Content-Length).

The transfer is huggingface_hub's ``http_get`` (Range requests, retries that resume a cut connection, redirects,
a progress bar) writing to ``<file>.part`` beside the target: a download stopped halfway, by a cut connection or a
killed process, resumes from the bytes already there on the next call. The finished file is checked against its
sha256 and only then renamed into place; a file that does not match is removed and the error says so. Why not
``hf_hub_download`` or pooch: huggingface_hub 2.x discards a partial download between calls (its
``_download_to_tmp_and_move``) and keeps files in its own cache, and pooch never resumes.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DatasetNotFoundError
from ..files import sha256_file

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

    Args:
        url: An http(s) URL; redirects are followed.
        target: Where the finished file goes (its folder is made).
        sha256: The expected hex digest, or None (no published checksum).
        size: The expected size in bytes, or None (then the server's Content-Length is checked).

    Returns:
        ``target``.

    Raises:
        DownloadError: the file came whole but its sha256 differs (the ``.part`` file is removed).
        OSError, httpx errors: the transfer failed; the ``.part`` file stays, for the next call to resume.
    """
    from huggingface_hub.file_download import http_get

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    resume = part.stat().st_size if part.is_file() else 0
    if size is not None and resume > size:  # not a prefix of this file
        part.unlink()
        resume = 0
    try:
        with open(part, "ab") as out:
            http_get(url, out, resume_size=resume, expected_size=size, displayed_filename=target.name)
    except BaseException:
        if part.stat().st_size == 0:  # nothing came (an HTTP error, offline): nothing to resume
            part.unlink()
        raise
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256:
            part.unlink()
            raise DownloadError(f"{url} gave a file whose sha256 is {actual}, not the published {sha256}; it was "
                                f"removed. Run again to download it afresh; if it happens again, the source changed "
                                f"the file: report it, or put a copy you trust in the data folder.")
    os.replace(part, target)
    return target


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
    for url, target, sha256, size in sources:
        try:
            return fetch(url, target, sha256=sha256, size=size)
        except Exception as exc:  # any failure of one source (HTTP status, network, offline mode, checksum): next
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            reasons.append(f"{url}: {reason}")
            if len(sources) > 1:
                print(f"symcere: downloading {url} failed ({reason}); trying the next source", file=sys.stderr)
    raise DownloadError(f"Downloading {entry.name} failed from every source: " + "; ".join(reasons)
                        + ". A cut download resumes from its .part file on the next try.")
