"""Just enough Markdown reading for the documentation tests: fenced blocks with the marker comment
before them, links and heading anchors, and the rows of a table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

SHELL_LANGUAGES = {"sh", "bash", "shell", "zsh", "console"}
# Right before a shell block: `<!-- run: NAME -->` (a test runs every block of that name, in
# order) or `<!-- not run: WHY -->`.
MARKER = re.compile(r"^<!--\s*(run|not run):\s*(\S.*?)\s*-->$")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # 1-based line of the opening fence
    marker: tuple[str, str] | None  # ("run", name) or ("not run", reason)
    where: str  # the last line of prose before the block (and its marker)

    @property
    def is_shell(self) -> bool:
        return self.language in SHELL_LANGUAGES


def _previous_text(lines: list[str], index: int) -> tuple[int, str]:
    """The index and text of the nearest non-blank line before `index` (-1, "" if none)."""
    for i in range(index - 1, -1, -1):
        if lines[i].strip():
            return i, lines[i].strip()
    return -1, ""


def fenced_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, language = opening.group(1), opening.group(2).lower()
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        before, text_before = _previous_text(lines, i)
        found = MARKER.match(text_before)
        marker = (found.group(1), found.group(2)) if found else None
        where = _previous_text(lines, before)[1] if found else text_before
        blocks.append(
            Block(
                language=language,
                code="\n".join(lines[i + 1 : end]) + "\n",
                line=i + 1,
                marker=marker,
                where=where,
            )
        )
        i = end + 1
    return blocks


def without_code(text: str, *, inline: bool = True) -> str:
    """The text without its fenced blocks and, with `inline`, without inline code."""
    kept, fence = [], None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            continue
        if fence is not None:
            if line.startswith(fence):
                fence = None
            continue
        kept.append(re.sub(r"`[^`]*`", "", line) if inline else line)
    return "\n".join(kept)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    found = set()
    for line in without_code(text, inline=False).splitlines():
        heading = HEADING.match(line)
        if heading:
            found.add(slug(heading.group(1)))
    return found


def links(text: str) -> list[str]:
    return LINK.findall(without_code(text))


def table_rows(text: str, section: str) -> list[list[str]]:
    """The cells of each body row of the first table under the heading `section`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == section)
    rows: list[list[str]] = []
    in_table = False
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            in_table = True
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                rows.append(cells)
        elif in_table or line.startswith("#"):
            break
    return rows[1:]  # without the header row
