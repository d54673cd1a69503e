"""Reader for the Metapsy data standard, feeding the same validation and import path as users' sheets.

The Metapsy database of psychotherapy trials for adult depression (``depression-psyctr``;
Cuijpers et al., DOI 10.5281/zenodo.7254845) is semicolon-separated with decimal commas, ``NA``
for missing values, precalculated Hedges' g (``.g``, ``.g_se``, positive = the intervention
arm is better), arm-level columns and a 0–4 risk-of-bias score. It is *not* a peer-support data
set: it is imported as its own dataset for testing the Metapsy standard, for speed at realistic
scale, and to cross-check the peer-delivered trials it shares with the shipped data
(:func:`disagreements`).

Mapping to the trial-level schema (stated, not guessed per row)
----------------------------------------------------------------
* ``study`` "Author, 2017" → ``study_id`` "Author2017" (ASCII letters and digits; suffix kept),
  ``first_author`` "Author". ``year``, ``instrument`` → ``measure``, ``full_ref`` → ``citation``.
* Arm 1 is the intervention (``*_ps``), arm 2 the control (``*_ctl``). ``msd`` rows use
  ``mean/sd/n_arm*`` (score_type post); ``change`` rows use the change-score columns (score_type
  change); dichotomous rows (response, remission, other dich) use ``event_arm*``/``totaln_arm*``.
* ``.g`` becomes a reported g with ``reported_sign = positive_favours_ps``; its 95% CI is
  ``.g ± z₀.₉₇₅ × .g_se`` and the row is marked ``derived`` with that derivation written out
  (arm data, when present, are used in preference by the selection rule).
* ``higher_is_better`` is read from the data: when ``.g`` and the raw difference (means, change
  scores or log risk ratio, arm 1 minus arm 2) are both non-zero, the same sign means "yes" and
  opposite signs "no". Otherwise response/remission events are desirable ("yes") and scale scores
  are depression severity ("no").
* ``time_weeks`` → ``timepoint_months`` = weeks / 4.345 (two decimals); 0 means "not given" in
  this database and is left empty.
* ``condition_arm2``: ``cau`` → usual care, ``wl`` → waitlist, ``other ctr`` → other.
  ``comparison`` names both arms (with the multi-arm specifications); rows of a multi-arm trial
  that share a control arm get a ``shared_control`` key (split in ``multi_arm="split"`` analyses).
* ``rob`` (number of the four Cochrane RoB 1 criteria judged low risk): 4 → low, 2–3 → some
  concerns, 0–1 → high; the score itself is kept in ``measure_note``.
* ``target_group`` ppd → perinatal depression; older adults (``old``/``olderold``) → older
  adults depression; otherwise depression. ``format`` ind/tel → one-to-one, grp → group (tel also
  sets mode telephone); study-level fields that vary between a study's rows are left empty.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
import unicodedata
from pathlib import Path

import pandas as pd
from scipy.special import ndtri

from evidence import query
from evidence.store import connection
from evidence.core.errors import InvalidSheet, Problem
from evidence.ingest.sheet import OPTIONAL_COLUMNS, SHEET_COLUMNS, ImportResult, SheetReport, import_records, validate_records

__all__ = ["METAPSY_DOI", "METAPSY_ATTRIBUTION", "DEFAULT_PATHS", "read_metapsy", "metapsy_rows",
           "validate_metapsy", "import_metapsy", "disagreements"]

METAPSY_DOI = "10.5281/zenodo.7254845"
METAPSY_URL = f"https://doi.org/{METAPSY_DOI}"
METAPSY_ATTRIBUTION = (f"Metapsy database of psychotherapy trials for adult depression (depression-psyctr), "
                       f"Cuijpers et al.; DOI {METAPSY_DOI}")
SOURCE_REVIEW = f"Metapsy depression-psyctr database (DOI {METAPSY_DOI})"
DEFAULT_PATHS = (
    connection.DATA_DIR / "external" / "metapsy-depression-psyctr.csv",
    connection.PROJECT_ROOT.parent / "shared" / "evidence" / "external" / "metapsy-depression-psyctr.csv",
)
_COMPARATOR = {"cau": "usual care", "wl": "waitlist", "other ctr": "other"}
_COUNTRY = {"us": "USA", "uk": "United Kingdom", "eu": "Europe", "can": "Canada", "au": "Australia",
            "eas": "East Asia", "oth": "other"}
_FORMAT = {"ind": ("one-to-one", None), "grp": ("group", None), "tel": ("one-to-one", "telephone")}
_STUDY_LEVEL = ("first_author", "year", "country", "citation", "population", "ps_format", "ps_mode")
_WEEKS_PER_MONTH = 4.345  # as EXTRACTION_SCHEMA.md states


def _num(text: str | None) -> float | None:
    """Metapsy number (decimal comma, NA) -> float or None; anything else is returned as None."""
    if text is None:
        return None
    t = text.strip()
    if t in ("", "NA", "NaN"):
        return None
    try:
        v = float(t.replace(",", "."))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _study_id(label: str) -> tuple[str, str]:
    author, _, rest = label.partition(",")
    ascii_author = unicodedata.normalize("NFKD", author).encode("ascii", "ignore").decode("ascii")
    sid = re.sub(r"[^A-Za-z0-9]", "", ascii_author) + re.sub(r"[^A-Za-z0-9]", "", rest)
    return sid, author.strip()


def read_metapsy(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """Parse Metapsy CSV bytes (``;``-separated, quoted, ``NA`` for missing) into header and row dicts."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    rows = list(reader)
    if not rows:
        return [], []
    header = rows[0]
    return header, [dict(zip(header, r)) for r in rows[1:] if any(c.strip() for c in r)]


