"""The fresh-machine promise of the README (issue 5, part 1), checked against the files that keep it.

The README's quick start gives two commands: the first installs the runtime and serves the app on
:8501, the second installs test-only needs and runs the whole suite. These tests pin that the
commands exist as Makefile targets doing those things, that ``.ci/run`` runs exactly the second
one, and that every dependency is pinned to one version (``name==version``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
CI_RUN = ROOT / ".ci" / "run"
REQUIREMENTS = sorted(ROOT.glob("requirements*.txt"))

#: A pinned requirement line: a distribution name, optional extras, ``==`` and a version.
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[0-9][0-9A-Za-z.+!-]*$")


def readme_quick_start_commands() -> list[str]:
    """The shell commands of the first fenced block under the README's "Quick start" heading."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^##\s+Quick start.*?$(.*?)^##\s", text + "\n## end", re.M | re.S)
    assert section, "README.md has no '## Quick start' section"
    block = re.search(r"```[a-z]*\n(.*?)```", section.group(1), re.S)
    assert block, "README's Quick start has no fenced command block"
    commands = []
    for line in block.group(1).splitlines():
        command = line.split("#", 1)[0].strip()
        if command:
            commands.append(command)
    return commands


def make_targets() -> dict[str, list[str]]:
    """Makefile rules as {target: recipe lines} (enough of make's syntax for this Makefile)."""
    targets: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line.strip())
            continue
        rule = re.match(r"^([A-Za-z0-9_.$()/-][^:=]*?)\s*:(?!=)", line)
        if rule and not line.startswith((".PHONY", "#")):
            current = []
            for name in rule.group(1).split():
                targets[name] = current
        elif not line.strip().startswith("#") and line.strip():
            current = None
    return targets


def test_readme_gives_exactly_two_commands_run_then_test():
    assert readme_quick_start_commands() == ["make run", "make test"]


@pytest.mark.parametrize("command", ["make run", "make test"])
def test_each_readme_command_is_a_makefile_target(command):
    target = shlex.split(command)[1]
    targets = make_targets()
    assert target in targets, f"Makefile has no '{target}' target; it has {sorted(targets)}"


def test_run_target_serves_the_app_on_port_8501():
    text = MAKEFILE.read_text(encoding="utf-8")
    assert re.search(r"^PORT\s*\?=\s*8501\s*$", text, re.M), "Makefile PORT must default to 8501"
    recipe = " ".join(make_targets()["run"])
    assert "streamlit run app.py" in recipe and "--server.port $(PORT)" in recipe, recipe


def test_test_target_installs_dev_requirements_and_chromium_then_runs_pytest():
    targets = make_targets()
    prerequisites = re.search(r"^test\s*:(.*)$", MAKEFILE.read_text(encoding="utf-8"), re.M).group(1).split()
    assert "install-dev" in prerequisites and "browser-deps" in prerequisites, prerequisites
    assert "requirements-dev.txt" in " ".join(targets["$(VENV)/.dev-installed"])
    assert "chromium" in " ".join(targets["browser-deps"])
    assert any(line.endswith("-m pytest") for line in targets["test"]), targets["test"]


def test_test_target_installs_r_and_metafor():
    """The exported R scripts are run by the suite (tests/evidence/test_code_export.py)."""
    prerequisites = re.search(r"^test\s*:(.*)$", MAKEFILE.read_text(encoding="utf-8"), re.M).group(1).split()
    assert "r-deps" in prerequisites, prerequisites
    recipe = " ".join(make_targets()["r-deps"])
    assert "r-cran-metafor" in recipe and "r-base-core" in recipe and "--no-install-recommends" in recipe


def test_ci_runs_exactly_the_readme_test_command():
    lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")
                and not line.startswith(("set ", "cd "))]
    assert commands == [readme_quick_start_commands()[1]], commands
    assert CI_RUN.stat().st_mode & 0o111, ".ci/run must be executable"


def test_there_are_runtime_and_dev_requirement_files():
    assert {p.name for p in REQUIREMENTS} >= {"requirements.txt", "requirements-dev.txt"}


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda p: p.name)
def test_every_requirement_is_pinned_to_one_version(path):
    unpinned = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        requirement = line.split("#", 1)[0].strip()
        if not requirement or requirement.startswith("-r "):
            continue
        if not PINNED.match(requirement):
            unpinned.append(f"{path.name}:{number}: {requirement}")
    assert not unpinned, "requirements must be pinned with ==: " + "; ".join(unpinned)


def test_dev_requirements_include_the_runtime_ones():
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.search(r"^-r requirements\.txt\s*$", dev, re.M)


def test_readme_python_examples_run_and_match_the_stats_they_describe():
    """The README's Python blocks are executed as written; their results are the package's own answers."""
    import stats

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2, "README lost its 'use the statistics from Python' examples"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    res = namespace["res"]
    assert res.k == 3 and res.method == "REML" and res.hartung_knapp
    assert res.estimate == stats.pool(namespace["yi"], namespace["vi"], hartung_knapp=True).estimate
    analysis = namespace["a"]
    assert analysis.pooled is not None and analysis.pooled.k == len(analysis.effects)


def test_readme_lists_every_url_parameter():
    from evidence.core.filters import CATEGORICAL_FIELDS

    text = README.read_text(encoding="utf-8")
    section = text.split("### Links that restore the exact view", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    expected = {"outcome", *CATEGORICAL_FIELDS, "timepoint_months", "year", "exclude_studies", "dataset",
                "include_flagged", "method", "hk", "moderator", "version"}
    assert expected <= named, sorted(expected - named)
