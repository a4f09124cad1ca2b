"""The report as one self-contained HTML page: images embedded as base64 PNG, inline CSS."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape

from atlas_core.report.document import Block, Heading, Image, Para, Table

__all__ = ["render_html"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def render_html(blocks: Sequence[Block], images: Mapping[str, bytes], title: str) -> str:
    """HTML text of ``blocks`` with ``images`` (name -> PNG) inlined; missing ones left out."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{escape(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            body.append(f"<p>{escape(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Image) and block.name in images:
            data = base64.b64encode(images[block.name]).decode("ascii")
            body.append(
                f'<figure><img alt="{escape(block.title)}" data-name="{escape(block.name)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{escape(block.title)}'
                "</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