def _direction(r: dict[str, str], kind: str) -> str:
    g = _num(r.get(".g"))
    if kind == "msd":
        m1, m2 = _num(r.get("mean_arm1")), _num(r.get("mean_arm2"))
        raw = None if m1 is None or m2 is None else m1 - m2
    elif kind == "change":
        m1, m2 = _num(r.get("mean_change_arm1")), _num(r.get("mean_change_arm2"))
        raw = None if m1 is None or m2 is None else m1 - m2
    else:
        raw = _num(r.get(".log_rr"))
    if g and raw:
        return "yes" if (g > 0) == (raw > 0) else "no"
    return "yes" if kind == "binary" else "no"


def metapsy_rows(header: list[str], rows: list[dict[str, str]], *, source_name: str = "metapsy-depression-psyctr.csv"
                 ) -> tuple[list[str], list[list[str]]]:
    """Map Metapsy rows to the sheet columns (see the module notes). Returns header and cell lists."""
    z = float(ndtri(0.975))
    out: list[dict[str, str]] = []
    for i, r in enumerate(rows, start=2):
        sid, author = _study_id(r.get("study", ""))
        otype = (r.get("outcome_type") or "").strip()
        kind = "msd" if otype == "msd" else "change" if otype == "change" else (
            "binary" if otype.startswith(("response", "remission", "other dich")) else "other")
        rec: dict[str, str] = {c: "" for c in SHEET_COLUMNS + OPTIONAL_COLUMNS}
        rec.update(study_id=sid, first_author=author, year=r.get("year", "").strip(),
                   country=_COUNTRY.get(r.get("country", "").strip(), ""),
                   citation=(r.get("full_ref") or "").strip(), outcome="depression",
                   measure=(r.get("instrument") or "").strip())
        tg, ag = (r.get("target_group") or "").strip(), (r.get("age_group") or "").strip()
        rec["population"] = ("perinatal depression" if tg == "ppd" else "older adults depression"
                             if tg in ("old", "older adult") or ag in ("old", "olderold") else "depression")
        fmt = _FORMAT.get((r.get("format") or "").strip())
        if fmt:
            rec["ps_format"], rec["ps_mode"] = fmt[0], fmt[1] or ""
        arm2 = (r.get("condition_arm2") or "").strip()
        rec["comparator"] = _COMPARATOR.get(arm2, "other")
        ma1, ma2 = (r.get("multi_arm1") or "").strip(), (r.get("multi_arm2") or "").strip()
        left = (r.get("condition_arm1") or "").strip() + (f" ({ma1})" if ma1 and ma1 != "NA" else "")
        right = arm2 + (f" ({ma2})" if ma2 and ma2 != "NA" else "")
        rec["comparison"] = f"{left} vs {right}"
        if ma1 and ma1 != "NA":
            rec["shared_control"], rec["shared_arm"] = f"{sid}:{right}", "control"
        weeks = _num(r.get("time_weeks"))
        if weeks:
            rec["timepoint_months"] = _fmt(round(weeks / _WEEKS_PER_MONTH, 2))
        rec["higher_is_better"] = _direction(r, kind)
        if kind == "msd":
            for ours, theirs in (("n_ps", "n_arm1"), ("mean_ps", "mean_arm1"), ("sd_ps", "sd_arm1"),
                                 ("n_ctl", "n_arm2"), ("mean_ctl", "mean_arm2"), ("sd_ctl", "sd_arm2")):
                rec[ours] = _fmt(_num(r.get(theirs)))
            rec["score_type"] = "post"
        elif kind == "change":
            for ours, theirs in (("n_ps", "n_change_arm1"), ("mean_ps", "mean_change_arm1"),
                                 ("sd_ps", "sd_change_arm1"), ("n_ctl", "n_change_arm2"),
                                 ("mean_ctl", "mean_change_arm2"), ("sd_ctl", "sd_change_arm2")):
                rec[ours] = _fmt(_num(r.get(theirs)))
            rec["score_type"] = "change"
        elif kind == "binary":
            for ours, theirs in (("events_ps", "event_arm1"), ("n_ps", "totaln_arm1"),
                                 ("events_ctl", "event_arm2"), ("n_ctl", "totaln_arm2")):
                rec[ours] = _fmt(_num(r.get(theirs)))
            rec["score_type"] = "events"
        fractional = [c for c in ("n_ps", "n_ctl", "events_ps", "events_ctl")
                      if rec[c] and not float(rec[c]).is_integer()]
        arm_note = ""
        if fractional:
            # Our store holds whole participants; a fractional N (e.g. a split shared arm) is not
            # rounded: the arm numbers are left out and the row keeps Metapsy's own g.
            arm_note = ("; arm numbers not used: " + ", ".join(f"{c}={rec[c]}" for c in fractional)
                        + " is not a whole number in Metapsy")
            for c in ("n_ps", "mean_ps", "sd_ps", "n_ctl", "mean_ctl", "sd_ctl", "events_ps", "events_ctl"):
                rec[c] = ""
        g, se = _num(r.get(".g")), _num(r.get(".g_se"))
        derivations: list[tuple[str, str]] = []
        if g is not None and se is not None and se > 0:
            rec.update(reported_effect=_fmt(g), reported_effect_type="g",
                       reported_ci_low=_fmt(g - z * se), reported_ci_high=_fmt(g + z * se),
                       reported_sign="positive_favours_ps")
            derivations.append(("back-calculated",
                                f"reported_ci_low/high = .g ± {z:.6f} × .g_se (Metapsy precalculated SE)"))
        if rec["timepoint_months"]:
            derivations.append(("weeks-to-months", f"timepoint_months = time_weeks {_fmt(weeks)} / {_WEEKS_PER_MONTH}"))
        if derivations:
            rec["derived"] = "yes"
            rec["derivation_kind"] = ";".join(k for k, _ in derivations)
            rec["derivation"] = "; ".join(t for _, t in derivations)
        rob = _num(r.get("rob"))
        if rob is not None:
            rec["risk_of_bias"] = "low" if rob >= 4 else "some concerns" if rob >= 2 else "high"
        rec["measure_note"] = (f"Metapsy outcome_type={otype}; rating={r.get('rating', '')}; "
                               f"format={r.get('format', '')}; rob={r.get('rob', '')} of 4 (sg, ac, ba, itt); "
                               f"time={r.get('time', '')}{arm_note}")
        rec["source_review"] = SOURCE_REVIEW
        rec["source_url"] = METAPSY_URL
        rec["source_location"] = f"{source_name} line {i} (row {r.get('', '').strip()}; .id {r.get('.id', '')})"
        quote = "; ".join(f"{k}={r.get(k, '')}" for k in ("study", ".g", ".g_se", "n_arm1", "n_arm2")
                          if r.get(k, "") not in ("", "NA"))
        rec["source_quote"] = quote[:200]
        out.append(rec)
    _blank_varying_study_fields(out)
    columns = list(SHEET_COLUMNS + OPTIONAL_COLUMNS)
    return columns, [[rec[c] for c in columns] for rec in out]


