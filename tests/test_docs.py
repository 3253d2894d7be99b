"""The documents hold together: a short README that links every docs/ page, links and images that resolve,
and code paths that exist.

Checked on the real files: README.md and docs/*.md for links and images (a link's #anchor must be a heading
of the page it points to), those and models/README.md and BENCHMARKS.md for paths under device/, training/
and tests/. The helpers are also run on small broken pages, so a check that finds nothing cannot pass by
accident.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PATH_SOURCES = [README, *DOCS, ROOT / "models" / "README.md", ROOT / "BENCHMARKS.md"]
MAX_README_LINES = 250
TABLE_START, TABLE_END = "<!-- controls table -->", "<!-- end controls table -->"

FENCE = re.compile(r"^```.*?^```[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A file path under device/, training/ or tests/ with an extension, e.g. device/engine/sampling.py.
CODE_PATH = re.compile(r"(?<![\w./-])((?:device|training|tests)/[\w./-]*\w\.[A-Za-z0-9]+)(?![\w/-])")


def prose(text: str) -> str:
    """``text`` without its fenced code blocks (a shell comment there is not a heading, a path there may be)."""
    return FENCE.sub("", text)


def links(text: str) -> list[str]:
    """Every link and image target in markdown ``text``, outside code blocks."""
    return LINK.findall(prose(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a markdown page's headings (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(prose(text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(page: Path) -> list[str]:
    """The relative links and images of ``page`` whose file, or whose anchor in that file, does not exist."""
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        if not path.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with anchor #{anchor} in {path.name}")
    return broken


def code_paths(text: str) -> set[str]:
    """Every path under device/, training/ or tests/ named in ``text`` (code blocks included)."""
    return set(CODE_PATH.findall(text))


def missing_code_paths(page: Path, root: Path = ROOT) -> list[str]:
    """The device/, training/ and tests/ paths named in ``page`` that are not files under ``root``."""
    return sorted(path for path in code_paths(page.read_text(encoding="utf-8")) if not (root / path).is_file())


def controls_table(text: str) -> list[str]:
    """The lines between the controls table's start and end comments (ValueError unless each is there once)."""
    if text.count(TABLE_START) != 1 or text.count(TABLE_END) != 1:
        raise ValueError(f"want one {TABLE_START!r} and one {TABLE_END!r}")
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    if end < start:
        raise ValueError("the end comment comes before the start")
    return [line for line in text[start:end].splitlines() if line.strip()]


def cells(row: str) -> list[str]:
    """The cells of a markdown table row ``| a | b |`` (an escaped \\| stays inside its cell)."""
    inner = row.strip()
    assert inner.startswith("|") and inner.endswith("|"), f"not a table row: {row!r}"
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner[1:-1])]


# The real documents


def test_readme_is_at_most_250_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move reference to docs/"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README.read_text())}
    assert DOCS, "no docs/*.md pages found"
    unlinked = [page.name for page in DOCS if page.resolve() not in linked]
    assert unlinked == [], f"docs pages not linked from README.md: {unlinked}"


def test_every_relative_link_and_image_in_the_readme_and_docs_resolves():
    assert len(links(README.read_text(encoding="utf-8"))) >= len(DOCS), "the link pattern found too few links"
    broken = {page.relative_to(ROOT).as_posix(): broken_links(page) for page in [README, *DOCS]}
    assert {page: found for page, found in broken.items() if found} == {}


def test_every_device_training_and_tests_path_named_in_the_documents_exists():
    named = set().union(*(code_paths(page.read_text(encoding="utf-8")) for page in PATH_SOURCES))
    assert len(named) >= 10, f"the path pattern found too few paths: {sorted(named)}"
    missing = {page.relative_to(ROOT).as_posix(): missing_code_paths(page) for page in PATH_SOURCES}
    assert {page: paths for page, paths in missing.items() if paths} == {}


def test_the_controls_pages_table_is_the_declarations_as_melodybox_controls_prints_it():
    rows = controls_table((ROOT / "docs" / "controls.md").read_text(encoding="utf-8"))
    printed = subprocess.run([sys.executable, "-m", "device", "controls", "--markdown"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.splitlines()
    assert rows == printed, "docs/controls.md is stale: paste `melodybox controls --markdown` between its comments"


def test_the_controls_page_has_one_delimited_table_of_controls():
    rows = controls_table((ROOT / "docs" / "controls.md").read_text(encoding="utf-8"))
    header, separator, body = rows[0], rows[1], rows[2:]
    assert set(separator.replace("|", "").strip()) <= set("-: ")
    assert len(body) >= 1
    widths = {len(cells(row)) for row in [header, *body]}
    assert widths == {len(cells(header))}, "every row of the controls table has the header's number of cells"


# The checks themselves, on small pages that are broken on purpose


def test_a_link_to_a_missing_file_is_reported(tmp_path):
    (tmp_path / "there.md").write_text("# There\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md) ![gone](pictures/gone.png) [web](https://example.org/x.md)\n")
    assert [problem.split(":")[0] for problem in broken_links(page)] == ["pictures/gone.png"]


def test_a_link_to_a_missing_heading_is_reported(tmp_path):
    (tmp_path / "there.md").write_text("# Clock modes\n\n## `make pi-check`: on arm64\n")
    page = tmp_path / "page.md"
    page.write_text("[a](there.md#clock-modes) [b](there.md#make-pi-check-on-arm64) [c](there.md#modes)\n")
    assert [problem.split(":")[0] for problem in broken_links(page)] == ["there.md#modes"]


def test_a_link_inside_a_code_block_is_not_a_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```\n[not a link](nowhere.md)\n# not a heading\n```\n")
    assert broken_links(page) == []
    assert anchors(page.read_text()) == set()


def test_a_path_that_moved_is_reported(tmp_path):
    (tmp_path / "device" / "engine").mkdir(parents=True)
    (tmp_path / "device" / "engine" / "sampling.py").write_text("")
    page = tmp_path / "page.md"
    page.write_text("The sampler (`device/engine/sampling.py`), once device/sampling.py; see training/x.py.\n")
    assert missing_code_paths(page, tmp_path) == ["device/sampling.py", "training/x.py"]


def test_a_controls_table_without_its_end_comment_is_refused():
    with pytest.raises(ValueError, match="end controls table"):
        controls_table(f"{TABLE_START}\n| a | b |\n|---|---|\n| 1 | 2 |\n")
