"""Curate the raw extraction (data/raw/) into the project's CSVs (data/*.csv).

Run from the repository root::

    .venv/bin/python scripts/curate_raw.py            # rewrite data/*.csv
    .venv/bin/python scripts/curate_raw.py --check    # only report provenance problems (exit 1 if any)

Deterministic: the same inputs give byte-identical outputs (rows sorted, no timestamps).

Inputs
------
- ``data/raw/*_trials*.csv`` (except ``white2020_trials.csv``) and ``data/raw/extraction_*.csv``: trial rows in the
  shared extraction schema (``data/raw/EXTRACTION_SCHEMA.md``), one per study x comparison x outcome x
  timepoint x source.
- ``data/raw/white2020_trials.csv`` / ``white2020_pooled.csv``: White et al. 2020's own coding and pooled results.
- ``data/raw/reviews*.csv``, ``data/raw/review_results*.csv``: review-level evidence;
  ``data/raw/review_membership*.csv``: which trials each review included (-> ``data/review_trials.csv``).
- ``data/raw/verification*.csv``: the second, independent reads of each numeric row (one file per pass).
- ``data/curation/*.csv``: every judgement made here, as data with a stated reason:
  ``controlled_lists.csv`` (the vocabularies), ``study_aliases.csv`` (one trial under two ids),
  ``study_overrides.csv`` (a characteristic chosen by hand, with the reason), ``peer_deliverer.csv``
  (who delivered the intervention, with the words it rests on), ``effect_codings.csv`` (sign convention,
  score type, shared arm and flags of particular rows), ``derivations.csv`` (how each number that is not in
  its quote was obtained), ``review_outcomes.csv`` (review outcome labels -> outcome list), ``source_urls.csv``
  (optional: the paper's own page for a source first read on an aggregator copy, with the text read there).
- ``data/raw/risk_of_bias.csv`` and ``review_membership.csv``: the reviews' risk-of-bias judgements and included-trial
  lists, turned into ``data/risk_of_bias.csv`` and the ``studies.rob_*`` columns by ``scripts/curate_rob.py``.

Rules (see docs/data-model.md)
------------------------------
- Numbers are copied, never computed, estimated or filled. A number that does not appear in its verbatim
  quote must have a written derivation (``derivations.csv``) or the run fails.
- A raw row with no outcome number (only characteristics and perhaps randomised N) gives a study and a
  source, not an effect; its outcome goes to ``studies.outcomes_no_data``.
- The same trial under several ids is merged (``study_aliases.csv``). Conflicting characteristics are
  resolved in this order: a hand decision in ``study_overrides.csv``; White et al. 2020's own coding for
  ps_role and org_support; the value given by the most raw rows; ties go to the first file in name order.
  Every conflict is written into ``studies.notes``.
- One effects row per raw row (one per source). Rows of one study that report the same quantity
  (comparison, outcome, measure, timepoint) share a ``duplicate_group``; identical numbers are flagged
  ``duplicate-data``, different ones ``sources-disagree`` with the numbers listed in ``disagreement``.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the project's packages (evidence)
from curate_rob import ROB_COLUMNS, build_rob  # noqa: E402  (sibling module; the tests load this file by path)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
RAW = DATA / "raw"
CURATION = DATA / "curation"

TRIAL_COLUMNS = (
    "study_id first_author year country citation doi_or_pmid design pilot population setting ps_format ps_mode "
    "ps_role peer_paid org_support comparator outcome measure higher_is_better timepoint_months n_ps mean_ps "
    "sd_ps n_ctl mean_ctl sd_ctl events_ps events_ctl reported_effect reported_effect_type reported_ci_low "
    "reported_ci_high measure_note risk_of_bias source_review source_url source_location source_quote"
).split()
STUDY_CHARACTERISTICS = (
    "first_author year country citation doi_or_pmid design pilot population setting ps_format ps_mode ps_role "
    "peer_paid org_support"
).split()
OUTCOME_NUMBERS = (
    "n_ps mean_ps sd_ps n_ctl mean_ctl sd_ctl events_ps events_ctl reported_effect reported_ci_low reported_ci_high"
).split()
EFFECT_NUMBERS = ("mean_ps sd_ps mean_ctl sd_ctl events_ps events_ctl reported_effect reported_ci_low "
                  "reported_ci_high").split()
# Cells checked against the quote by the provenance check: every number of an effects row.
PROVENANCE_CELLS = tuple(OUTCOME_NUMBERS) + ("timepoint_months",)

STUDIES_COLUMNS = (
    "study_id first_author year country citation doi_or_pmid design pilot population setting ps_format ps_mode "
    "ps_role peer_paid org_support peer_deliverer peer_deliverer_basis risk_of_bias rob_status rob_assessed_by "
    "rob_tool rob_domains in_white2020 white2020_ref "
    "id_aliases outcomes_no_data flags notes"
).split()
SOURCES_COLUMNS = ("source_id study_id source_review source_url source_location second_source_url source_quote raw_file "
                   "raw_row").split()
EFFECTS_COLUMNS = (
    "effect_id study_id source_id comparison comparator shared_control shared_arm outcome measure higher_is_better "
    "timepoint_months n_ps mean_ps sd_ps n_ctl mean_ctl sd_ctl events_ps events_ctl reported_effect "
    "reported_effect_type reported_ci_low reported_ci_high reported_sign score_type derived derivation "
    "derivation_kind risk_of_bias verification verification_note measure_note duplicate_group disagreement flags"
).split()
REVIEWS_COLUMNS = (
    "review_id first_author year title journal doi review_type n_primary_studies n_participants population "
    "ps_format ps_mode amstar2 source_url source_location raw_file"
).split()
REVIEW_RESULTS_COLUMNS = (
    "result_id review_id outcome outcome_label subgroup population ps_format timepoint k_studies n_participants "
    "effect_type estimate ci_low ci_high reported_sign p_value i2 q q_p comparator source_url source_location "
    "source_quote raw_file raw_row note"
).split()
REVIEW_TRIALS_COLUMNS = (
    "membership_id review_id trial_id study_id review_label analysis source_url source_location source_quote "
    "raw_file raw_row"
).split()

WHITE_URL = "https://bmcpsychiatry.biomedcentral.com/articles/10.1186/s12888-020-02923-3"
WHITE_SETTING = {
    "community mental health services": "community mental health",
    "inpatients": "inpatient/discharge",
    "depression clinics": "depression clinic",
    "inpatients or outpatients": "other",
}
WHITE_MODE = {"face-to-face": "face-to-face", "online": "online", "telephone or face-to-face": "mixed"}
WHITE_DESIGN = {"individually randomised RCT": "RCT", "cluster RCT": "cluster RCT"}
ROB_ORDER = ("low", "unclear", "some concerns", "high")
BORDERLINE_DELIVERERS = {"near-peer", "community health worker", "mutual support",
                         "professional with peer co-facilitation"}
OVERRIDABLE_EFFECT_COLUMNS = {"reported_sign", "score_type", "shared_control", "shared_arm", "comparison", "flags",
                              "duplicate_group", "comparator", "outcome", "reported_effect_type"}
#: The effect types a hand coding may give a reported ratio (its number is never changed, only what it is).
RATIO_RENAMES = {"IRR", "HR"}
# Derivation kinds that make a number something other than what the source printed (flag "derived");
# a number printed elsewhere on the page, a weeks->months timepoint or a restated sign is not flagged.
FLAGGED_DERIVATION_KINDS = {"back-calculated", "other-source", "se-to-sd", "ci-from-p"}


class CurationError(RuntimeError):
    """The raw data or a curation table is inconsistent; the message lists every problem."""


# ----------------------------------------------------------------------------------------------
# Number matching for the provenance check

_DASHES = "-\u2212\u2010\u2011\u2012\u2013\u2014"
_NUMBER_RE = re.compile(rf"(?P<sign>[{_DASHES}]\s?)?(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)")


def numbers_in_text(text: str) -> list[float]:
    """Every number printed in ``text``, read the ways a table or abstract may print it.

    Handles a leading-dot decimal (``.59``), the Unicode minus and hyphen glyphs as minus signs, decimal
    commas (Metapsy's ``4,677``) and thousands separators (``1,234``); a dash right after a digit is a
    range separator (``0.3-2.5``, ``0·35–0·79``), not a minus. The middle dot ``·`` (Lancet style) is read
    as a decimal point. Each ambiguous token yields every reading, so a match means "printed there".
    """
    return [value for value, _, _ in _numbers_with_positions(text)]


def _numbers_with_positions(text: str) -> list[tuple[float, int, int]]:
    text = text.replace("\u00b7", ".")
    out: list[tuple[float, int, int]] = []
    for m in _NUMBER_RE.finditer(text):
        start = m.start()
        sign = m.group("sign")
        negative = False
        if sign:
            before = text[start - 1] if start > 0 else " "
            negative = not before.isdigit()
        token = m.group("num")
        readings = set()
        if "," in token:
            readings.add(token.replace(",", ""))
            if token.count(",") == 1 and "." not in token:
                readings.add(token.replace(",", "."))
            # "12,6.4" style lists: read each comma-separated piece as well.
            readings.update(p for p in token.split(",") if p)
        else:
            readings.add(token)
        for r in readings:
            try:
                value = float(r)
            except ValueError:
                continue
            out.append((-value if negative else value, m.start(), m.end()))
    return out


def number_in_text(value: float, text: str) -> bool:
    """True when ``value`` is printed in ``text`` (same sign, same digits; 0.59 matches .59)."""
    for candidate in numbers_in_text(text):
        if abs(candidate - value) <= 1e-9 * max(1.0, abs(value)):
            return True
    return False


def cells_not_in_quote(row: dict[str, str], quote: str) -> list[str]:
    """Names of the numeric cells of an effects row whose number is not printed in ``quote``."""
    missing = []
    for col in PROVENANCE_CELLS:
        text = (row.get(col) or "").strip()
        if text and not number_in_text(float(text), quote):
            missing.append(col)
    return missing


# ----------------------------------------------------------------------------------------------
# Reading


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row.get(c)) for c in columns})


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


EXCLUDE: tuple[str, ...] = ()  # glob patterns of raw files to leave out (set by --exclude)


def trial_files(raw_dir: Path) -> list[Path]:
    """Raw trial files in name order: *_trials*.csv and extraction_*.csv, not White's coding file."""
    names = set(raw_dir.glob("*_trials*.csv")) | set(raw_dir.glob("extraction_*.csv"))
    names = {p for p in names if not any(p.match(pat) for pat in EXCLUDE)}
    return sorted((p for p in names if not p.name.startswith("white2020")), key=lambda p: p.name)


@dataclass
class RawRow:
    file: str
    row: int  # 1-based data row, as in verification.csv
    cells: dict[str, str]

    @property
    def key(self) -> str:
        return f"{Path(self.file).stem}-{self.row:03d}"

    def has_outcome_numbers(self) -> bool:
        return any(self.cells[c].strip() for c in EFFECT_NUMBERS)


def read_trial_rows(raw_dir: Path, problems: list[str]) -> list[RawRow]:
    rows = []
    for path in trial_files(raw_dir):
        data = read_csv(path)
        if data and list(data[0]) != TRIAL_COLUMNS:
            problems.append(f"{path.name}: header differs from EXTRACTION_SCHEMA.md "
                            f"(missing {sorted(set(TRIAL_COLUMNS) - set(data[0]))}, "
                            f"extra {sorted(set(data[0]) - set(TRIAL_COLUMNS))})")
            continue
        for i, cells in enumerate(data, start=1):
            rows.append(RawRow(path.name, i, {k: (v or "").strip() for k, v in cells.items()}))
    return rows


def load_curation(curation_dir: Path) -> dict[str, list[dict[str, str]]]:
    names = ("controlled_lists", "study_aliases", "study_overrides", "peer_deliverer", "effect_codings",
             "derivations", "review_outcomes", "review_signs")
    out = {n: read_csv(curation_dir / f"{n}.csv") for n in names}
    # Optional: the paper's own address for sources first read on an aggregator copy (issue 16 section 3).
    path = curation_dir / "source_urls.csv"
    out["source_urls"] = read_csv(path) if path.exists() else []
    return out


# ----------------------------------------------------------------------------------------------
# Curation steps


def vocabulary(lists: list[dict[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for r in lists:
        out[r["field"]].add(r["value"])
    return out


def check_categories(rows: list[RawRow], vocab: dict[str, set[str]], problems: list[str]) -> None:
    fields = ("design", "pilot", "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid",
              "org_support", "comparator", "outcome", "reported_effect_type", "risk_of_bias")
    for r in rows:
        for f in fields:
            v = r.cells[f]
            if v and v not in vocab[f]:
                problems.append(f"{r.file} row {r.row}, column {f}: {v!r} is not in the controlled list "
                                f"{sorted(vocab[f])}; add a mapping or fix the raw row")
        hib = r.cells["higher_is_better"]
        if hib and hib not in ("yes", "no"):
            problems.append(f"{r.file} row {r.row}, column higher_is_better: {hib!r} must be yes/no")


def _choose(values: list[tuple[str, str]]) -> tuple[str, str | None]:
    """Pick one value from (value, file) pairs: most rows, ties to the first file; return (value, note)."""
    present = [(v, f) for v, f in values if v]
    if not present:
        return "", None
    counts = Counter(v for v, _ in present)
    if len(counts) == 1:
        return present[0][0], None
    first_seen = {}
    for v, f in present:
        first_seen.setdefault(v, f)
    best = max(counts, key=lambda v: (counts[v], -[p[0] for p in present].index(v)))
    detail = "; ".join(f"{v!r} ({counts[v]} row(s), first in {first_seen[v]})" for v in counts)
    return best, f"sources differ: {detail}; kept {best!r} (most rows, ties to first file)"


def build_studies(rows: list[RawRow], white: list[dict], cur: dict, problems: list[str]) -> dict[str, dict]:
    """One study per trial: merge aliases, resolve conflicting characteristics, add White 2020's coding."""
    aliases = {a["alias_id"]: a["study_id"] for a in cur["study_aliases"]}
    alias_reason = {a["alias_id"]: a["reason"] for a in cur["study_aliases"]}
    for r in rows:
        r.cells["raw_study_id"] = r.cells["study_id"]
        r.cells["study_id"] = aliases.get(r.cells["study_id"], r.cells["study_id"])
    white_by_id = {}
    for w in white:
        sid = aliases.get(w["study_id"], w["study_id"])
        white_by_id[sid] = w
    overrides = defaultdict(dict)
    for o in cur["study_overrides"]:
        overrides[o["study_id"]][o["column"]] = (o["value"], o["reason"])
    deliverer = {d["study_id"]: d for d in cur["peer_deliverer"]}

    by_study: dict[str, list[RawRow]] = defaultdict(list)
    for r in rows:
        by_study[r.cells["study_id"]].append(r)
    study_ids = sorted(set(by_study) | set(white_by_id), key=str.lower)
    studies = {}
    for sid in study_ids:
        srows = by_study.get(sid, [])
        w = white_by_id.get(sid)
        notes = []
        st = {"study_id": sid}
        for col in STUDY_CHARACTERISTICS:
            value, note = _choose([(r.cells[col], r.file) for r in srows])
            if col == "citation" and note:
                # Citations differ only in detail; keep the longest, which carries the most reference data.
                value = max((r.cells[col] for r in srows if r.cells[col]), key=len)
                note = None
            if w is not None:
                wv = _white_value(col, w)
                if col in ("ps_role", "org_support") and wv:
                    if value and value != wv:
                        notes.append(f"{col}: extraction says {value!r}, White 2020 codes {wv!r}; kept White's coding")
                    value, note = wv, None
                elif not value and wv:
                    value = wv
                    notes.append(f"{col} {wv!r} from White 2020's text (white2020_trials.csv)")
            if col in overrides[sid]:
                new, reason = overrides[sid][col]
                if new != value:
                    notes.append(f"{col}: {value!r} -> {new!r} by hand ({reason})")
                value, note = new, None
            if note:
                notes.append(f"{col}: {note}")
            st[col] = value
        for col in set(overrides[sid]) - set(STUDY_CHARACTERISTICS):
            problems.append(f"study_overrides.csv: column {col!r} of {sid} cannot be overridden")
        robs = {r.cells["risk_of_bias"] for r in srows if r.cells["risk_of_bias"]}
        st["risk_of_bias"] = max(robs, key=ROB_ORDER.index) if robs else ""
        if len(robs) > 1:
            notes.append(f"risk_of_bias: rows differ {sorted(robs)}; kept the most severe")
        d = deliverer.get(sid)
        if d is None:
            st["peer_deliverer"], st["peer_deliverer_basis"] = "unclear", "not yet classified (no entry in data/curation/peer_deliverer.csv)"
            print(f"warning: {sid} has no peer_deliverer classification; set to 'unclear'", file=sys.stderr)
        else:
            st["peer_deliverer"], st["peer_deliverer_basis"] = d["peer_deliverer"], d["basis"]
        st["in_white2020"] = w is not None
        st["white2020_ref"] = w["white_ref"] if w else ""
        raw_ids = sorted({r.cells["raw_study_id"] for r in srows} | ({w["study_id"]} if w else set()))
        st["id_aliases"] = ";".join(i for i in raw_ids if i != sid)
        for alias in raw_ids:
            if alias != sid:
                notes.append(f"merged raw id {alias} ({alias_reason.get(alias, '')})")
        no_data = sorted({r.cells["outcome"] for r in srows if not r.has_outcome_numbers() and r.cells["outcome"]})
        st["outcomes_no_data"] = ";".join(no_data)
        st["notes"] = " | ".join(notes)
        # Study-level flags stated by hand (peer_deliverer.csv extra_flags); the rest are added in finalise_flags.
        st["_flags"] = {x for x in (d or {}).get("extra_flags", "").split(";") if x}
        studies[sid] = st
    for sid in sorted(set(deliverer) - set(studies)):
        # Not an error: the study's raw file may be left out with --exclude while it is being written.
        print(f"warning: peer_deliverer.csv: {sid} is not a study in the files read", file=sys.stderr)
    return studies


def _white_value(col: str, w: dict[str, str]) -> str:
    if col == "ps_role":
        return w["ps_role"]
    if col == "org_support":
        return w["org_support"]
    if col == "setting":
        return WHITE_SETTING.get(w["setting"], "")
    if col == "ps_mode":
        return WHITE_MODE.get(w["ps_mode"], "")
    if col == "design":
        return WHITE_DESIGN.get(w["design"], "")
    if col == "pilot":
        return w["pilot"]
    if col in ("first_author", "year", "citation", "country"):
        return w[col]
    if col == "ps_format":
        return "one-to-one"  # White et al. 2020 included one-to-one peer support only
    return ""


def build_sources(rows: list[RawRow], white_rows: list[dict], aliases: dict[str, str],
                  source_urls: list[dict] | None = None, problems: list[str] | None = None) -> list[dict]:
    """One source per raw trial row and per White 2020 coding row.

    A row of ``curation/source_urls.csv`` with a ``paper_url`` moves the source to the paper's own page (DOI,
    PubMed, PMC, publisher) where the quote's numbers were read again (``checked_quote``); the aggregator copy
    the extractor read is kept as ``second_source_url``. The quote itself is not changed.
    """
    problems = problems if problems is not None else []
    keyed = {(r.file, r.row): r for r in rows}
    moves = {}
    for u in source_urls or []:
        key = (u["raw_file"], int(u["raw_row"]))
        if key not in keyed:
            problems.append(f"source_urls.csv: {u['raw_file']} row {u['raw_row']} is not a raw trial row")
        elif u.get("paper_url", "").strip():
            if not u.get("paper_location", "").strip() or not u.get("checked_quote", "").strip():
                problems.append(f"source_urls.csv: {u['raw_file']} row {u['raw_row']}: a paper_url needs "
                                f"paper_location and checked_quote")
            moves[key] = u
    sources = []
    for r in rows:
        c = r.cells
        url, location, second = c["source_url"], c["source_location"], ""
        if (r.file, r.row) in moves:
            u = moves[(r.file, r.row)]
            url, location, second = u["paper_url"].strip(), u["paper_location"].strip(), c["source_url"]
        sources.append({
            "source_id": f"S-{r.key}", "study_id": c["study_id"], "source_review": c["source_review"],
            "source_url": url, "source_location": location, "second_source_url": second,
            "source_quote": c["source_quote"], "raw_file": r.file, "raw_row": r.row,
        })
    for i, w in enumerate(white_rows, start=1):
        sid = aliases.get(w["study_id"], w["study_id"])
        sources.append({
            "source_id": f"S-white2020_trials-{i:03d}", "study_id": sid,
            "source_review": "White2020 (authors' coding of adjunctive/substitute role and organisational support)",
            "source_url": WHITE_URL, "source_location": w["source_location"], "source_quote": "",
            "raw_file": "white2020_trials.csv", "raw_row": i,
        })
    return sources


def _norm_measure(m: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", m.lower()).strip()


def build_effects(rows: list[RawRow], cur: dict, verification: dict, problems: list[str]) -> list[dict]:
    """One effects row per raw row with an outcome number, with its provenance, sign, flags and verification."""
    codings = defaultdict(dict)
    for c in cur["effect_codings"]:
        if c["column"] == "reported_effect_type" and c["value"] not in RATIO_RENAMES:
            problems.append(f"effect_codings.csv: reported_effect_type may only be set to {sorted(RATIO_RENAMES)} "
                            f"(a ratio the source printed under another name), got {c['value']!r}")
        if c["column"] not in OVERRIDABLE_EFFECT_COLUMNS:
            problems.append(f"effect_codings.csv: column {c['column']!r} cannot be set by hand "
                            f"(only {sorted(OVERRIDABLE_EFFECT_COLUMNS)}; numbers are never overridden)")
            continue
        codings[(c["raw_file"], int(c["raw_row"]))][c["column"]] = c["value"]
    derivations = {(d["raw_file"], int(d["raw_row"])): d for d in cur["derivations"]}
    used_codings, used_derivations = set(), set()
    effects = []
    for r in rows:
        if not r.has_outcome_numbers():
            continue
        c = r.cells
        key = (r.file, r.row)
        manual = codings.get(key, {})
        if manual:
            used_codings.add(key)
        if not c["outcome"]:
            problems.append(f"{r.file} row {r.row}: has outcome numbers but no outcome")
        comparator = manual.get("comparator") or c["comparator"]
        e = {
            "effect_id": f"E-{r.key}", "study_id": c["study_id"], "source_id": f"S-{r.key}",
            "comparison": manual.get("comparison") or f"peer support vs {comparator or 'control (not specified)'}",
            "comparator": comparator, "shared_control": manual.get("shared_control", ""),
            "shared_arm": manual.get("shared_arm", ""), "outcome": manual.get("outcome") or c["outcome"],
            "measure": c["measure"],
            "higher_is_better": c["higher_is_better"],
            "timepoint_months": c["timepoint_months"],
            **{col: c[col] for col in OUTCOME_NUMBERS},
            # a hand coding may only re-name the kind of ratio a source printed (a rate ratio it called RR)
            "reported_effect_type": manual.get("reported_effect_type") or c["reported_effect_type"],
            "risk_of_bias": c["risk_of_bias"], "measure_note": c["measure_note"],
        }
        e["reported_sign"] = manual.get("reported_sign") or _default_sign(c)
        e["score_type"] = manual["score_type"] if "score_type" in manual else _score_type(c)
        flags = set(f for f in manual.get("flags", "").split(";") if f)
        # Provenance: numbers not printed in the quote need a written derivation.
        missing = cells_not_in_quote(e, c["source_quote"])
        d = derivations.get(key)
        if d is not None:
            used_derivations.add(key)
            declared = {x.strip() for x in d["cells"].split(";") if x.strip()}
            undeclared = set(missing) - declared
            if undeclared:
                problems.append(f"{r.file} row {r.row} ({c['study_id']}): cells {sorted(undeclared)} are not in "
                                f"the quote and not covered by derivations.csv")
            e["derived"] = True
            e["derivation"] = d["derivation"]
            kinds = {k for k in d["kind"].split(";") if k}
            e["derivation_kind"] = ";".join(sorted(kinds))
            if kinds & FLAGGED_DERIVATION_KINDS:
                flags.add("derived")
        elif missing:
            problems.append(f"{r.file} row {r.row} ({c['study_id']}): {', '.join(f'{m}={e[m]}' for m in missing)} "
                            f"not printed in source_quote; add a derivation to data/curation/derivations.csv")
            e["derived"] = False
            e["derivation"] = ""
            e["derivation_kind"] = ""
        else:
            e["derived"] = False
            e["derivation"] = ""
            e["derivation_kind"] = ""
        note = c["measure_note"].upper()
        if "ATTRIBUTION INFERRED" in note:
            flags.add("attribution-inferred")
        if c["reported_effect"] and not c["reported_effect_type"]:
            flags.add("not-poolable")
        if (c["n_ps"] or c["n_ctl"]) and _RANDOMISED_N.search(c["measure_note"]):
            flags.add("randomised-n")
        if "news" in c["source_review"].lower():
            flags.add("news-source")
        if not c["source_review"].lower().startswith("primary paper"):
            flags.add("secondary-source")
        ver = verification.get(key)
        if ver is None:
            e["verification"], e["verification_note"] = "unverified", ""
        else:
            if ver["study_id"] != c["raw_study_id"]:
                problems.append(f"verification.csv {r.file} row {r.row}: study {ver['study_id']} "
                                f"but the raw row is {c['raw_study_id']}")
            status = ver["status"]
            e["verification"] = "corrected" if status.startswith("corrected") else status
            e["verification_note"] = "; ".join(x for x in (ver["corrections"], ver["note"]) if x)
        e["_flags"] = flags
        e["_raw_study"] = c["raw_study_id"]
        e["duplicate_group"] = manual.get("duplicate_group", "")
        effects.append(e)
    included = {r.file for r in rows}
    for key in {k for k in codings if k[0] in included} - used_codings:
        problems.append(f"effect_codings.csv: {key[0]} row {key[1]} is not an effect row")
    for key in {k for k in derivations if k[0] in included} - used_derivations:
        problems.append(f"derivations.csv: {key[0]} row {key[1]} is not an effect row")
    _mark_duplicates(effects)
    return effects


# The extractor says the n cells hold randomised, not analysed, numbers.
_RANDOMISED_N = re.compile(
    r"\bn\s*(?:=|are|cells hold)\s*(?:the\s*)?randomi[sz]ed|randomi[sz]ed n\b|randomi[sz]ed numbers|"
    r"n\s*=\s*randomi[sz]ed|denominators?\s*=\s*randomi[sz]ed", re.IGNORECASE)


def _default_sign(c: dict[str, str]) -> str:
    if not c["reported_effect_type"]:
        return ""
    if c["reported_effect_type"] in ("g", "d"):
        # Metapsy .g is positive when the intervention is better, and every d row of the extraction says
        # "positive = better in the peer arm" (depression_trials*.NOTES.md); exceptions go in effect_codings.csv.
        return "positive_favours_ps"
    return "ps_minus_ctl"


_CHANGE_WORDS = re.compile(
    r"change from baseline|change scores?|difference in (?:hba1c |the )?change|mean change|changes? (?:in|by)\b|"
    r"net [a-z0-9 ]*improvement|difference-in-differences|mean_ps/mean_ctl (?:hold|are) (?:the )?(?:abstract's )?change",
    re.IGNORECASE)
_POST_WORDS = re.compile(
    r"not change scores?|post[- ]?(?:intervention|treatment|test)?\s*(?:scores?|values|means)|"
    r"follow-up values|endpoint score|post-intervention \(\d+-month\) (?:means|values)|metapsy row", re.IGNORECASE)


def _score_type(c: dict[str, str]) -> str:
    """Score type from the extractor's own words in measure_note; empty when they do not say or say both.

    Events rows are 'events'. Otherwise a note that clearly names change scores ('change from baseline',
    'difference in change', ...) gives 'change', one that names post scores ('post scores', 'follow-up
    values', 'endpoint score', a Metapsy post-test row) gives 'post'; a note naming both, or neither,
    leaves the cell empty rather than guess. Exceptions go in effect_codings.csv.
    """
    note = c["measure_note"]
    if c["events_ps"] or c["events_ctl"]:
        return "events"
    if re.search(r"not change scores?", note, re.IGNORECASE):
        return "post"
    change, post = bool(_CHANGE_WORDS.search(note)), bool(_POST_WORDS.search(note))
    if change and not post:
        return "change"
    if post and not change:
        return "post"
    return ""


def _mark_duplicates(effects: list[dict]) -> None:
    """Group rows reporting the same quantity from different sources; compare their numbers.

    A group is either set by hand (effect_codings.csv) or found automatically: same study, comparison,
    outcome, measure (case and punctuation ignored) and a stated, equal timepoint. Rows without a
    timepoint are never grouped automatically (two unlabelled follow-ups would look alike).
    """
    groups: dict[str, list[dict]] = defaultdict(list)
    auto = defaultdict(list)
    for e in effects:
        if e["duplicate_group"]:
            groups[e["duplicate_group"]].append(e)
        elif e["timepoint_months"]:
            k = (e["study_id"], e["comparison"], e["outcome"], _norm_measure(e["measure"]),
                 float(e["timepoint_months"]))
            auto[k].append(e)
    seen: Counter = Counter()
    for k in sorted(auto, key=lambda k: tuple(str(x) for x in k)):
        members = auto[k]
        if len(members) > 1:
            base = f"D-{k[0]}-{re.sub(r'[^a-z0-9]+', '-', k[2].lower()).strip('-')}-{k[4]:g}m"
            seen[base] += 1
            groups[f"{base}-{seen[base]}" if seen[base] > 1 else base] = members
    for gid, members in groups.items():
        types = {m["reported_effect_type"] for m in members if m["reported_effect"]}
        # Arm-level numbers are always comparable; reported effects only when of the same type.
        compared = [c for c in OUTCOME_NUMBERS if not c.startswith("reported") or len(types) == 1]
        diffs = []
        for col in compared:
            vals = sorted({(m[col], m["effect_id"]) for m in members if m[col]}, key=lambda x: x[1])
            if len({float(v) for v, _ in vals}) > 1:
                diffs.append(f"{col}: " + " vs ".join(f"{v} ({eid})" for v, eid in vals))
        for m in members:
            m["duplicate_group"] = gid
            if len(members) < 2:
                continue
            if diffs:
                m["disagreement"] = "; ".join(diffs)
                m["_flags"].add("sources-disagree")
            else:
                m["_flags"].add("duplicate-data")


def finalise_flags(studies: dict[str, dict], effects: list[dict]) -> None:
    """Write the flags columns: row flags, then study flags raised from the study's rows and deliverer."""
    effects_by_study = defaultdict(list)
    for e in effects:
        effects_by_study[e["study_id"]].append(e)
    for e in effects:
        st = studies[e["study_id"]]
        if st["design"] == "cluster RCT" and (e["mean_ps"] or e["events_ps"]) and "adjust" not in e["measure_note"].lower():
            e["_flags"].add("cluster-unadjusted")
        e["flags"] = ";".join(sorted(e.pop("_flags")))
        e.pop("_raw_study")
    for sid, st in studies.items():
        fl = st.pop("_flags")
        es = effects_by_study.get(sid, [])
        if not es:
            fl.add("characteristics-only")
        for e in es:
            for f in ("derived", "attribution-inferred", "sources-disagree"):
                if f in e["flags"].split(";"):
                    fl.add(f)
        if st["peer_deliverer"] in BORDERLINE_DELIVERERS:
            fl.add("borderline-peer")
        st["flags"] = ";".join(sorted(fl))


def build_reviews(raw_dir: Path, cur, problems):
    reviews, results = [], []
    # Every review file (reviews.csv, reviews_extra.csv, reviews_<round>.csv), as the docstring says.
    for name in sorted(p.name for p in raw_dir.glob("reviews*.csv")):
        for r in read_csv(raw_dir / name):
            reviews.append({**{c: r.get(c, "") for c in REVIEWS_COLUMNS}, "raw_file": name})
    outcome_map = {o["outcome_label"]: o for o in cur["review_outcomes"]}
    signs = {(s["review_id"], s["outcome_label"], s["estimate"]): s["reported_sign"] for s in cur["review_signs"]}
    for name in sorted(p.name for p in raw_dir.glob("review_results*.csv")):
        for i, r in enumerate(read_csv(raw_dir / name), start=1):
            results.append(_review_result(f"R-{Path(name).stem}-{i:03d}", r, name, i, outcome_map, signs,
                                          problems))
    for i, r in enumerate(read_csv(raw_dir / "white2020_pooled.csv"), start=1):
        if not r["effect_type"]:
            continue  # scope row and subgroup rows without numbers: kept in the raw file only
        row = {
            "review_id": "White2020", "outcome": r["outcome"], "population": "", "ps_format": "one-to-one",
            "timepoint": r["followup_range"], "k_studies": r["k_trials"], "n_participants": r["n_participants"],
            "effect_type": r["effect_type"], "estimate": r["estimate"], "ci_low": r["ci_low"],
            "ci_high": r["ci_high"], "p_value": "", "i2": r["i2"], "comparator": "",
            "source_url": WHITE_URL, "source_location": r["note"], "source_quote": r["source_quote"],
            "q": r["q"], "q_p": r["q_p"],
        }
        results.append(_review_result(f"R-white2020_pooled-{i:03d}", row, "white2020_pooled.csv", i,
                                      outcome_map, signs, problems))
    return reviews, results


def build_review_trials(raw_dir: Path, studies: dict[str, dict], aliases: dict[str, str], review_ids: set[str],
                        problems: list[str]) -> list[dict]:
    """Which trials each review included (``review_membership*.csv``), one row per review and trial.

    ``trial_id`` is the id the trial goes by (aliases merged); ``study_id`` repeats it when the trial is in
    studies.csv and stays empty when it is not (the review's trials we lack stay listed, never dropped).
    """
    out, seen = [], {}
    for name in sorted(p.name for p in raw_dir.glob("review_membership*.csv")):
        for i, r in enumerate(read_csv(raw_dir / name), start=1):
            trial = aliases.get(r["study_id"], r["study_id"])
            key = f"M-{r['review_id']}-{trial}"
            if r["review_id"] not in review_ids:
                problems.append(f"{name} row {i}: review {r['review_id']!r} is not in the review files")
            if key in seen:
                problems.append(f"{name} row {i}: {trial} is listed twice for {r['review_id']} (row {seen[key]})")
                continue
            seen[key] = i
            out.append({"membership_id": key, "review_id": r["review_id"], "trial_id": trial,
                        "study_id": trial if trial in studies else "", "review_label": r["review_label"],
                        "analysis": r["analysis"], "source_url": r["source_url"],
                        "source_location": r["source_location"], "source_quote": r["source_quote"],
                        "raw_file": name, "raw_row": i})
    return out


def _review_sign(signs: dict, review_id: str, label: str, estimate: str) -> str:
    """Sign convention of a review result: a stated exception, else peer minus control."""
    for key in ((review_id, label, estimate), (review_id, label, "*"), (review_id, "*", "*")):
        if key in signs:
            return signs[key]
    return "ps_minus_ctl" if estimate else ""


def _review_result(rid, r, name, i, outcome_map, signs, problems):
    label = r["outcome"]
    m = outcome_map.get(label)
    if m is None:
        problems.append(f"{name} row {i}: outcome label {label!r} has no entry in review_outcomes.csv")
        m = {"outcome": "", "subgroup": ""}
    return {
        "result_id": rid, "review_id": r["review_id"], "outcome": m["outcome"], "outcome_label": label,
        "subgroup": m["subgroup"], "population": r.get("population", ""),
        "ps_format": r.get("ps_format", "") if r.get("ps_format", "") != "NR" else "",
        "timepoint": r.get("timepoint", ""), "k_studies": r.get("k_studies", ""),
        "n_participants": r.get("n_participants", ""), "effect_type": r.get("effect_type", ""),
        "estimate": r.get("estimate", ""), "ci_low": r.get("ci_low", ""), "ci_high": r.get("ci_high", ""),
        "reported_sign": _review_sign(signs, r["review_id"], label, r.get("estimate", "")), "p_value": r.get("p_value", ""), "i2": r.get("i2", ""),
        "q": r.get("q", ""), "q_p": r.get("q_p", ""), "comparator": r.get("comparator", ""),
        "source_url": r.get("source_url", ""), "source_location": r.get("source_location", ""),
        "source_quote": r.get("source_quote", ""), "raw_file": name, "raw_row": i, "note": m.get("note", ""),
    }


def check_provenance(effects: list[dict[str, str]], sources: list[dict[str, str]]) -> list[str]:
    """Problems where an effects row has a number not printed in its quote and is not marked derived.

    Used by the test suite on the shipped ``data/effects.csv`` and ``data/sources.csv``.
    """
    quotes = {s["source_id"]: s["source_quote"] for s in sources}
    problems = []
    for e in effects:
        missing = cells_not_in_quote(e, quotes.get(e["source_id"], ""))
        if not missing:
            continue
        derivation = (e.get("derivation") or "").strip()
        if e.get("derived") != "yes" or not derivation:
            problems.append(f"{e['effect_id']}: {', '.join(f'{m}={e[m]}' for m in missing)} not in the quote "
                            f"and the row is not marked derived with a derivation")
            continue
        for m in missing:
            if m not in derivation:
                problems.append(f"{e['effect_id']}: derivation does not mention {m} ({e[m]})")
    return problems


_WEEKS_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|\u2010|\s)?(?:weeks?|wks?)\b", re.IGNORECASE)
_MONTHS_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|\u2010|\s)?(?:months?|mo)\b", re.IGNORECASE)
_YEARS_RE = re.compile(r"(\d+|one|two|three)\s*(?:-|\s)?years?\b", re.IGNORECASE)
_WORDS = {"one": 1, "two": 2, "three": 3}


def _snippet(text: str, value: float, width: int = 70) -> str | None:
    """The part of ``text`` around the first printing of ``value`` (for a derivation's wording)."""
    for candidate, a, b in _numbers_with_positions(text):
        if abs(candidate - value) <= 1e-9 * max(1.0, abs(value)):
            a, b = max(0, a - width), min(len(text), b + width)
            return ("..." if a else "") + text[a:b].strip() + ("..." if b < len(text) else "")
    return None


def propose_derivation(row: RawRow, cell: str) -> tuple[str, str] | None:
    """A (kind, text) explanation for a cell missing from the quote, found mechanically, or None.

    Only three mechanical explanations are proposed; anything else needs a person:
    the number is printed in the extractor's note (a part of the page outside the quote); a timepoint is
    the weeks/4.345 or years x 12 conversion of a duration printed in the quote or note; an effect is the
    quote's number with its sign restated as peer minus control.
    """
    c = row.cells
    value = float(c[cell])
    quote, note = c["source_quote"], c["measure_note"]
    if cell == "timepoint_months":
        for text, where in ((quote, "quote"), (note, "measure_note")):
            for m in _WEEKS_RE.finditer(text):
                weeks = float(m.group(1))
                if weeks and any(abs(round(weeks / 4.345, d) - value) < 1e-9 for d in (0, 1, 2)):
                    return "weeks-to-months", f"timepoint_months {c[cell]} = {m.group(0)} / 4.345 ({where})"
            for m in _MONTHS_RE.finditer(text):
                if abs(float(m.group(1)) - value) < 1e-9:
                    return "not-in-quote", f"timepoint_months {c[cell]}: '{m.group(0)}' ({where})"
            for m in _YEARS_RE.finditer(text):
                years = _WORDS.get(m.group(1).lower()) or float(m.group(1))
                if abs(years * 12 - value) < 1e-9:
                    return "years-to-months", f"timepoint_months {c[cell]} = {m.group(0)} x 12 ({where})"
        return None
    if value and number_in_text(-value, quote):
        return "re-signed", (f"{cell} {c[cell]}: the quote prints {-value:g} in words that give the direction; "
                             f"entered with the sign of peer minus control (measure_note explains)")
    snippet = _snippet(note, value)
    if snippet and re.search(r"derived|back-calc", snippet, re.IGNORECASE):
        return "back-calculated", f"{cell} {c[cell]} was computed by the extractor; measure_note: '{snippet}'"
    if snippet:
        return "not-in-quote", f"{cell} {c[cell]} is printed outside the quoted snippet; measure_note: '{snippet}'"
    return None


def propose_derivations(data_dir: Path = DATA) -> list[dict[str, str]]:
    """Derivation rows for raw rows whose numbers are missing from the quote and not yet explained."""
    problems: list[str] = []
    cur = load_curation(data_dir / "curation")
    known = {(d["raw_file"], int(d["raw_row"])) for d in cur["derivations"]}
    out = []
    for r in read_trial_rows(data_dir / "raw", problems):
        if not r.has_outcome_numbers() or (r.file, r.row) in known:
            continue
        missing = cells_not_in_quote(r.cells, r.cells["source_quote"])
        if not missing:
            continue
        kinds, texts, unexplained = [], [], []
        for cell in missing:
            got = propose_derivation(r, cell)
            if got is None:
                unexplained.append(cell)
            else:
                kinds.append(got[0])
                texts.append(got[1])
        if unexplained:
            texts.append("TODO explain " + ", ".join(f"{u}={r.cells[u]}" for u in unexplained))
        out.append({"raw_file": r.file, "raw_row": str(r.row), "study_id": r.cells["study_id"],
                    "cells": ";".join(missing), "kind": ";".join(sorted(set(kinds))),
                    "derivation": "; ".join(texts)})
    return out


def _flagged_not_poolable(e: dict[str, str], study_flags: dict[str, str] | None) -> bool:
    flags = set((e.get("flags") or "").split(";")) | set(((study_flags or {}).get(e["study_id"]) or "").split(";"))
    return "not-poolable" in flags


def has_poolable_numbers(e: dict[str, str], study_flags: dict[str, str] | None = None) -> bool:
    """Issue 6's sense: arm means and SDs, arm events, or a reported effect with its 95% CI; not flagged."""
    have = lambda *cols: all((e.get(c) or "").strip() for c in cols)  # noqa: E731
    return not _flagged_not_poolable(e, study_flags) and (
        have("n_ps", "n_ctl", "mean_ps", "mean_ctl", "sd_ps", "sd_ctl") or have("n_ps", "n_ctl", "events_ps", "events_ctl")
        or have("reported_effect", "reported_ci_low", "reported_ci_high", "reported_effect_type"))


def usable_rows(effects: list[dict[str, str]], studies: list[dict[str, str]]) -> list[bool]:
    """Whether the dashboard can pool each effects row: the store's one rule (evidence.store.usability),
    the rule the build writes into effect_usability and the analyses apply."""
    from evidence.store import usability  # imported late: the curation itself needs only the CSVs

    if not effects:
        return []
    study_flags = {s["study_id"]: s["flags"] for s in studies}
    frame = pd.DataFrame(effects).rename(columns={"flags": "effect_flags"})
    frame["study_flags"] = frame["study_id"].map(study_flags)
    return [r is not None for r in usability.classify(usability.FrameColumns(frame))["route"]]


def dataset_counts(data_dir: Path = DATA) -> dict[str, int]:
    """The counts stated in data/CHANGELOG.md, computed from the shipped CSVs."""
    studies, effects = read_csv(data_dir / "studies.csv"), read_csv(data_dir / "effects.csv")
    study_flags = {s["study_id"]: s["flags"] for s in studies}
    pooled = usable_rows(effects, studies)
    counts = {
        "studies": len(studies),
        "effects rows": len(effects),
        "sources": len(read_csv(data_dir / "sources.csv")),
        "reviews": len(read_csv(data_dir / "reviews.csv")),
        "review results": len(read_csv(data_dir / "review_results.csv")),
        "characteristics-only studies": sum("characteristics-only" in s["flags"].split(";") for s in studies),
        "studies in White 2020": sum(s["in_white2020"] == "yes" for s in studies),
        "studies with a poolable effect (arm data or an effect with its 95% CI)": len(
            {e["study_id"] for e in effects if has_poolable_numbers(e, study_flags)}),
        "studies the dashboard pools (SMD, log RR or log OR)": len(
            {e["study_id"] for e, ok in zip(effects, pooled) if ok}),
        "effects rows with arm-level data": sum(
            bool(e["mean_ps"] and e["sd_ps"] and e["mean_ctl"] and e["sd_ctl"] and e["n_ps"] and e["n_ctl"])
            or bool(e["events_ps"] and e["events_ctl"] and e["n_ps"] and e["n_ctl"]) for e in effects),
        "verified effects rows": sum(e["verification"] == "verified" for e in effects),
        "derived effects rows": sum(e["derived"] == "yes" for e in effects),
    }
    for label, keep in (("studies with a poolable effect", [has_poolable_numbers(e, study_flags) for e in effects]),
                        ("studies the dashboard pools", pooled)):
        by_outcome: dict[str, set[str]] = defaultdict(set)
        for e, ok in zip(effects, keep):
            if ok:
                by_outcome[e["outcome"]].add(e["study_id"])
        for outcome in sorted(by_outcome, key=lambda o: (-len(by_outcome[o]), o)):
            counts[f"{label}: {outcome}"] = len(by_outcome[outcome])
    return counts


def curate(data_dir: Path = DATA, write: bool = True) -> dict[str, list[dict]]:
    raw_dir, cur_dir = data_dir / "raw", data_dir / "curation"
    problems: list[str] = []
    cur = load_curation(cur_dir)
    vocab = vocabulary(cur["controlled_lists"])
    rows = read_trial_rows(raw_dir, problems)
    check_categories(rows, vocab, problems)
    white = read_csv(raw_dir / "white2020_trials.csv")
    # Every verification pass (verification.csv, verification_<date>.csv) keys its rows by raw file and data row.
    verification = {(v["file"], int(v["row_number"])): v
                    for path in sorted(raw_dir.glob("verification*.csv")) for v in read_csv(path)}
    studies = build_studies(rows, white, cur, problems)
    for o in cur["study_overrides"]:
        if o["study_id"] not in studies:
            problems.append(f"study_overrides.csv: {o['study_id']} is not a study")
    for d in cur["peer_deliverer"]:
        if d["peer_deliverer"] not in vocab["peer_deliverer"]:
            problems.append(f"peer_deliverer.csv: {d['study_id']}: {d['peer_deliverer']!r} not in the list")
    aliases = {a["alias_id"]: a["study_id"] for a in cur["study_aliases"]}
    sources = build_sources(rows, white, aliases, cur["source_urls"], problems)
    effects = build_effects(rows, cur, verification, problems)
    for e in effects:  # an outcome recoded in effect_codings.csv must be in the controlled list too
        if e["outcome"] not in vocab["outcome"]:
            problems.append(f"{e['effect_id']}: outcome {e['outcome']!r} is not in the controlled list")
    finalise_flags(studies, effects)
    reviews, results = build_reviews(raw_dir, cur, problems)
    review_trials = build_review_trials(raw_dir, studies, aliases, {r["review_id"] for r in reviews}, problems)
    extraction_robs = defaultdict(set)
    for r in rows:
        if r.cells["risk_of_bias"]:
            extraction_robs[r.cells["study_id"]].add((r.cells["risk_of_bias"], r.cells["source_review"]))
    rob_rows = build_rob(raw_dir, studies, extraction_robs, vocab["risk_of_bias"], problems)
    if problems:
        raise CurationError(f"{len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    out = {
        "vocab": sorted(cur["controlled_lists"], key=lambda r: (r["field"], int(r["sort_order"]))),
        "studies": [studies[k] for k in sorted(studies, key=str.lower)],
        "sources": sorted(sources, key=lambda s: s["source_id"]),
        "effects": sorted(effects, key=lambda e: e["effect_id"]),
        "reviews": sorted(reviews, key=lambda r: r["review_id"]),
        "review_results": sorted(results, key=lambda r: r["result_id"]),
        "review_trials": sorted(review_trials, key=lambda r: r["membership_id"]),
        "risk_of_bias": sorted(rob_rows, key=lambda r: (r["study_id"].lower(), r["rob_id"])),
    }
    if write:
        write_csv(data_dir / "vocab.csv", ["field", "value", "label", "description", "sort_order"], out["vocab"])
        write_csv(data_dir / "studies.csv", STUDIES_COLUMNS, out["studies"])
        write_csv(data_dir / "sources.csv", SOURCES_COLUMNS, out["sources"])
        write_csv(data_dir / "effects.csv", EFFECTS_COLUMNS, out["effects"])
        write_csv(data_dir / "reviews.csv", REVIEWS_COLUMNS, out["reviews"])
        write_csv(data_dir / "review_results.csv", REVIEW_RESULTS_COLUMNS, out["review_results"])
        write_csv(data_dir / "review_trials.csv", REVIEW_TRIALS_COLUMNS, out["review_trials"])
        write_csv(data_dir / "risk_of_bias.csv", ROB_COLUMNS, out["risk_of_bias"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--check", action="store_true", help="check the shipped CSVs' provenance only")
    parser.add_argument("--propose-derivations", action="store_true",
                        help="print derivations.csv rows for unexplained numbers (review before adding)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="glob of raw trial files to leave out (e.g. an extraction still being written)")
    parser.add_argument("--counts", action="store_true", help="print the counts table for data/CHANGELOG.md")
    args = parser.parse_args(argv)
    if args.counts:
        print("| count | n |\n|---|---|")
        for k, v in dataset_counts(args.data_dir).items():
            print(f"| {k} | {v} |")
        return 0
    global EXCLUDE
    EXCLUDE = tuple(args.exclude)
    if args.propose_derivations:
        rows = propose_derivations(args.data_dir)
        writer = csv.DictWriter(sys.stdout, fieldnames=["raw_file", "raw_row", "study_id", "cells", "kind",
                                                        "derivation"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return 0
    if args.check:
        problems = check_provenance(read_csv(args.data_dir / "effects.csv"), read_csv(args.data_dir / "sources.csv"))
        for p in problems:
            print(p)
        print(f"{len(problems)} provenance problem(s)")
        return 1 if problems else 0
    try:
        out = curate(args.data_dir)
    except CurationError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(", ".join(f"{len(v)} {k}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