def _blank_varying_study_fields(records: list[dict[str, str]]) -> None:
    # Metapsy codes some of these per arm (e.g. format); one study has one value, or none.
    by_study: dict[str, dict[str, set]] = {}
    for rec in records:
        s = by_study.setdefault(rec["study_id"], {c: set() for c in _STUDY_LEVEL})
        for c in _STUDY_LEVEL:
            s[c].add(rec[c])
    for rec in records:
        s = by_study[rec["study_id"]]
        for c in _STUDY_LEVEL:
            if len(s[c]) > 1:
                rec[c] = ""


def _find_default() -> Path:
    for p in DEFAULT_PATHS:
        if p.is_file():
            return p
    raise FileNotFoundError(f"Metapsy file not found; looked in {[str(p) for p in DEFAULT_PATHS]}")


def validate_metapsy(data: bytes, *, source_name: str = "metapsy-depression-psyctr.csv") -> SheetReport:
    """Map Metapsy bytes to the sheet columns and run the same validation as a user's sheet."""
    if not data:
        return SheetReport((Problem(0, "", "the file is empty"),), ())
    header, rows = read_metapsy(data)
    missing = [c for c in ("study", "condition_arm2", "instrument", "outcome_type", ".g", ".g_se") if c not in header]
    if missing:
        return SheetReport(tuple(Problem(1, c, "missing required Metapsy column") for c in missing), ())
    cols, cells = metapsy_rows(header, rows, source_name=source_name)
    return validate_records(cols, cells)


