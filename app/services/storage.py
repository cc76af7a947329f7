"""Where result files live (``RESULTS_URL``): a local folder (the default, ``results/`` in the instance folder)
or an S3 bucket (``s3://bucket/prefix``), behind one small interface.

Keys are ``<folder>/<name>`` (a result's id, then its file name); a folder's files are put together. The S3
client is boto3's, configured the standard way: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL`` for an S3 API other than AWS's.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from pipeline.files import atomic_write_files


@dataclass(frozen=True)
class Folder:
    """One folder's files together: its name, when it last changed (POSIX time) and its bytes."""

    name: str
    modified: float
    size_bytes: int


class Storage(Protocol):
    """Files by key: each put is whole or absent; ``get`` of a missing key raises FileNotFoundError."""

    def put_files(self, folder: str, files: Mapping[str, bytes]) -> None:
        """Store ``files`` (name -> bytes) in ``folder``, each whole or absent."""

    def get(self, key: str) -> bytes: ...

    def delete(self, folder: str) -> None:
        """Delete every file of ``folder`` (nothing if there is none)."""

    def folders(self) -> Iterator[Folder]:
        """Every folder, with its last change and size."""


class LocalStorage:
    """A folder on this machine: each file written to a temporary name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put_files(self, folder: str, files: Mapping[str, bytes]) -> None:
        atomic_write_files(self.root / folder, files)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def delete(self, folder: str) -> None:
        shutil.rmtree(self.root / folder, ignore_errors=True)

    def folders(self) -> Iterator[Folder]:
        for entry in self.root.iterdir():
            try:  # the folder's own time: a file renamed into it changes it
                if not entry.is_dir():
                    continue
                modified = entry.stat().st_mtime
                size = sum(f.stat().st_size for f in entry.iterdir() if f.is_file())
            except FileNotFoundError:  # deleted meanwhile, by another worker's sweep or a delete
                continue
            yield Folder(entry.name, modified, size)


class S3Storage:
    """A bucket (and a prefix in it) of an S3 API; each process makes its own client."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client: Any = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._pid != os.getpid():
                import boto3

                self._client, self._pid = boto3.session.Session().client("s3"), os.getpid()
            return self._client

    def put_files(self, folder: str, files: Mapping[str, bytes]) -> None:
        for name, data in files.items():
            self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}{folder}/{name}", Body=data)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None

    def delete(self, folder: str) -> None:
        keys = [item["Key"] for item in self._objects(f"{folder}/")]
        if keys:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys],
                                                                   "Quiet": True})

    def folders(self) -> Iterator[Folder]:
        found: dict[str, tuple[float, int]] = {}
        for item in self._objects(""):
            name = item["Key"][len(self.prefix):].split("/", 1)[0]
            modified, size = found.get(name, (0.0, 0))
            found[name] = (max(modified, item["LastModified"].timestamp()), size + item["Size"])
        for name, (modified, size) in found.items():
            yield Folder(name, modified, size)

    def _objects(self, under: str) -> Iterator[dict]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + under)
        for page in pages:
            yield from page.get("Contents", [])


def open_storage(url: str | None, default: Path) -> Storage:
    """The storage ``RESULTS_URL`` names: ``s3://bucket/prefix``, a folder (a path or ``file://`` URL), or
    ``default`` when None."""
    if not url:
        return LocalStorage(default)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("RESULTS_URL s3://... needs a bucket: s3://bucket or s3://bucket/prefix")
        return S3Storage(parts.netloc, parts.path)
    if parts.scheme in ("", "file"):
        return LocalStorage(Path(parts.path if parts.scheme else url).expanduser().resolve())
    raise ValueError(f"RESULTS_URL must be a folder, file:///folder or s3://bucket/prefix, not a {parts.scheme}: URL")
