"""The written report: Markdown with PNGs beside it, self-contained HTML, both with the figures."""

from __future__ import annotations

import base64
import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.report import ReportFiles, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ["reward_over_time.png", "improvement_per_update.png", "forgetting_per_key.png",
         "feedback_mix.png"]  # fmt: skip


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class Page(HTMLParser):
    """Collects the headings, table cells and embedded images of the report page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.cells: list[str] = []
        self.images: dict[str, bytes] = {}
        self.external: list[str] = []
        self._tag: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        a = dict(attrs)
        if tag == "img":
            src = a["src"] or ""
            assert src.startswith("data:image/png;base64,"), src[:40]
            self.images[a["data-name"] or ""] = base64.b64decode(src.split(",", 1)[1])
        if tag in ("link", "script") or (tag == "img" and not (a["src"] or "").startswith("data:")):
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        if self._tag in ("h1", "h2"):
            self.headings.append(data)
        elif self._tag in ("td", "th"):
            self.cells.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._tag = None


@pytest.fixture(scope="module")
def files(history: Any, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("out") / "report"
    return write_report(history.store, "acme", out, title="Acme learning", window=10)


def test_markdown_links_pngs_written_beside_it(files: ReportFiles) -> None:
    assert files.markdown is not None
    text = files.markdown.read_text()
    assert [p.name for p in files.images] == PLOTS
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == sorted(PLOTS)
    for name in links:
        width, height = png_size((files.markdown.parent / name).read_bytes())
        assert width >= 500
        assert height >= 200
    assert text.startswith("# Acme learning\n")
    for figure in ("| average live improvement (promoted) | +0.300 |",
                   "| share of updates rolled back | 0.500 |",
                   "| mean time between regressions | 1280 s |",
                   "| v2 | ", "capitals 0.700->0.600 (n=10, se 0.017)",
                   "| canary 50% | canary 50%: reward 0.350 vs 0.850",
                   "## How these are computed"):  # fmt: skip
        assert figure in text, figure


def test_html_is_self_contained_and_parses(files: ReportFiles) -> None:
    assert files.html is not None
    page = Page()
    page.feed(files.html.read_text())
    page.close()
    assert page.external == []
    assert sorted(page.images) == sorted(PLOTS)
    for data in page.images.values():
        assert png_size(data)[0] >= 500
    assert page.headings[0] == "Acme learning"
    for heading in ("Summary", "Updates", "Improvement per update", "Reward per learning key",
                    "Forgetting per learning key", "Stability", "Rollbacks", "Feedback mix",
                    "How these are computed"):  # fmt: skip
        assert heading in page.headings, heading
    cells = page.cells
    at = cells.index("average live improvement (promoted)")
    assert cells[at + 1] == "+0.300"
    at = cells.index("learning velocity per update")
    assert cells[at + 1] == "+0.060"
    assert cells[cells.index("keys with forgetting shipped") + 1] == "capitals"
    assert cells.count("canary 50%") == 2


def test_formats_and_bad_arguments(history: Any, tmp_path: Path) -> None:
    only_html = write_report(history.store, "acme", tmp_path / "h", formats=["html"])
    assert only_html.markdown is None
    assert only_html.images == []
    assert only_html.html is not None
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == ["report.html"]
    with pytest.raises(InvalidArgumentError, match="formats"):
        write_report(history.store, "acme", tmp_path / "x", formats=["pdf"])
    with pytest.raises(InvalidArgumentError, match="window"):
        write_report(history.store, "acme", tmp_path / "x", window=0)
    with pytest.raises(InvalidArgumentError, match="forgetting_tolerance"):
        write_report(history.store, "acme", tmp_path / "x", forgetting_tolerance=float("nan"))