def import_metapsy(path: str | Path | None = None, name: str = "metapsy-depression", *,
                   uploads_dir: str | Path | None = None, replace: bool = True) -> ImportResult:
    """Import the Metapsy file as its own dataset through the user-sheet path, with attribution.

    Raises
    ------
    InvalidSheet
        When a mapped row breaks a validation rule (every problem is listed; nothing is stored).
    """
    started = time.perf_counter()
    p = Path(path) if path is not None else _find_default()
    report = validate_metapsy(p.read_bytes(), source_name=p.name)
    if not report.ok:
        raise InvalidSheet(report.problems, report.warnings)
    res = import_records(report, name, source_file=p.name, uploads_dir=uploads_dir, replace=replace,
                         attribution=METAPSY_ATTRIBUTION)
    return ImportResult(**{**res.__dict__, "seconds": time.perf_counter() - started})


def _norm(text: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower()) if text is not None and not pd.isna(text) else ""


#: Fields compared between shipped and Metapsy rows, and the rounding allowed.
_COMPARED = (("n_ps", 0.0), ("n_ctl", 0.0), ("mean_ps", 0.005), ("mean_ctl", 0.005), ("sd_ps", 0.005),
             ("sd_ctl", 0.005), ("events_ps", 0.0), ("events_ctl", 0.0))


