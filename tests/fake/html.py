"""Telegram HTML: ``parse_mode=HTML`` text into plain text and entities, as the Bot API does.

This module owns the formatting rules: which tags exist and what entity each makes
(:func:`parse_html`, raising :class:`EntityParseError` with Telegram's wording), entity offsets
in UTF-16 code units, Telegram's trimming of leading/trailing whitespace (``_trim``) and the
``bot_command`` entities Telegram adds to incoming text (:func:`command_entities`).
"""

from __future__ import annotations

import html
import re

from .records import JSONDict


class EntityParseError(ValueError):
    """Telegram would answer ``Bad Request: can't parse entities: <message>``."""


_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_RE = re.compile(
    r"\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?"
)
_CHAR_REF_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]*);")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode())


def parse_html(src: str, *, strict: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML into ``(plain_text, entities)`` the way the Bot API does.

    Entity offsets/lengths are in UTF-16 code units.  With ``strict`` (the default) a bare ``&``
    that is not a character reference, an unknown named reference and a bare ``>`` are errors,
    as the Bot API documentation requires ("All <, > and & symbols that are not a part of a tag
    or an HTML entity must be replaced"); the live server is more lenient about ``>`` and ``&``.
    Raises :class:`EntityParseError`.
    """
    out: list[str] = []
    pos16 = 0
    # (tag, start offset in utf-16, attributes, entity extras)
    stack: list[tuple[str, int, dict[str, str], JSONDict]] = []
    entities: list[JSONDict] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "<":
            end = src.find(">", i + 1)
            if not _TAG_NAME_RE.match(src, i + 1 + (src[i + 1 : i + 2] == "/")):
                raise EntityParseError(f"Empty tag name at byte offset {_byte_offset(src, i)}")
            if end < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise EntityParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(src, i)}"
                    )
                tag, start, attrs, extra = stack.pop()
                if name != tag:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{tag}>", found "</{name}>"'
                    )
                entity = _close_entity(tag, start, pos16, attrs, extra, stack)
                if entity is not None:
                    entities.append(entity)
            else:
                stack.append(_open_tag(src, i, inner, pos16))
            i = end + 1
            continue
        if ch == "&":
            m = _CHAR_REF_RE.match(src, i)
            if m is not None:
                decoded = _decode_char_ref(m.group(1))
                if decoded is None:
                    if strict:
                        raise EntityParseError(
                            f'Unsupported HTML entity "{m.group(0)}" at byte offset '
                            f"{_byte_offset(src, i)}"
                        )
                    decoded = m.group(0)
                out.append(decoded)
                pos16 += _u16(decoded)
                i = m.end()
                continue
            if strict:
                raise EntityParseError(
                    f"Character '&' at byte offset {_byte_offset(src, i)} must be escaped as &amp;"
                )
        elif ch == ">" and strict:
            raise EntityParseError(
                f"Character '>' at byte offset {_byte_offset(src, i)} must be escaped as &gt;"
            )
        out.append(ch)
        pos16 += 2 if ord(ch) > 0xFFFF else 1
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _decode_char_ref(ref: str) -> str | None:
    if ref.startswith(("#x", "#X")):
        code = int(ref[2:], 16)
    elif ref.startswith("#"):
        code = int(ref[1:])
    else:
        return _NAMED_REFS.get(ref)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _open_tag(
    src: str, index: int, inner: str, pos16: int
) -> tuple[str, int, dict[str, str], JSONDict]:
    m = _TAG_NAME_RE.match(inner)
    if m is None:
        raise EntityParseError(f"Empty tag name at byte offset {_byte_offset(src, index)}")
    name = m.group(0).lower()
    if name not in _TAG_ENTITY or inner.rstrip().endswith("/"):
        raise EntityParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, index)}'
        )
    attrs: dict[str, str] = {}
    rest = inner[m.end() :]
    while rest.strip():
        am = _ATTR_RE.match(rest)
        if am is None or am.end() == 0:
            raise EntityParseError(
                f'Invalid attributes of tag "{name}" at byte offset {_byte_offset(src, index)}'
            )
        value = next((g for g in am.groups()[1:] if g is not None), "")
        attrs[am.group(1).lower()] = html.unescape(value)
        rest = rest[am.end() :]
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError(
            f'Unsupported start tag "span" at byte offset {_byte_offset(src, index)}'
        )
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise EntityParseError(
            f'Unsupported start tag "tg-emoji" at byte offset {_byte_offset(src, index)}'
        )
    return name, pos16, attrs, {}


def _close_entity(
    tag: str,
    start: int,
    end: int,
    attrs: dict[str, str],
    extra: JSONDict,
    stack: list[tuple[str, int, dict[str, str], JSONDict]],
) -> JSONDict | None:
    kind = _TAG_ENTITY[tag]
    if tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            # <pre><code class="language-x"> is one pre entity with a language
            stack[-1][3]["language"] = language.removeprefix("language-")
            return None
    if end <= start:
        return None
    entity: JSONDict = {"type": kind, "offset": start, "length": end - start}
    if tag == "a":
        href = attrs.get("href")
        if not href:
            return None
        entity["url"] = href
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs["emoji-id"]
    entity.update(extra)
    return entity


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram strips leading/trailing whitespace; shift/clip entities accordingly."""
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    lead16 = _u16(text[:lead])
    size16 = _u16(body)
    trimmed: list[JSONDict] = []
    for ent in entities:
        start = max(int(ent.get("offset", 0)) - lead16, 0)
        stop = min(int(ent.get("offset", 0)) + int(ent.get("length", 0)) - lead16, size16)
        if stop > start:
            trimmed.append({**ent, "offset": start, "length": stop - start})
    return body, trimmed


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def command_entities(text: str) -> list[JSONDict]:
    """``bot_command`` entities the way Telegram marks them in incoming text."""
    return [
        {"type": "bot_command", "offset": _u16(text[: m.start()]), "length": _u16(m.group(0))}
        for m in _COMMAND_RE.finditer(text)
    ]
