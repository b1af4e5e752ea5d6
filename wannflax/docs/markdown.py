"""Google-style docstrings rendered as Markdown for the API reference.

Sections whose body is entries (``Args``, ``Attributes``, ``Raises`` and the
like) become bullet lists, ``Example`` sections become Python code blocks,
and other text, ``Returns`` included, is kept as written.
"""

from __future__ import annotations

import re
import textwrap

# Google-style docstring sections rendered as Markdown: entries ("name:
# text") become a bullet list, examples a code block, the rest stays text.
ENTRY_SECTIONS = frozenset(
    {"Args", "Arguments", "Attributes", "Raises", "Keyword Args", "Keyword Arguments"}
)
CODE_SECTIONS = frozenset({"Example", "Examples"})
SECTION_TITLES = ENTRY_SECTIONS | CODE_SECTIONS | {"Returns", "Yields", "Note", "Notes"}
_SECTION_LINE = re.compile(r"^(" + "|".join(sorted(SECTION_TITLES)) + r"):\s*$")
_ENTRY_LINE = re.compile(r"^([\w*][\w*., \[\]]*?)\s*:\s*(.*)$")


def docstring_markdown(doc: str) -> str:
    """A Google-style docstring as Markdown.

    ``Args``-like sections become bullet lists of ``name``: text, examples
    become Python code blocks, and other text is kept as written.
    """
    lines = doc.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = _SECTION_LINE.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        title = match.group(1)
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] == " "):
            end += 1
        body = textwrap.dedent("\n".join(lines[index + 1 : end])).strip("\n")
        body_lines = body.splitlines()
        out += ["", f"**{title}:**", ""]
        if title in ENTRY_SECTIONS:
            out += _entry_list(body_lines)
        elif title in CODE_SECTIONS:
            out += ["```python", *body_lines, "```"]
        else:
            out += body_lines
        out.append("")
        index = end
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _entry_list(lines: list[str]) -> list[str]:
    """``name: text`` entries (continuations indented) as a bullet list."""
    entries: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        if line[0] != " " or not entries:
            entries.append([line.strip()])
        else:
            entries[-1].append(line.strip())
    bullets = []
    for entry in entries:
        text = " ".join(entry)
        match = _ENTRY_LINE.match(text)
        if match:
            bullets.append(f"- `{match.group(1)}`: {match.group(2)}".rstrip())
        else:
            bullets.append(f"- {text}")
    return bullets