def disagreements(name: str = "metapsy-depression", con=None, *, uploads_dir=None) -> pd.DataFrame:
    """Shared trials: where the shipped rows and the Metapsy rows disagree.

    Trials are matched by study id (or the shipped ``id_aliases``). Each shipped depression row
    is paired with the closest Metapsy row of the same trial and comparator whose instrument name
    is contained in our measure (ignoring case and punctuation) and whose follow-up is within half
    a month (a missing follow-up on either side is accepted): the one with the fewest differing
    numbers.
    Numbers are compared only where both sides have them (arm Ns, means, SDs, events, and a
    reported g against Metapsy's ``.g``), with rounding allowed at the last printed decimal.
    A shipped row with no Metapsy counterpart is listed once with ``field = "row"``.

    Returns
    -------
    DataFrame
        ``study_id, measure, timepoint_months, field, shipped, metapsy, shipped_effect_id,
        metapsy_effect_id, note``.
    """
    ship_con = con if con is not None else connection.shared_connection()
    ours = query.table("effects", ship_con)
    studies = query.table("studies", ship_con)
    theirs = query.table("effects", connection.connect_dataset(name, uploads_dir))
    alias = {}
    for sid, aliases in zip(studies["study_id"], studies["id_aliases"]):
        if aliases is not None and not pd.isna(aliases):
            for a in str(aliases).split(";"):
                if a.strip():
                    alias[a.strip()] = sid
    theirs = theirs.assign(study_id=theirs["study_id"].map(lambda x: alias.get(x, x)))
    shared = sorted(set(theirs["study_id"]) & set(ours["study_id"]))
    out = []
    for sid in shared:
        mine = ours[(ours["study_id"] == sid) & (ours["outcome"] == "depression")]
        cands = theirs[theirs["study_id"] == sid]
        for _, m in mine.iterrows():
            norm = _norm(m["measure"])
            pool = cands.loc[cands["measure"].map(lambda x: bool(_norm(x)) and _norm(x) in norm).astype(bool)]
            pool = pool.loc[pool["timepoint_months"].map(
                lambda t: pd.isna(t) or pd.isna(m["timepoint_months"]) or abs(t - m["timepoint_months"]) <= 0.5
            ).astype(bool)]
            if not pd.isna(m["comparator"]):
                pool = pool.loc[(pool["comparator"].isna() | (pool["comparator"] == m["comparator"])).astype(bool)]
            base = {"study_id": sid, "measure": m["measure"], "timepoint_months": m["timepoint_months"],
                    "shipped_effect_id": m["effect_id"]}
            if pool.empty:
                out.append({**base, "field": "row", "shipped": None, "metapsy": None, "metapsy_effect_id": None,
                            "note": "no Metapsy row with this measure, follow-up and comparator"})
                continue
            best = None
            for _, t in pool.iterrows():
                diffs, n_common = _compare_rows(m, t)
                if n_common and (best is None or len(diffs) < len(best[0])):
                    best = (diffs, t)
            if best is None:
                continue  # nothing comparable (e.g. a reported MD against arm data)
            for field, a, b in best[0]:
                out.append({**base, "field": field, "shipped": a, "metapsy": b,
                            "metapsy_effect_id": best[1]["effect_id"],
                            "note": f"closest Metapsy row: {best[1]['comparison']}"})
    cols = ["study_id", "measure", "timepoint_months", "field", "shipped", "metapsy", "shipped_effect_id",
            "metapsy_effect_id", "note"]
    return pd.DataFrame(out, columns=cols)


def _compare_rows(m: pd.Series, t: pd.Series) -> tuple[list[tuple[str, float, float]], int]:
    diffs, common = [], 0
    pairs = [(c, m[c], t[c], tol) for c, tol in _COMPARED]
    if str(m.get("reported_effect_type")) == "g" and str(t.get("reported_effect_type")) == "g":
        a, b = m["reported_effect"], t["reported_effect"]
        if m.get("reported_sign") != t.get("reported_sign"):
            a = -a if m.get("reported_sign") == "ps_minus_ctl" else a  # Metapsy g: positive favours arm 1
        pairs.append(("reported_effect (g)", a, b, 0.005))
    for field, a, b, tol in pairs:
        if pd.isna(a) or pd.isna(b):
            continue
        common += 1
        if abs(float(a) - float(b)) > tol:
            diffs.append((field, float(a), float(b)))
    return diffs, common
