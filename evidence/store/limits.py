"""Every limit on imported datasets and heavy computations, in one place (read by the store, ingest and pages).

Each value can be changed for a deployment by the environment variable named beside it (a positive
number); README ("How long an upload lives and where") and docs/deployment.md (security notes) quote
these defaults. A refusal raises :class:`evidence.core.errors.LimitExceeded`, which names the limit and
its value.
"""

from __future__ import annotations

import os

__all__ = [
    "MAX_DATASETS_PER_SESSION", "MAX_STUDIES_PER_DATASET", "MAX_SESSION_DISK_BYTES", "MAX_UPLOADS_DISK_BYTES",
    "UPLOAD_LIFETIME_SECONDS", "EXPIRY_INTERVAL_SECONDS", "HEAVY_DIAGNOSTICS_K", "MAX_DIAGNOSTICS_K",
    "describe_limits",
]


def _number(env: str, default: float) -> float:
    raw = os.environ.get(env, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = default
    return value if value > 0 else default


#: Imported datasets (own imports and opened share links) one browser session may hold.
MAX_DATASETS_PER_SESSION = int(_number("EVIDENCE_MAX_DATASETS_PER_SESSION", 5))
#: Studies in one imported dataset (the shipped data have 65; the Metapsy depression database ~600).
MAX_STUDIES_PER_DATASET = int(_number("EVIDENCE_MAX_STUDIES_PER_DATASET", 2_000))
#: Disk one session's imported datasets may take.
MAX_SESSION_DISK_BYTES = int(_number("EVIDENCE_MAX_SESSION_DISK_MB", 200) * 1_000_000)
#: Disk every session's imported datasets together may take (the folder data/uploads/).
MAX_UPLOADS_DISK_BYTES = int(_number("EVIDENCE_MAX_UPLOADS_DISK_MB", 2_000) * 1_000_000)
#: How long an imported dataset (and a share link to it) lives after its import.
UPLOAD_LIFETIME_SECONDS = int(_number("EVIDENCE_UPLOAD_LIFETIME_HOURS", 24) * 3600)
#: How often a running server looks for expired uploads (also at its start and before every import).
EXPIRY_INTERVAL_SECONDS = int(_number("EVIDENCE_EXPIRY_INTERVAL_MINUTES", 10) * 60)
#: Above this many studies, leave-one-out, influence, cumulative, the robustness grid and trim-and-fill
#: are computed only when asked for (a button), not on every view.
HEAVY_DIAGNOSTICS_K = int(_number("EVIDENCE_HEAVY_DIAGNOSTICS_K", 300))
#: Above this many studies they are not computed at all: each refits the model k times or more, so the
#: time grows with k² (one Sensitivity view computing all four: 10.8 s at k = 1,015, 43.8 s at k = 3,067
#: on the shared 2-core machine; tests/benchmarks/bench_sensitivity.py).
MAX_DIAGNOSTICS_K = int(_number("EVIDENCE_MAX_DIAGNOSTICS_K", 1_000))


def describe_limits() -> list[tuple[str, str]]:
    """(limit, value) pairs in words, for the Data page and the docs."""
    return [
        ("Imported datasets per browser session", f"{MAX_DATASETS_PER_SESSION}"),
        ("Studies per imported dataset", f"{MAX_STUDIES_PER_DATASET:,}"),
        ("Disk per session", f"{MAX_SESSION_DISK_BYTES / 1e6:,.0f} MB"),
        ("Disk for all uploads on this server", f"{MAX_UPLOADS_DISK_BYTES / 1e6:,.0f} MB"),
        ("Lifetime of an upload and its share links", f"{UPLOAD_LIFETIME_SECONDS / 3600:g} hours after import"),
        ("Heavy diagnostics computed on request above", f"{HEAVY_DIAGNOSTICS_K:,} studies"),
        ("Heavy diagnostics not computed above", f"{MAX_DIAGNOSTICS_K:,} studies"),
    ]
