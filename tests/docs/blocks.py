"""Read the fenced code blocks of README.md, docs/*.md and the model cards of the
shipped LMs, with their test markers.

A block is preceded (blank lines aside) by an optional marker comment:

- ``<!-- docs-test: skip: REASON -->``: not run; the reason is required and shown;
- ``<!-- docs-test: tiny -->``: a shell block whose ``python -m tabtext...`` lines run
  with the tiny flags of ``standins.CLI_FLAGS`` appended.

Python blocks of one page run in order in one namespace (as a reader runs them);
shell blocks run line by line. Other languages (text, json, ...) are not run.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANGS = {"python": "python", "py": "python", "bash": "shell", "sh": "shell"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: str  # path relative to the repository root
    line: int  # 1-based line of the opening fence
    lang: str  # "python" or "shell"
    code: str
    marker: str  # "", "tiny" or "skip: reason"

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        if not self.marker.startswith("skip"):
            return None
        return self.marker.partition(":")[2].strip()


def pages() -> list[Path]:
    docs = sorted((ROOT / "docs").rglob("*.md")) if (ROOT / "docs").is_dir() else []
    cards = sorted((ROOT / "tabtext" / "nlp" / "pretrained").glob("*/README.md"))
    return [ROOT / "README.md", *docs, *cards]


def read_blocks(path: Path) -> list[Block]:
    """Every block of ``path`` in a language that is run, in page order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    rel = path.relative_to(ROOT).as_posix()
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m["indent"], m["lang"], i
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        body = textwrap.dedent("\n".join(lines[start + 1 : i]))
        i += 1
        if lang not in LANGS:
            continue
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = MARKER.match(lines[k]) if k >= 0 else None
        marker = mark["what"] if mark else ""
        blocks.append(Block(rel, start + 1, LANGS[lang], body, marker))
        del indent
    return blocks


def all_blocks() -> list[Block]:
    return [b for p in pages() for b in read_blocks(p)]


def shell_commands(code: str) -> list[str]:
    """Logical lines of a shell block: continuations joined, comments dropped."""
    out, cur = [], ""
    for raw in code.splitlines():
        line = (
            raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        )
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        if cur.strip():
            out.append(cur.strip())
        cur = ""
    return out
