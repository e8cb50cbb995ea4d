"""Intents: free text that leads somewhere, beyond crisis language.

A message no flow is waiting for, and that the crisis gate let through, is checked against a
small set of intents (:data:`INTENTS`): a slip, a craving, looking for treatment or a meeting,
worry about someone, a question about a medication, wanting check-ins to stop. A match shows
that intent's one-line answer and buttons to the guide pages that fit (``bot.screens.intent``);
anything else keeps the friendly answer with the menu.

The phrase lists live in ``content/<lang>/intents.yaml`` and use the crisis phrase syntax (the
header of ``content/en/crisis.yaml``), matched by the same machinery
(:data:`bot.crisis.PhraseMatcher`): the language's own normalisation, spellings and groups come
from its ``crisis.yaml``, so a message is read the same way by both; ``intents.yaml`` may add
groups (new names only) and spellings. File order is priority: the first intent with a phrase
match that none of its ``exclude`` patterns overlaps wins. Pure Python: no Telegram imports,
no I/O after loading, and nothing about the text is logged or kept.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.crisis import NormaliseRules, PhraseMatcher

INTENTS: tuple[str, ...] = (
    "slip",
    "medication",
    "treatment",
    "worried_other",
    "craving",
    "stop_checkins",
)
"""Every intents file defines all of these (in any order; file order is priority)."""

SPECIAL_TARGETS = frozenset({"@checkins"})
"""Button targets that are not guide pages: ``@checkins`` opens the check-in screen (Stop)."""
MAX_BUTTONS = 3

_TOP_LEVEL_KEYS = {"language", "groups", "spellings", "intents"}
_INTENT_KEYS = {"answer", "buttons", "phrases", "exclude"}


@dataclass(frozen=True)
class Intent:
    """One intent: its name, its answer (Telegram HTML) and its button targets."""

    name: str
    answer: str
    buttons: tuple[str, ...]  # guide page ids or SPECIAL_TARGETS, in order


class IntentMatcher:
    """One language's intents and the phrase matcher built from their lists."""

    def __init__(self, intents: Mapping[str, Intent], matcher: PhraseMatcher) -> None:
        self.intents = dict(intents)  # in priority order
        self._matcher = matcher

    @classmethod
    def from_file(cls, path: Path, crisis_path: Path) -> IntentMatcher:
        """Load ``path`` (an ``intents.yaml``) with the normalisation, spellings and groups of
        ``crisis_path`` (the same language's ``crisis.yaml``, already validated by the crisis
        loader); raise ``ValueError("<path>: <problem>")``.

        Refused: a missing or unreadable file, invalid YAML, an unknown key, a missing intent or
        one not in :data:`INTENTS`, an intent without an answer, without phrases or with no or
        more than :data:`MAX_BUTTONS` buttons, a group name the crisis file already has, and a
        phrase that does not follow the phrase syntax. Whether each button leads to a guide
        page is checked by the content loader (:meth:`unknown_targets`).
        """
        data = _read(path)
        crisis = _read(crisis_path)
        try:
            intents, lists, groups, spellings = _validate(data, crisis)
            matcher = PhraseMatcher(
                lists,
                groups=groups,
                spellings=spellings,
                normalise=NormaliseRules.from_data(crisis.get("normalise")),
            )
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}".replace("category ", "intent ")) from exc
        return cls(intents, matcher)

    def match(self, text: str) -> Intent | None:
        """The intent ``text`` expresses, or ``None`` (the same bounded reading as crisis)."""
        found = self._matcher.check(text)
        return None if found is None else self.intents[found.category]

    def phrase(self, text: str) -> str | None:
        """The phrase (as written in the file) that matched ``text``: for tests and tools."""
        found = self._matcher.check(text)
        return None if found is None else found.phrase

    def unknown_targets(self, pages: Collection[str]) -> list[str]:
        """'<intent>: <target>' for each button target that is neither a page nor special."""
        return [
            f"{intent.name}: {target}"
            for intent in self.intents.values()
            for target in intent.buttons
            if target not in pages and target not in SPECIAL_TARGETS
        ]


