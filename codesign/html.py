"""A report's Markdown and PNGs as one self-contained `report.html` (images inlined): opens in any browser."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from .atomic import atomic_write_text

STYLE = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
th{background:#f3f3f3}code{background:#f6f6f6;padding:0 .2rem}img{max-width:100%}"""


def _inline_images(html: str, folder: Path) -> str:
    """<img src="x.png"> -> a data: URI, for every PNG that exists next to the report."""
    def data_uri(m: re.Match) -> str:
        path = folder / m.group(2)
        if not path.is_file():
            return m.group(0)
        return f'{m.group(1)}data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'

    return re.sub(r'(<img[^>]*\bsrc=")([^":]+\.png)"', data_uri, html)


def write_html(markdown_path: Path, title: str) -> Path:
    """report.md -> report.html beside it."""
    import markdown

    body = markdown.markdown(markdown_path.read_text(), extensions=["tables", "fenced_code"])
    body = _inline_images(body, markdown_path.parent)
    out = markdown_path.with_suffix(".html")
    atomic_write_text(out, f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
                           f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")
    return out
