"""Risk of bias for scripts/curate_raw.py: the reviews' per-domain and overall judgements, as data.

Inputs (``data/raw``): ``risk_of_bias.csv`` (one row per trial x review x domain, verbatim quote each; domain
``overall`` for an overall judgement), ``review_membership.csv`` (which review included which trial), and the
extraction rows' own ``risk_of_bias`` column (an overall judgement of the review named in ``source_review``).

Output: the shipped table ``data/risk_of_bias.csv`` and four study columns (docs/data-model.md):
``risk_of_bias`` (overall, most severe when reviews differ), ``rob_status``, ``rob_assessed_by``, ``rob_tool``,
``rob_domains``. An overall judgement is never made up from domain judgements: that would be our rule, not a
review's judgement (data/raw/risk_of_bias.NOTES.md).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

ROB_COLUMNS = ("rob_id study_id review_id tool domain judgement source_url source_location source_quote "
               "raw_row").split()
STATUS_OVERALL = "overall judgement"
STATUS_DOMAINS = "domain judgements only"
STATUS_NOT_RETRIEVED = "in a review we hold - judgement not retrieved"
STATUS_NONE = "not assessed by any review we hold"


def tool_name(text: str) -> str:
    """'RoB 1' or 'RoB 2' from a tool description ('Cochrane RoB 1 (EPOC-adapted domains)' -> 'RoB 1')."""
    m = re.search(r"rob\s*-?\s*([12])\b", text, re.IGNORECASE)
    return f"RoB {m.group(1)}" if m else text.strip()


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _review_of(source_review: str) -> str:
    """The review id that opens a source_review cell ('Dalgaard2025 (Campbell review ...)' -> 'Dalgaard2025')."""
    return source_review.split(" ", 1)[0].split("(", 1)[0].strip()


def build_rob(raw_dir: Path, studies: dict[str, dict], extraction_robs: dict[str, set[tuple[str, str]]],
              rob_values: set[str], problems: list[str]) -> list[dict]:
    """Fill the rob_* columns of ``studies`` in place and return the shipped per-domain rows.

    ``extraction_robs`` maps a study to {(judgement, source_review)} taken from its raw extraction rows (overall
    RoB 2 judgements, e.g. Dalgaard 2025's coding sheet); ``rob_values`` is the controlled list.
    """
    shipped, per_study = [], defaultdict(list)
    counter: dict[tuple[str, str], int] = defaultdict(int)
    for i, r in enumerate(_read(raw_dir / "risk_of_bias.csv"), start=1):
        sid, judgement = r["study_id"], r["judgement"]
        if sid not in studies:
            problems.append(f"risk_of_bias.csv row {i}: {sid!r} is not a study")
            continue
        if judgement not in rob_values:
            problems.append(f"risk_of_bias.csv row {i}: judgement {judgement!r} is not in the risk_of_bias list")
            continue
        if not r["source_quote"].strip():
            problems.append(f"risk_of_bias.csv row {i}: no source_quote")
        counter[(sid, r["review_id"])] += 1
        row = {"rob_id": f"RB-{sid}-{r['review_id']}-{counter[(sid, r['review_id'])]}", "study_id": sid,
               "review_id": r["review_id"], "tool": tool_name(r["tool"]), "domain": r["domain"],
               "judgement": judgement, "source_url": r["source_url"], "source_location": r["source_location"],
               "source_quote": r["source_quote"], "raw_row": i}
        shipped.append(row)
        per_study[sid].append(row)
    members = defaultdict(set)
    for m in _read(raw_dir / "review_membership.csv"):
        members[m["study_id"]].add(m["review_id"])
    order = ("low", "unclear", "some concerns", "high")
    for sid, st in studies.items():
        rows = per_study.get(sid, [])
        overall = {(r["judgement"], r["review_id"]) for r in rows if r["domain"].lower() == "overall"}
        overall |= {(j, _review_of(src)) for j, src in extraction_robs.get(sid, set())}
        assessed = sorted({r["review_id"] for r in rows} | {rv for _, rv in overall})
        tools = sorted({r["tool"] for r in rows} | ({"RoB 2"} if extraction_robs.get(sid) else set()))
        by_review = defaultdict(list)
        for r in rows:
            if r["domain"].lower() != "overall":
                by_review[f"{r['review_id']} ({r['tool']})"].append(f"{r['domain']}: {r['judgement']}")
        st["rob_domains"] = " | ".join(f"{k}: " + "; ".join(v) for k, v in sorted(by_review.items()))
        if overall:
            st["risk_of_bias"] = max((j for j, _ in overall), key=order.index)
            st["rob_status"] = STATUS_OVERALL
        elif rows:
            st["rob_status"] = STATUS_DOMAINS
        elif members.get(sid):
            st["rob_status"] = STATUS_NOT_RETRIEVED
            assessed = sorted(members[sid])
        else:
            st["rob_status"] = STATUS_NONE
        st["rob_assessed_by"] = ";".join(assessed)
        st["rob_tool"] = ";".join(tools)
    return shipped
