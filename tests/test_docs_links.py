"""Every relative link in the README and docs/ leads somewhere: an existing file and, for
``#anchor``, an existing heading of that file (anchors made the way GitHub makes them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, …


def _prose(markdown: str) -> str:
    return _INLINE_CODE.sub("", _FENCE.sub("", markdown))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text())):
        slug = anchor(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    return [target for target in _LINK.findall(_prose(page.read_text())) if not _EXTERNAL.match(target)]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{target}: no such heading")
    return broken


def test_anchors_are_made_the_way_github_makes_them():
    assert anchor("Rotating `FIELD_ENCRYPTION_KEY`") == "rotating-field_encryption_key"
    assert anchor("Live updates: `/ws/jobs/`") == "live-updates-wsjobs"
    assert anchor("Metrics, dashboard and alerts") == "metrics-dashboard-and-alerts"
    assert anchor("3. Implement the hooks") == "3-implement-the-hooks"


def test_a_broken_file_or_anchor_is_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## Some section\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#some-section) [gone](missing.md) [bad](other.md#nope) [self](#title-here)\n"
        "`[code](ignored.md)` [web](https://example.com/x.md)\n\n```\n[fenced](ignored.md)\n```\n# Title here\n"
    )
    assert broken_links(page) == ["missing.md: no such file", "other.md#nope: no such heading"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_an_existing_file_and_heading(page):
    assert not broken_links(page), broken_links(page)


def test_the_readme_lists_every_page_of_the_documentation():
    listed = {target.partition("#")[0] for target in relative_links(ROOT / "README.md")}
    missing = [f"docs/{doc.name}" for doc in (ROOT / "docs").glob("*.md") if f"docs/{doc.name}" not in listed]
    assert not missing, f"add these to the README's Documentation list: {missing}"
