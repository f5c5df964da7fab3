"""Results folders: a manifest plus zstd Parquet part files, written atomically.

Layout of a results folder (the contract between experiments/ and analysis/, reports/):

    DIR/manifest.json          what was run: kind (run | sweep | sensitivity), scenarios, seeds, scale,
                               years, code and package versions, start and end times, ...
    DIR/runs/part-*.parquet    tidy rows, one per (run, simulated year): scenario, seed, scale, tag
                               columns (e.g. point, replication, factor values), year, phase, metrics;
                               a finished folder holds one sorted part-all.parquet
    DIR/tables/*.parquet       derived tables (e.g. sensitivity indices), tidy

A part file appears only complete (temp file, then rename); the manifest's `finished` is set
last, so a folder without it is visibly incomplete.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model import code_version
from model.errors import UserError

MANIFEST = "manifest.json"
RUNS = "runs"
TABLES = "tables"
PACKAGES = ("mesa", "numpy", "scipy", "pandas", "pyarrow", "networkx", "SALib", "dask", "matplotlib")
KINDS = ("run", "sweep", "sensitivity")
COMPLETE_PART = "part-all.parquet"  # a finished folder's rows, all in one file
PARQUET_METADATA_KEY = "supervision_abm"


class ResultsError(UserError):
    """A results folder that is missing, empty, incomplete or of the wrong kind."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environment() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"code_version": code_version(), "python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions}


def create_folder(folder: Path, field: str = "--out") -> None:
    """mkdir -p, with a user's unwritable or impossible path as a one-line error."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise ResultsError(f"{existing}: {field}: is a file, not a folder; allowed: a new or empty folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ResultsError(f"{folder}: {field}: cannot create the folder ({error.strerror}); allowed: a folder in a "
                           "writable place") from None


@contextlib.contextmanager
def staged_folder(destination: str | Path, field: str = "--out"):
    """A new hidden sibling folder to write into; it replaces `destination` only if the block
    succeeds, so a destination is never half written, and a failed write leaves it as it was."""
    destination = Path(destination)
    create_folder(destination.parent, field)
    staging = destination.parent / f".{destination.name}.{uuid.uuid4().hex}.tmp"
    create_folder(staging, field)
    try:
        yield staging
        replace_folder(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_folder(complete: Path, destination: Path) -> None:
    """Swap a completely written folder into place, replacing whatever was there."""
    retired = destination.parent / f".{destination.name}.{uuid.uuid4().hex}.old"
    if destination.exists():
        destination.rename(retired)
    complete.rename(destination)
    shutil.rmtree(retired, ignore_errors=True)


def check_replaceable(destination: Path, kind: str) -> None:
    """A destination that a new `kind` results folder may replace: absent, an empty folder, or an
    earlier results folder of the same kind. Anything else is the user's, and is refused."""
    if not destination.exists():
        return
    if not destination.is_dir():
        raise ResultsError(f"{destination}: --out: is a file, not a folder; allowed: a new or empty folder, or an "
                           f"earlier {kind} results folder to replace")
    if not any(destination.iterdir()):
        return
    try:
        earlier = read_manifest(destination)["kind"]
    except ResultsError:
        earlier = None
    if earlier != kind:
        held = f"holds a {earlier} results folder" if earlier else "exists and is not a results folder"
        raise ResultsError(f"{destination}: --out: {held}; allowed: a new or empty folder, or an earlier {kind} "
                           "results folder to replace")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def write_manifest(folder: Path, manifest: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, default=str).encode())


def read_manifest(folder: str | Path) -> dict:
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ResultsError(f"{folder}: folder: {problem}; allowed: a results folder written by run --out, "
                           "sweep or sensitivity")
    if not path.is_file():
        raise ResultsError(f"{path}: manifest: missing; allowed: a results folder written by run --out, sweep or "
                           "sensitivity")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ResultsError(f"{path}: manifest: not valid JSON; allowed: the manifest the tool writes") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: manifest: a JSON {type(manifest).__name__}, not an object; allowed: the "
                           "manifest the tool writes")
    if manifest.get("kind") not in KINDS:
        raise ResultsError(f"{path}: kind: {manifest.get('kind')!r} is not a results kind; allowed: {', '.join(KINDS)}")
    return manifest


def _write_parquet_atomically(path: Path, frame: pd.DataFrame) -> Path:
    """zstd Parquet via a temporary file and a rename: the file is either complete or absent. Its
    schema metadata carries the code version, so a file copied out of its folder still says what
    wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**table.schema.metadata,
                                           PARQUET_METADATA_KEY: json.dumps({"code_version": code_version()})})
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, path)
    return path


def write_part(folder: Path, frame: pd.DataFrame, name: str | None = None) -> Path:
    """Write one part file of run rows; returns its path."""
    return _write_parquet_atomically(folder / RUNS / f"part-{name or uuid.uuid4().hex}.parquet", frame)


def compact_runs(folder: Path, keys: list[str]) -> None:
    """Fold the part files, written in whatever order workers finished, into one file sorted by
    `keys`: a finished folder reads the same row order with any tool, and is the same bytes
    whatever the number of workers. Parts left by a compaction that was cut short are leftovers
    (read_runs ignores them) and are removed here."""
    parts = sorted((folder / RUNS).glob("part-*.parquet"))
    complete = folder / RUNS / COMPLETE_PART
    if parts == [complete]:
        return
    if not complete.is_file():
        rows = pd.concat([_read_parquet(p) for p in parts], ignore_index=True)
        write_part(folder, rows.sort_values(keys, kind="stable", ignore_index=True), name="all")
    for path in parts:
        if path != complete:
            path.unlink()


def write_table(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    return _write_parquet_atomically(folder / TABLES / f"{name}.parquet", frame)


def read_runs(folder: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """All run rows of a folder (only `columns` when given: cheap for large folders)."""
    complete = Path(folder) / RUNS / COMPLETE_PART
    parts = [complete] if complete.is_file() else sorted((Path(folder) / RUNS).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat([_read_parquet(p, columns) for p in parts], ignore_index=True)


def _read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A results file, or a one-line error when it was damaged or replaced by something else."""
    try:
        return pd.read_parquet(path, columns=columns)
    except (pa.ArrowException, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ResultsError(f"{path}: {path.parent.name}: not a readable Parquet file ({reason}); allowed: the files "
                           "the tool writes (run the study again into a new folder)") from None


def discard_unfinished_parts(folder: Path) -> int:
    """Delete temporary part files a killed writer left behind; their runs are simply run again."""
    leftovers = list((folder / RUNS).glob(".part-*.tmp"))
    for path in leftovers:
        path.unlink()
    return len(leftovers)


def read_table(folder: str | Path, name: str) -> pd.DataFrame | None:
    path = Path(folder) / TABLES / f"{name}.parquet"
    return _read_parquet(path) if path.is_file() else None


def load_results(folder: str | Path, kinds: tuple[str, ...] = KINDS) -> tuple[dict, pd.DataFrame]:
    """The manifest and all run rows of a finished results folder."""
    manifest = read_manifest(folder)
    path = Path(folder) / MANIFEST
    if manifest["kind"] not in kinds:
        raise ResultsError(f"{path}: kind: {manifest['kind']!r} cannot be used here; allowed: {', '.join(kinds)}")
    if not manifest.get("finished"):
        raise ResultsError(f"{path}: finished: the run did not finish (resume it first); allowed: a finished "
                           "results folder")
    runs = read_runs(folder)
    if runs.empty:
        raise ResultsError(f"{Path(folder) / RUNS}: runs: no result rows; allowed: a results folder with runs")
    return manifest, runs
