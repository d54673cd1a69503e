"""URL notices as a user of a shared link sees them (AppTest, issue #14)."""

from __future__ import annotations

from app_helpers import run_app


def _notices(at) -> str:
    return " ".join(i.value for i in at.info).replace("\\", "")  # the notices are markdown-escaped


def test_unknown_and_malformed_study_ids_are_dropped_with_one_notice_each():
    ids = ",".join([f"Nobody{i}" for i in range(300)] + ["not an id!"] * 5)
    at = run_app({"outcome": "depression", "exclude_studies": ids})
    assert not at.exception, [e.value for e in at.exception]
    text = _notices(at)
    assert "Ignored 5 study ids in exclude_studies" in text
    assert "Ignored 300 study ids in exclude_studies, e.g. 'Nobody0', 'Nobody1', 'Nobody2': no such studies" in text
    assert "Nobody299" not in text
    assert at.session_state["exclude_studies"] == ()


def test_a_ten_thousand_character_version_is_not_echoed_in_full():
    at = run_app({"outcome": "depression", "version": "9" * 10_000})
    assert not at.exception, [e.value for e in at.exception]
    text = _notices(at)
    assert "Ignored version" in text and "9" * 100 not in text
    assert len(text) < 2_000


def test_a_repeated_parameter_is_named_in_a_notice():
    at = run_app({"outcome": ["depression", "anxiety"]})
    assert not at.exception, [e.value for e in at.exception]
    assert "Parameter 'outcome' was given 2 times" in _notices(at)
