"""Telegram's HTML subset: checking that a text will be accepted, and its visible length.

Telegram rejects a message whose HTML has an unknown tag, an unclosed tag, or a bare ``<``,
``>`` or ``&``. Content is checked with :func:`html_problems` at startup and in tests.
"""

from __future__ import annotations

import html
import re

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-z-]+(?:=\"[^\"<>]*\")?)*)\s*>")
_ENTITY_RE = re.compile(r"&(?:amp|lt|gt|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
MAX_MESSAGE = 4096


def html_problems(text: str) -> list[str]:
    """Return what Telegram would reject in ``text`` (empty when it is valid)."""
    problems: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _TAG_RE.finditer(text):
        _bare(text[pos : match.start()], problems)
        pos = match.end()
        closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
        if name not in ALLOWED_TAGS:
            problems.append(f"tag <{name}> is not allowed")
            continue
        if closing:
            if not stack or stack[-1] != name:
                problems.append(f"</{name}> closes nothing open")
            else:
                stack.pop()
        else:
            if name == "a" and 'href="' not in attrs:
                problems.append("<a> needs href")
            stack.append(name)
    _bare(text[pos:], problems)
    if stack:
        problems.append(f"unclosed tag <{stack[-1]}>")
    return problems


def _bare(segment: str, problems: list[str]) -> None:
    if "<" in segment or ">" in segment:
        problems.append("bare < or > (write &lt; or &gt;)")
    if "&" in segment and len(_ENTITY_RE.findall(segment)) != segment.count("&"):
        problems.append("bare & (write &amp;)")


def visible_text(text: str) -> str:
    """The text as a reader sees it: tags removed, entities decoded."""
    return html.unescape(_TAG_RE.sub("", text))


def visible_length(text: str) -> int:
    """Telegram counts message length in UTF-16 code units after parsing entities."""
    return len(visible_text(text).encode("utf-16-le")) // 2
