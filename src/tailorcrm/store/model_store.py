"""The model store: the registry of trained versions plus their artifact files, by tenant.

Gorse keeps model files apart from the data and the cache; so does tailorcrm. The registry
(:class:`~tailorcrm.store.models.ModelRepository`) says which versions exist and which one is
active; the artifact files live under one root that comes from settings (``artifacts_dir``,
by default beside the database, see :func:`default_artifacts_dir`), never under the working
folder of whichever command happened to run.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, make_url

from tailorcrm.errors import ValidationError
from tailorcrm.store.models import ModelRecord, ModelRepository

if TYPE_CHECKING:  # pandas and SciPy load only when a vocabulary is written
    from tailorcrm.data.dataset import Dataset

VOCAB_FILE = "vocab.json"
ERASED_PREFIX = "\x1ferased:"  # an erased id's placeholder in a vocabulary (no real id)
USER_DATA_DIR = Path("~/.local/share/tailorcrm")  # artifacts of server databases (PostgreSQL)


def default_artifacts_dir(database_url: str | URL) -> Path:
    """Where artifacts go when settings name no folder: beside the database.

    * SQLite file: ``<folder of the database file>/artifacts`` (a relative file name is
      resolved once, as SQLite itself opens it, so the registry holds absolute paths).
    * In-memory SQLite and server databases (PostgreSQL): a per-user data folder,
      ``~/.local/share/tailorcrm/artifacts/<host>-<port>-<database>``, so two databases on
      one machine never share version folders. Set ``artifacts_dir`` to choose another.
    """
    url = make_url(database_url) if isinstance(database_url, str) else database_url
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        in_memory = (not database or database == ":memory:" or database.startswith("file:")
                     or url.query.get("mode") == "memory")
        if not in_memory:
            return Path(database).expanduser().resolve().parent / "artifacts"
        return (USER_DATA_DIR / "artifacts" / "memory").expanduser()
    label = "-".join(_safe(part) for part in (url.host or "local", str(url.port or ""),
                                              database) if part)
    return (USER_DATA_DIR / "artifacts" / label).expanduser()


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "_" for c in part)


class ModelStore:
    """Model registry plus artifact files: one interface for trained models of every tenant.

    ``registry`` is the store's :class:`ModelRepository` (``store.models``); the registry
    methods here delegate to it so callers may use either.
    """

    def __init__(self, registry: ModelRepository, root: Path) -> None:
        self.registry = registry
        self.root = Path(root).expanduser().resolve()

    def artifact_dir(self, tid: int, name: str, version: str) -> Path:
        """The folder of one model version's files: ``<root>/tenant-<tid>/<name>/<version>``.

        ``name`` may have ``/``-separated parts (``needs/churn``); no part may climb out of
        the root. The folder is not created.
        """
        parts = [*PurePosixPath(name).parts, version]
        if not name or not version or any(p in ("", ".", "..") or "\\" in p or p.startswith("/")
                                          for p in parts):
            raise ValidationError(f"bad artifact name {name!r} / version {version!r}",
                                  name=name, version=version)
        return self.root.joinpath(f"tenant-{tid}", *parts)

    # the registry
    def register(self, tid: int, name: str, version: str, kind: str, path: str | Path,
                 metrics: Mapping[str, Any] | None = None, config_hash: str = "", *,
                 activate: bool = False) -> ModelRecord:
        """Record a trained artifact (inactive unless ``activate``); ConflictError if the
        version exists."""
        return self.registry.register(tid, name, version, kind, str(path), metrics,
                                      config_hash, activate=activate)

    def activate(self, tid: int, name: str, version: str) -> None:
        """Make ``version`` the one active version of ``name``, in one transaction."""
        self.registry.activate(tid, name, version)

    def active(self, tid: int, name: str) -> ModelRecord | None:
        """The active version of ``name``, or None."""
        return self.registry.active(tid, name)

    def get(self, tid: int, name: str, version: str) -> ModelRecord:
        """One version; NotFoundError if absent."""
        return self.registry.get(tid, name, version)

    def list(self, tid: int, name: str | None = None) -> list[ModelRecord]:
        """The tenant's model versions (of one name, or all), newest first."""
        return self.registry.list(tid, name)


def save_vocab(path: str | Path, data: Dataset) -> None:
    """Write the training data's id vocabularies beside a model artifact.

    Artifacts hold arrays by index only; with the vocabularies a server can line up the
    tenant's current data with the model's indices even after customers and items were added.
    """
    body = {"customers": [str(c) for c in data.customer_vocab.ids],
            "items": [str(i) for i in data.item_vocab.ids]}
    _write_atomically(Path(path) / VOCAB_FILE, json.dumps(body))


def read_vocab(path: str | Path) -> dict[str, list[str]] | None:
    """The vocabularies beside an artifact (``{"customers": [...], "items": [...]}``), or
    None when the artifact has no vocabulary file."""
    file = Path(path) / VOCAB_FILE
    if not file.is_file():
        return None
    body = json.loads(file.read_text())
    return {"customers": [str(c) for c in body["customers"]],
            "items": [str(i) for i in body["items"]]}


def scrub_vocab(path: str | Path, erased: set[str], hasher: Callable[[str], str]) -> int:
    """Replace, in the vocabulary file beside an artifact, the customer ids whose keyed hash
    is in ``erased`` by placeholders (indices stay aligned with the model's arrays).

    Returns how many ids were replaced.
    """
    file = Path(path) / VOCAB_FILE
    if not erased or not file.is_file():
        return 0
    body = json.loads(file.read_text())
    customers = body["customers"]
    gone = [i for i, c in enumerate(customers) if hasher(str(c)) in erased]
    for i in gone:
        customers[i] = f"{ERASED_PREFIX}{i}"
    if gone:
        _write_atomically(file, json.dumps(body))
    return len(gone)


def _write_atomically(file: Path, text: str) -> None:
    """Write ``text`` to ``file`` so that readers see the old or the new body, never half."""
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # as a plain write would leave it
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
