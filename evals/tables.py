"""Tables shared by the Markdown and HTML reports, and how a change with its interval is written.

A :class:`Table` is an intro sentence, a header and rows of already formatted cells; the
Markdown report writes it with :func:`table_markdown` and the HTML report escapes it cell by
cell. The gate section and the comparison against a baseline both produce tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Table:
    intro: str
    header: list[str]
    rows: list[list[str]]


def table_markdown(table: Table) -> list[str]:
    """The lines of ``table`` in Markdown: its intro, a blank line, the table."""
    return [table.intro, "", "| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header),
            *("| " + " | ".join(row) + " |" for row in table.rows)]


def change_text(change: float | None, lo: float | None = None, hi: float | None = None,
                *, scale: float = 100.0) -> str:
    """``+1.2 [-3.0, +5.1]``: a signed change in points (``change * scale``) with its interval;
    ``–`` without a change, and the change alone without a complete interval."""
    if change is None:
        return "–"
    interval = "" if lo is None or hi is None else f" [{scale * lo:+.1f}, {scale * hi:+.1f}]"
    return f"{scale * change:+.1f}{interval}"


__all__ = ["Table", "change_text", "table_markdown"]
