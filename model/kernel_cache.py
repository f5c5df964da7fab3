"""Keep numba's cache of compiled kernels in step with the model's sources.

numba checks a cached kernel against the file that defines it only: a kernel in schedule.py
compiled with an earlier _inspect from inspection.py would go on running that earlier code (or
fail) after inspection.py changed. So the machine code cached beside the sources is cleared
whenever any model source differs from the ones it was compiled from. Where the source tree is
not writable (an installed package), numba caches elsewhere and the sources do not change.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
CACHE_DIR = MODEL_DIR / "__pycache__"
STAMP = CACHE_DIR / "kernels.sha256"


def sources_digest() -> str:
    digest = hashlib.sha256()
    for source in sorted(MODEL_DIR.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def clear_stale_kernels() -> None:
    """Delete the cached kernels if the model's sources changed since they were compiled."""
    digest = sources_digest()
    try:
        if STAMP.read_text() == digest:
            return
    except OSError:
        pass
    try:
        CACHE_DIR.mkdir(exist_ok=True)
        for cached in CACHE_DIR.glob("*.nb[ic]"):
            cached.unlink(missing_ok=True)
        STAMP.write_text(digest)
    except OSError:  # a read-only tree: numba keeps its cache elsewhere
        pass


def kernels_cached() -> bool:
    """Whether the weeks' kernel (the largest) has a compiled copy on disk; without one, the first
    run compiles the kernels for about half a minute."""
    from .schedule import _run_weeks

    index = getattr(getattr(getattr(_run_weeks, "_cache", None), "_cache_file", None), "_index_path", None)
    return index is not None and Path(index).is_file()