def find_intent(text: str, matchers: Iterable[IntentMatcher | None]) -> str | None:
    """The name of the first intent found in ``text`` by ``matchers`` (the person's language,
    then the default one: people mix languages), or ``None``."""
    for matcher in matchers:
        if matcher is not None:
            intent = matcher.match(text)
            if intent is not None:
                return intent.name
    return None


def load_intents(path: Path, crisis_path: Path) -> IntentMatcher:
    """:meth:`IntentMatcher.from_file`, reused while both files are unchanged."""
    try:
        own, crisis = path.stat(), crisis_path.stat()
    except OSError:
        return IntentMatcher.from_file(path, crisis_path)  # raises the usual "cannot read"
    return _compiled(path, own.st_mtime_ns, own.st_size, crisis_path, crisis.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _compiled(path: Path, mtime_ns: int, size: int, crisis: Path, crisis_ns: int) -> IntentMatcher:
    return IntentMatcher.from_file(path, crisis)


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _texts(value: Any, what: str, *, allow_empty: bool = False) -> list[str]:
    if value is None and allow_empty:
        return []
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ValueError(f"{what} must be a non-empty list")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{what} has an empty or non-text entry {item!r}")
    return list(value)


def _validate(
    data: dict[str, Any], crisis: dict[str, Any]
) -> tuple[dict[str, Intent], dict[str, dict[str, list[str]]], dict[str, Any], dict[str, str]]:
    unknown = set(data) - _TOP_LEVEL_KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}; expected {sorted(_TOP_LEVEL_KEYS)}")
    groups = dict(crisis.get("groups") or {})
    own_groups = data.get("groups") or {}
    if not isinstance(own_groups, dict):
        raise ValueError("'groups' must map a name to a list of words or phrases")
    for name, entries in own_groups.items():
        if name in groups:
            raise ValueError(f"group {name!r} is already in crisis.yaml (pick another name)")
        groups[name] = _texts(entries, f"group {name!r}")
    spellings = dict(crisis.get("spellings") or {})
    own_spellings = data.get("spellings") or {}
    if not isinstance(own_spellings, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in own_spellings.items()
    ):
        raise ValueError("'spellings' must map a written form to the form phrases use")
    spellings.update(own_spellings)
    raw = data.get("intents")
    if not isinstance(raw, dict) or not raw:
        raise ValueError("'intents' is missing or empty")
    for name in INTENTS:
        if name not in raw:
            raise ValueError(f"intent {name!r} is missing")
    intents: dict[str, Intent] = {}
    lists: dict[str, dict[str, list[str]]] = {}
    for name, body in raw.items():
        if name not in INTENTS:
            raise ValueError(f"unknown intent {name!r}; expected one of {list(INTENTS)}")
        if not isinstance(body, dict):
            raise ValueError(f"intent {name!r} must be a mapping")
        extra = set(body) - _INTENT_KEYS
        if extra:
            raise ValueError(f"intent {name!r} has unknown key(s) {sorted(extra)}")
        answer = body.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            raise ValueError(f"intent {name!r} has no 'answer'")
        buttons = _texts(body.get("buttons"), f"intent {name!r} buttons")
        if len(buttons) > MAX_BUTTONS:
            raise ValueError(f"intent {name!r} has {len(buttons)} buttons (at most {MAX_BUTTONS})")
        phrases = _texts(body.get("phrases"), f"intent {name!r} phrases")
        duplicates = {p for p in phrases if phrases.count(p) > 1}
        if duplicates:
            raise ValueError(f"intent {name!r} lists {sorted(duplicates)} twice")
        exclude = _texts(body.get("exclude"), f"intent {name!r} exclude", allow_empty=True)
        intents[name] = Intent(name, answer.strip(), tuple(b.strip() for b in buttons))
        lists[name] = {"phrases": phrases, "exclude": exclude}
    return intents, lists, groups, spellings
