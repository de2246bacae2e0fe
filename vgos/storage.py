"""Artifact and drop-zone blob stores: a local folder or an S3 prefix, with atomic, write-once puts."""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vgos.errors import InputError


class WriteOnceViolation(Exception):
    """An existing object would be rewritten with different bytes."""


class BlobNotFound(KeyError):
    """The key does not exist in the store."""


class BlobStore(Protocol):
    """Minimal object store used for artifacts, transcripts and drop zones."""

    root: str

    def put(self, key: str, data: bytes, *, write_once: bool = True) -> str: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def url(self, key: str) -> str: ...
    def fingerprint(self, key: str) -> str: ...


_SLICE = 1 << 20  # with a hasher, each slice is hashed, then written while still in the CPU cache


def write_hashed(fh: Any, parts: Sequence[Any], hasher: Any) -> int:
    """Write buffers back to back to `fh`, feeding `hasher` every byte in the same pass; the bytes written."""
    size = 0
    for part in parts:
        view = memoryview(part).cast("B")
        for at in range(0, len(view), _SLICE):
            hasher.update(view[at:at + _SLICE])
            fh.write(view[at:at + _SLICE])
        size += len(view)
    return size


def synced_temp_file(path: Path, data: bytes | Sequence[Any], mode: int | None = None, hasher: Any = None) -> str:
    """A synced temp file with `data` beside `path` (same file system, so rename/link is atomic); `mode` is set
    before any byte is written (mkstemp's default is 0600). `data` may be buffers, written back to back without
    joining them; a `hasher` (hashlib object) is fed every byte written, in the same pass."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            parts = [data] if isinstance(data, bytes) else data
            if hasher is None:
                for part in parts:
                    fh.write(part)
            else:
                write_hashed(fh, parts, hasher)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def fsync_dir(path: Path) -> None:
    """fsync a folder so a rename or link inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write a file through a temp file in the same folder and rename, so readers never see half a file."""
    tmp = synced_temp_file(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _clean_key(key: str) -> str:
    key = key.strip("/")
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key: {key!r}")
    return key


@dataclass
class LocalBlobStore:
    """A folder on disk; write-once puts use link() so two writers cannot both create a key."""

    root: str

    def _path(self, key: str) -> Path:
        return Path(self.root) / _clean_key(key)

    def put(self, key: str, data: bytes, *, write_once: bool = True) -> str:
        path = self._path(key)
        if not write_once:
            atomic_write_bytes(path, data)
            return self.url(key)
        tmp = synced_temp_file(path, data, 0o444)
        try:
            self.link_in(key, tmp, lambda: data)
        finally:
            os.unlink(tmp)
        return self.url(key)

    def link_in(self, key: str, file: str | Path, content: Callable[[], bytes]) -> None:
        """Make a written, synced file the write-once object `key` by a hard link (no copy): an existing object must
        hold the same bytes (`content()`), else WriteOnceViolation; OSError when the file cannot be linked here."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(file, path)
        except FileExistsError:
            if path.read_bytes() != content():
                raise WriteOnceViolation(f"{path} exists with different bytes") from None

    def put_addressed(self, folder: str, parts: Sequence[Any]) -> tuple[str, int]:
        """Store buffers, back to back, as the write-once object `<folder>/<their SHA-256>`, hashed and written in
        one pass without joining them; (sha256 hex, size)."""
        h = hashlib.sha256()
        tmp = synced_temp_file(self._path(folder) / "object", parts, 0o444, h)
        try:
            self.link_in(f"{folder}/{h.hexdigest()}", tmp, lambda: b"".join(parts))
        finally:
            os.unlink(tmp)
        return h.hexdigest(), sum(memoryview(p).nbytes for p in parts)

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(str(path)) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = Path(self.root)
        start = base / prefix.strip("/") if prefix.strip("/") else base
        if not start.exists():
            return []
        out = [
            p.relative_to(base).as_posix()
            for p in start.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ]
        return sorted(out)

    def url(self, key: str) -> str:
        return str(self._path(key))

    def fingerprint(self, key: str) -> str:
        """Cheap change detector (size and mtime) so unchanged files are not re-read."""
        st = self._path(key).stat()
        return f"{st.st_size}:{st.st_mtime_ns}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def s3_errors(url: str) -> Iterator[None]:
    """Turn what S3 access raises (no credentials, an unreachable endpoint, a refused request) into one InputError
    line naming the URL; BlobNotFound and WriteOnceViolation pass through."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise InputError(f"{url}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE "
                         "or an instance role)") from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        from urllib.parse import urlsplit

        endpoint = os.environ.get("AWS_ENDPOINT_URL") or getattr(exc, "kwargs", {}).get("endpoint_url") or "?"
        parts = urlsplit(endpoint)
        endpoint = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else endpoint
        raise InputError(f"{url}: cannot reach the S3 endpoint {endpoint} ({type(exc).__name__})") from None
    except NoRegionError:
        raise InputError(f"{url}: no AWS region configured (set AWS_DEFAULT_REGION)") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise InputError(f"{url}: S3 refused the request: {err.get('Code', '?')}: "
                         f"{err.get('Message') or _first_line(exc)}") from None
    except BotoCoreError as exc:
        raise InputError(f"{url}: S3 error: {_first_line(exc)}") from None


@dataclass
class S3BlobStore:
    """An S3 prefix; optional Object Lock retention (`VGOS_S3_OBJECT_LOCK_DAYS`) on write-once puts.

    Failures to reach S3 (no credentials, unreachable endpoint, access refused) raise InputError with one line."""

    root: str
    client: object | None = None

    def __post_init__(self) -> None:
        rest = self.root[len("s3://"):]
        self.bucket, _, prefix = rest.partition("/")
        self.prefix = prefix.strip("/")
        if not self.bucket:
            raise InputError(f"{self.root}: no bucket name (expected s3://bucket/prefix)")
        if self.client is None:
            import boto3

            try:
                with s3_errors(self.root):
                    self.client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
            except ValueError as exc:  # e.g. an invalid AWS_ENDPOINT_URL
                raise InputError(f"{self.root}: cannot open S3: {_first_line(exc)}") from None

    def _key(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, *, write_once: bool = True) -> str:
        with s3_errors(self.url(key)):
            return self._put(key, data, write_once=write_once)

    def _put(self, key: str, data: bytes, *, write_once: bool) -> str:
        full = self._key(key)
        kwargs: dict = {"Bucket": self.bucket, "Key": full, "Body": data}
        if write_once:
            if self.exists(key):
                if self.get(key) != data:
                    raise WriteOnceViolation(f"s3://{self.bucket}/{full} exists with different bytes")
                return self.url(key)
            days = os.environ.get("VGOS_S3_OBJECT_LOCK_DAYS")
            if days:
                # Retention is an I/O-edge concern, so the wall clock is acceptable here (never in the kernel).
                until = _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=int(days))
                kwargs.update(ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
        self.client.put_object(**kwargs)
        return self.url(key)

    def get(self, key: str) -> bytes:
        with s3_errors(self.url(key)):
            try:
                return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
            except self.client.exceptions.NoSuchKey:
                raise BlobNotFound(self.url(key)) from None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with s3_errors(self.url(key)):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise

    def list(self, prefix: str = "") -> list[str]:
        full = self.prefix + "/" if self.prefix else ""
        if prefix.strip("/"):
            full += prefix.strip("/") + "/"
        keys: list[str] = []
        with s3_errors(f"s3://{self.bucket}/{full}"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for obj in page.get("Contents", []):
                    k = obj["Key"]
                    keys.append(k[len(self.prefix) + 1:] if self.prefix else k)
        return sorted(keys)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def fingerprint(self, key: str) -> str:
        """Cheap change detector (size and ETag) so unchanged objects are not re-read."""
        with s3_errors(self.url(key)):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return f"{head['ContentLength']}:{head['ETag']}"


def open_store(root: str) -> BlobStore:
    """Open a blob store for a folder path or an `s3://bucket/prefix` URL."""
    if root.startswith("s3://"):
        return S3BlobStore(root)
    return LocalBlobStore(str(Path(root).absolute()))
