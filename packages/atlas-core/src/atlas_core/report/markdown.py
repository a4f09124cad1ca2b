"""The report as Markdown; images are PNG files beside it, linked by relative path."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from atlas_core.report.document import Block, Heading, Image, Para, Table

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    # A pipe or a newline would break the table row.
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block], images: Collection[str]) -> str:
    """Markdown text of ``blocks``; an Image whose name is not in ``images`` is left out."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Para):
            parts.append(block.text)
        elif isinstance(block, Table):
            lines = [
                "| " + " | ".join(_cell(h) for h in block.headers) + " |",
                "|" + "---|" * len(block.headers),
            ]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
            parts.append("\n".join(lines))
        elif isinstance(block, Image) and block.name in images:
            parts.append(f"![{block.title}]({block.name})")
    return "\n\n".join(parts) + "\n"
