"""Writes the report to a directory: Markdown with PNGs beside it, and/or one HTML file."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from atlas_core.errors import InvalidArgumentError
from atlas_core.report.compute import DEFAULT_WINDOW, compute_report, load_inputs
from atlas_core.report.document import build_document
from atlas_core.report.html import render_html
from atlas_core.report.markdown import render_markdown
from atlas_core.report.model import LearningReport
from atlas_core.store import Store

__all__ = ["FORMATS", "ReportFiles", "write_report"]

FORMATS = ("md", "html")


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote, and the figures it wrote about."""

    report: LearningReport
    markdown: Path | None
    """``report.md`` (None when Markdown was not asked for)."""
    html: Path | None
    """``report.html`` (None when HTML was not asked for)."""
    images: list[Path] = field(default_factory=list)
    """The PNG files beside the Markdown (empty without Markdown: HTML embeds them)."""


def write_report(
    store: Store,
    tenant: str,
    out_dir: Path | str,
    *,
    title: str | None = None,
    since: datetime | None = None,
    formats: Collection[str] = FORMATS,
    window: int = DEFAULT_WINDOW,
    forgetting_tolerance: float = 0.05,
) -> ReportFiles:
    """Computes ``tenant``'s learning report and writes it under ``out_dir`` (created).

    ``formats`` is any of ``md`` (``report.md`` plus its ``*.png``) and ``html``
    (``report.html``, self-contained). Raises InvalidArgumentError for an unknown or empty
    format list, and for the arguments :func:`~atlas_core.report.compute.build_report`
    rejects.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise InvalidArgumentError(
            f"formats: must be one or more of {', '.join(FORMATS)}, got {sorted(formats)}"
        )
    since, sources = load_inputs(store, tenant, since)
    report = compute_report(
        sources,
        tenant,
        title=title,
        since=since,
        window=window,
        forgetting_tolerance=forgetting_tolerance,
    )
    # matplotlib is imported here, not with the package: `atlas` and servers that import
    # atlas_core.report for its figures do not pay for it (about a second at start-up).
    from atlas_core.report.plots import render_plots

    plots = render_plots(report, sources)
    blocks = build_document(report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = html = None
    images: list[Path] = []
    if "md" in formats:
        for plot in plots:
            path = out / plot.name
            path.write_bytes(plot.png)
            images.append(path)
        markdown = out / "report.md"
        markdown.write_text(render_markdown(blocks, {p.name for p in plots}), encoding="utf-8")
    if "html" in formats:
        html = out / "report.html"
        html.write_text(
            render_html(blocks, {p.name: p.png for p in plots}, report.title), encoding="utf-8"
        )
    return ReportFiles(report=report, markdown=markdown, html=html, images=images)
