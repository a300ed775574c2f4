"""Pretrained packages on the Hugging Face Hub: ``hf://<owner>/<repo>[@revision]``.

A hub repo is a seqnn package like a local folder (``seqnn.json`` + ``model.safetensors``, and
a ``README.md`` model card); :func:`seqnn.load_pretrained` fetches it through
``huggingface_hub`` (its cache, revision pinning, ``HF_HUB_OFFLINE``) and reads it as a folder.
Only those files are downloaded, and a repo that holds a pickle (``.bin``, ``.pt``, ``.pkl``,
``.ckpt`` ...) or code (``.py`` ...) is refused before anything is downloaded: a seqnn package
never needs either, and their presence says the repo is not one. Example::

    model = seqnn.load_pretrained("hf://my-lab/ctcf-model@v1.0")     # a tag, branch or commit
    HF_HUB_OFFLINE=1 seqnn-predict model=hf://my-lab/ctcf-model ...   # from the cache only

``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` are read at each call (not only when
``huggingface_hub`` is imported).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import huggingface_hub
from huggingface_hub import errors as hub_errors

from seqnn.errors import SeqnnInputError

PREFIX = "hf://"
#: the model card beside the package's files (downloaded with them; never executed)
CARD_FILE = "README.md"
#: file types a seqnn package never holds: pickles (loading them can run code) and code
UNSAFE_SUFFIXES = (
    ".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".dill",
    ".py", ".pyc", ".pyo", ".so", ".dll", ".dylib",
)  # fmt: skip
# owner/name as the hub spells repo ids
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
TRUE = ("1", "ON", "YES", "TRUE")
# what huggingface_hub raises for a repo, revision, network or cache it cannot read (its HTTP
# errors, OfflineModeIsEnabled and LocalEntryNotFoundError are OSErrors, a bad id a ValueError;
# network failures are httpx errors, which 1.x re-exports as HTTPError)
HUB_FAILURES = (OSError, ValueError, getattr(hub_errors, "HTTPError", OSError))
LOCAL_FAILURES = (hub_errors.LocalEntryNotFoundError, hub_errors.OfflineModeIsEnabled)


class HubError(SeqnnInputError):
    """A hub source that cannot be fetched or is not a safe seqnn package (names it, the fix)."""


def is_hub_source(source: object) -> bool:
    """True for a string ``hf://...``."""
    return isinstance(source, str) and source.startswith(PREFIX)


def parse_source(source: str) -> tuple[str, str | None]:
    """``hf://owner/repo[@revision]`` -> (``owner/repo``, revision or None).

    Raises:
        HubError: not ``hf://<owner>/<repo>[@revision]``.
    """
    repo_id, _, revision = source.removeprefix(PREFIX).partition("@")
    if not REPO_ID.match(repo_id) or ".." in repo_id or (_ and not revision):
        raise HubError(
            f"{source}: not a hub model: write hf://<owner>/<repo> or hf://<owner>/<repo>@<tag, "
            "branch or commit>"
        )
    return repo_id, revision or None


def offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now (huggingface_hub reads it once, when imported)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in TRUE


def unsafe_files(files: Iterable[str]) -> list[str]:
    """The files a seqnn package never holds: pickles and code (see :data:`UNSAFE_SUFFIXES`)."""
    return sorted(f for f in files if f.lower().endswith(UNSAFE_SUFFIXES))


def fetch_package(source: str, required: Sequence[str], local_files_only: bool = False) -> Path:
    """The local folder (the hub cache's snapshot) of a hub package, downloaded if needed.

    Online, the repo's file list is checked first (no pickle, no code, the ``required``
    files present); then only ``required`` + the card are downloaded. Offline
    (``local_files_only`` or ``HF_HUB_OFFLINE=1``), the cached snapshot of the revision is
    used, and its files are checked the same way.

    Args:
        source: ``hf://<owner>/<repo>[@revision]``.
        required: the package's files (``seqnn.json``, ``model.safetensors``).
        local_files_only: never touch the network, read the cache only.

    Returns:
        The folder holding the ``required`` files.

    Raises:
        HubError: no such repo or revision, a repo that is not a seqnn package or holds a
            pickle or code, or offline without a cached copy; each names the source and the fix.
    """
    repo_id, revision = parse_source(source)
    local = local_files_only or offline()
    listed = None if local else _remote_files(source, repo_id, revision)
    if listed is not None:
        _check_files(source, listed, required)
    local = local or listed is None  # the hub unreachable: the cache, as huggingface_hub does
    try:
        folder = huggingface_hub.snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=os.environ.get("HF_HUB_CACHE") or None,
            allow_patterns=[*required, CARD_FILE],
            local_files_only=local,
            library_name="seqnn",
        )
    except HUB_FAILURES as err:
        raise _hub_error(source, err, local) from None
    folder = Path(folder)
    # offline the cached snapshot is all there is to check (online it was checked above)
    _check_files(source, [str(p.relative_to(folder)) for p in folder.rglob("*")], required)
    return folder


def _remote_files(source: str, repo_id: str, revision: str | None) -> list[str] | None:
    """The repo's files at ``revision``; None when the hub cannot be reached (no network)."""
    try:
        return huggingface_hub.HfApi().list_repo_files(repo_id, revision=revision)
    except (hub_errors.HfHubHTTPError, ValueError) as err:  # the hub answered: no such repo...
        raise _hub_error(source, err, local=False) from None
    except HUB_FAILURES:
        return None


def _check_files(source: str, files: Sequence[str], required: Sequence[str]) -> None:
    bad = unsafe_files(files)
    if bad:
        raise HubError(
            f"{source}: refused: the repo holds {', '.join(bad[:5])}"
            f"{f' and {len(bad) - 5} more' if len(bad) > 5 else ''} (pickle or code, which a "
            "seqnn package never needs and which can run code): ask its owner for a package "
            f"of {' + '.join(required)} only (seqnn.push_to_hub writes one)"
        )
    missing = [name for name in required if name not in files]
    if missing:
        raise HubError(
            f"{source}: not a seqnn package: no {', '.join(missing)} in the repo (it holds "
            f"{len(files)} files): check the repo name, or publish the package with "
            "seqnn.push_to_hub"
        )


def _hub_error(source: str, err: Exception, local: bool) -> HubError:
    """One line for what huggingface_hub raised: the source and what to do."""
    if isinstance(err, hub_errors.RevisionNotFoundError):
        return HubError(
            f"{source}: no such revision in the repo: give an existing tag, branch or commit "
            "after @ (or none for main)"
        )
    if isinstance(err, hub_errors.GatedRepoError):
        return HubError(
            f"{source}: a gated repo: accept its conditions on the hub, then log in "
            "(hf auth login or HF_TOKEN)"
        )
    if isinstance(err, hub_errors.RepositoryNotFoundError):
        return HubError(
            f"{source}: no such repo on the hub (or it is private): check the name, or log in "
            "(hf auth login or HF_TOKEN) for a private one"
        )
    if local or isinstance(err, LOCAL_FAILURES):
        return HubError(
            f"{source}: no cached copy{' (offline mode)' if local else ''}: download it once "
            "with the network on (unset HF_HUB_OFFLINE), or point HF_HUB_CACHE at the cache "
            "that holds it"
        )
    return HubError(f"{source}: the hub could not be read ({type(err).__name__}: {err})")
