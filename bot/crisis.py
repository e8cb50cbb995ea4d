"""Crisis-language detection for free-text messages.

This module owns everything about *recognising* crisis language, and nothing about answering
it: text normalisation, the small phrase-pattern language used by the content files, loading
and validating ``content/<lang>/crisis.yaml``, and :meth:`CrisisDetector.check`, which a
handler calls on every free-text message before anything else looks at it. A match means
"show the Help now answer"; what that answer says lives elsewhere. Pure Python: no Telegram
imports, no I/O after loading, no logging of message text.

How a message is checked
------------------------
1. Normalise. The same for every language: Unicode NFKC, lower case, curly apostrophes
   straightened, ``-``/``/``/emoji/other symbols (``¿`` and ``¡`` too) become spaces,
   ``. ! ? ;`` and line breaks become a sentence break, and every run of a repeated letter
   becomes one letter ("diiiie" -> "die", "ayudaaaa" -> "ayuda", "kill" -> "kil"). The
   phrases get exactly the same treatment, so "too"/"to", "wanna"/"wana" and "killll"/"kill"
   all meet in the middle (and so do "noose"/"nose" and "fell"/"feel": write around them).

   What differs between languages is data, the ``normalise`` section of the content file
   (:class:`NormaliseRules`; the file header documents it), applied in this order, after
   lower-casing and before the sentence breaks:

   - ``fold_accents`` (Spanish): accented letters read as plain ones ("tomé" = "tome", "está"
     = "esta"), except ``keep_letters`` ("ñ" stays "ñ": "año" is not "ano"). With
     ``loose_letters`` (``ñ: n``) a "ñ" written in a PHRASE also matches an "n" in a message
     (keyboards without ñ: "niño" matches "nino"), while a phrase's "n" never matches "ñ".
   - ``abbreviations`` (English ``o.d.: od``): dotted words read as one word.
   - ``contractions`` (English): a contraction written with its apostrophe is spelled out,
     because the apostrophe says which word it is ("he'll" -> "he will", not "hell"; "life's"
     -> "life is", "we're" -> "we are", "she'd" -> "she would", "let's" -> "lets"). A
     possessive "'s" reads as " is" too ("my son's lips" -> "my son is lips"): phrases are
     short and local, so the stray "is" costs little. Other apostrophes are then dropped in
     every language ("don't" -> "dont", "pa'" -> "pa").
2. Spellings: whole words (or word pairs) listed under ``spellings`` in the content file are
   rewritten to one form ("im" -> "i am", "wont" -> "will not", "siezure" -> "seizure").
3. The first category (in file order) with a phrase match that none of that category's
   ``exclude`` patterns overlaps wins ("dying" + "to see my kids", "overdosed" + "5 years
   ago" cancel the match they overlap, nothing else). Within a category the leftmost such
   match is reported, and of several phrases matching at one place the first in the file.

Every phrase starts at a word boundary with a word the phrase's syntax decides (or with any
word, for a few), so the detector does not try every phrase at every place: it indexes the
phrases by the words they can start with, reads the message word by word and tries only the
phrases that can start at that word, for all categories in one pass (a word with a loose
letter is looked up with its other letter: "niño" and "nino" find the same phrases). Exclude
patterns are looked at only once a phrase has matched.

Only a bounded part of a message is read (the first :data:`HEAD_CHARS` characters and the last
:data:`TAIL_CHARS`), and every pattern is built from literals, fixed alternatives and bounded
gaps, so ``check`` costs at most a constant per character of that window: no catastrophic
backtracking, whatever the input.

The phrase syntax is documented at the top of ``content/en/crisis.yaml``, and the Spanish
normalisation at the top of ``content/es/crisis.yaml``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATEGORIES: tuple[str, ...] = ("suicide", "self_harm", "overdose", "withdrawal", "harm_others")
"""Every content file must define all of these (in any order; file order is priority)."""

HEAD_CHARS = 4096
"""Characters read from the start of a message (Telegram's own limit for one message)."""
TAIL_CHARS = 1024
"""Characters also read from the end of a longer message (text from elsewhere, pastes)."""

DEFAULT_RULES_FILE = Path(__file__).resolve().parents[1] / "content" / "en" / "crisis.yaml"
"""Whose ``normalise`` rules :func:`basic_normalise` uses when given none (the default language)."""

SHORT_GAP = 4
"""``..`` in a phrase: up to this many words in between (never across a sentence break)."""
LONG_GAP = 8
"""``...`` in a phrase: up to this many words in between."""
SPAN_GAP = 8
"""``~`` in a phrase: up to this many words and sentence breaks in between, so that cues
split over short sentences still meet ("im done. with everything. goodbye")."""

_TOP_LEVEL_KEYS = {"language", "reply", "normalise", "groups", "spellings", "categories"}
_CATEGORY_KEYS = {"phrases", "exclude"}

# --- normalisation --------------------------------------------------------------------------

_APOSTROPHES = {ord(c): "'" for c in "\u2018\u2019\u201b\u02bc\u02b9`\u00b4\u2032"}
_ELLIPSIS = re.compile(r"\u2026|\.{2,}")
_SENTENCE_END = re.compile(r"[.!?;\n\r]+")
_NOT_WORD = re.compile(r"[^\w.]+|_")
_REPEATS = re.compile(r"([^\W\d_])\1+")
_SPACES = re.compile(r" {2,}")
_BREAKS = re.compile(r"(?: \.)+")

_WORD = r"[^\W_]+"

_NORMALISE_KEYS = {"contractions", "abbreviations", "fold_accents", "keep_letters", "loose_letters"}
_ENDING_KEY = re.compile(r"'[^\W\d_]+")  # "'ll": an ending after a letter
_WHOLE_WORD_KEY = re.compile(r"[^\W_]+(?:'[^\W_]+)+")  # "let's": a whole word
_ABBREVIATION_KEY = re.compile(r"[^\W_]+(?:\.[^\W_]+)+\.?")  # "o.d."
_PLAIN = re.compile(r"[^\W_]+(?: [^\W_]+)*")  # words and single spaces


def _accent_folds() -> dict[int, str | None]:
    """Every precomposed Latin letter with marks -> its base letter ("é" -> "e", "ñ" -> "n");
    combining marks left on their own are dropped."""
    table: dict[int, str | None] = {cp: None for cp in range(0x0300, 0x0370)}
    for cp in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        parts = unicodedata.normalize("NFD", chr(cp))
        if len(parts) > 1 and parts[0].isascii() and parts[0].isalpha():
            if all(unicodedata.combining(mark) for mark in parts[1:]):
                table[cp] = parts[0]
    return table


_ACCENT_FOLDS = _accent_folds()


class NormaliseRules:
    """One language's own normalisation steps: the ``normalise`` section of its crisis file.

    Everything else in step 1 of the module docstring is the same for every language. Build
    one with :meth:`from_data` (which validates the section) or with keywords:

    ``contractions``
        Forms written with an apostrophe, spelled out before other apostrophes are dropped.
        A key starting with an apostrophe is an ending after a letter (``"'ll": will`` reads
        "he'll" as "he will"; the spelled-out words follow a space); any other key is a whole
        word (``"let's": lets``). Whole words are rewritten first.
    ``abbreviations``
        Words written with dots, read as one word before dots end sentences (``"o.d.": od``
        reads "O.D." and "o.d" as "od").
    ``fold_accents``
        Letters with accents or other marks read as the plain letter ("tomé" = "tome",
        "está" = "esta", "pingüino" = "pinguino"), in messages and phrases alike.
    ``keep_letters``
        Letters ``fold_accents`` leaves as they are (``"ñ"``: "año" is not "ano").
    ``loose_letters``
        A letter that, written in a PHRASE, also matches another letter in a message (``ñ: n``:
        the phrase "niño" matches "niño" and "nino", for keyboards without ñ; the phrase
        "unas" still does not match "uñas").
    """

    def __init__(
        self,
        *,
        contractions: Mapping[str, str] | None = None,
        abbreviations: Mapping[str, str] | None = None,
        fold_accents: bool = False,
        keep_letters: Iterable[str] = (),
        loose_letters: Mapping[str, str] | None = None,
    ) -> None:
        """Raise ``ValueError`` naming the entry that is not valid."""
        keep = {_lower(letter) for letter in keep_letters}
        for letter in keep:
            if not _is_letter(letter):
                raise ValueError(f"keep_letters: {letter!r} is not a single letter")
            if not fold_accents:
                raise ValueError("keep_letters only applies with 'fold_accents: true'")
        table: dict[int, str | None] = dict(_APOSTROPHES)
        if fold_accents:
            table.update((cp, to) for cp, to in _ACCENT_FOLDS.items() if chr(cp) not in keep)
        self.fold_accents = fold_accents
        self._table = table
        self._loose: dict[str, str] = {}
        for letter, other in (loose_letters or {}).items():
            key, value = self._letters(letter), self._letters(other)
            if not (_is_letter(_lower(letter)) and _is_letter(_lower(other))):
                raise ValueError(
                    f"loose_letters: {letter!r}: {other!r} must map a letter to a letter"
                )
            if key != _lower(letter):
                raise ValueError(
                    f"loose_letters: fold_accents reads {letter!r} as {key!r}; list it in"
                    " keep_letters"
                )
            if key == value:
                raise ValueError(f"loose_letters: {letter!r} and {other!r} read as the same letter")
            self._loose[key] = value
        self._loose_table = str.maketrans(self._loose)
        self._whole: dict[str, str] = {}
        self._endings: dict[str, str] = {}
        for written, spelled in (contractions or {}).items():
            key, value = self._letters(written), self._words_of(spelled, f"contraction {written!r}")
            if _ENDING_KEY.fullmatch(key):
                self._endings[key] = " " + value
            elif _WHOLE_WORD_KEY.fullmatch(key):
                self._whole[key] = value
            else:
                raise ValueError(
                    f'contraction {written!r}: write an ending ("\'ll") or a whole word with'
                    ' an apostrophe ("let\'s")'
                )
        self._whole_word = _alternatives(self._whole, r"(?<![^\W_])(?:{})(?![^\W_])")
        # An ending after a letter, as a whole ending ("he'll", not "o'clock").
        self._ending = _alternatives(self._endings, r"(?<=[^\W\d_])(?:{})(?![^\W_])")
        self._abbreviations: dict[str, str] = {}
        for written, read in (abbreviations or {}).items():
            key, value = self._letters(written), self._words_of(read, f"abbreviation {written!r}")
            if not _ABBREVIATION_KEY.fullmatch(key) or " " in value:
                raise ValueError(
                    f'abbreviation {written!r}: write letters with dots ("o.d.") and the one'
                    " word it reads as"
                )
            self._abbreviations[key.rstrip(".")] = value
        self._abbreviation = _alternatives(self._abbreviations, r"(?<![^\W_])(?:{})\.?(?![^\W_])")

    @classmethod
    def from_data(cls, section: Any) -> NormaliseRules:
        """Rules from a content file's ``normalise`` section (``None``: no language steps);
        raise ``ValueError("'normalise': <problem>")``."""
        if section is None:
            return cls()
        try:
            if not isinstance(section, dict):
                raise ValueError(f"expected a mapping with some of {sorted(_NORMALISE_KEYS)}")
            unknown = set(section) - _NORMALISE_KEYS
            if unknown:
                raise ValueError(
                    f"unknown key(s) {sorted(map(str, unknown))};"
                    f" expected {sorted(_NORMALISE_KEYS)}"
                )
            fold = section.get("fold_accents", False)
            if not isinstance(fold, bool):
                raise ValueError("'fold_accents' must be true or false")
            keep = section.get("keep_letters") or []
            if isinstance(keep, str):
                keep = [keep]
            if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
                raise ValueError("'keep_letters' must be a letter or a list of letters")
            mappings = {}
            for name in ("contractions", "abbreviations", "loose_letters"):
                value = section.get(name) or {}
                if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()
                ):
                    raise ValueError(f"'{name}' must map a written form to a text")
                mappings[name] = value
            return cls(fold_accents=fold, keep_letters=keep, **mappings)
        except ValueError as exc:
            raise ValueError(f"'normalise': {exc}") from None

    def basic(self, text: str) -> str:
        """Step 1 of the module docstring with these rules (see :func:`basic_normalise`)."""
        text = unicodedata.normalize("NFKC", text).lower().translate(self._table)
        text = _ELLIPSIS.sub(" ", text)
        if self._abbreviation is not None:
            text = self._abbreviation.sub(self._read_abbreviation, text)
        if "'" in text:
            if self._whole_word is not None:
                text = self._whole_word.sub(self._spell_whole, text)
            if self._ending is not None:
                text = self._ending.sub(self._spell_ending, text)
            text = text.replace("'", "")
        text = _SENTENCE_END.sub(" . ", text)
        text = _NOT_WORD.sub(" ", text)
        text = _REPEATS.sub(r"\1", text)
        text = _SPACES.sub(" ", f" {text} ")
        text = _BREAKS.sub(" .", text)  # squeeze runs of breaks ("!!! ?")
        if text.startswith(" . "):
            text = text[2:]
        if text.endswith(" . "):
            text = text[:-2]
        return text

    def loose(self, regex_source: str) -> str:
        """``regex_source`` (escaped phrase text) with each loose letter also matching its
        other letter."""
        for letter, other in self._loose.items():
            regex_source = regex_source.replace(letter, f"[{letter}{other}]")
        return regex_source

    def index_key(self, word: str) -> str:
        """The form of a normalised word the phrase index files it under (loose letters
        replaced by their other letter, so "niño" and "nino" look up the same phrases)."""
        return word.translate(self._loose_table) if self._loose else word

    def _letters(self, written: str) -> str:
        return unicodedata.normalize("NFKC", written).lower().translate(self._table).strip()

    def _words_of(self, text: str, what: str) -> str:
        value = " ".join(self._letters(text).split())
        if not _PLAIN.fullmatch(value):
            raise ValueError(f"{what}: {text!r} must be plain words")
        return value

    def _read_abbreviation(self, match: re.Match[str]) -> str:
        return self._abbreviations[match.group().rstrip(".")]

    def _spell_whole(self, match: re.Match[str]) -> str:
        return self._whole[match.group()]

    def _spell_ending(self, match: re.Match[str]) -> str:
        return self._endings[match.group()]


def _lower(letter: str) -> str:
    return unicodedata.normalize("NFKC", letter).lower()


def _is_letter(text: str) -> bool:
    return len(text) == 1 and text.isalpha()


def _alternatives(forms: Mapping[str, str], template: str) -> re.Pattern[str] | None:
    """One regex for all ``forms`` (longest first), or ``None`` when there are none."""
    if not forms:
        return None
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(template.format(alternatives))


@functools.lru_cache(maxsize=1)
def default_rules() -> NormaliseRules:
    """The default language's rules, read once from :data:`DEFAULT_RULES_FILE`."""
    try:
        data = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{DEFAULT_RULES_FILE}: cannot read ({exc})") from exc
    try:
        return NormaliseRules.from_data(data.get("normalise") if isinstance(data, dict) else None)
    except ValueError as exc:
        raise ValueError(f"{DEFAULT_RULES_FILE}: {exc}") from exc


def basic_normalise(text: str, rules: NormaliseRules | None = None) -> str:
    """Return ``text`` as space-separated words and ``.`` sentence breaks, padded with spaces.

    This is step 1 of the module docstring, without spellings, with a language's ``rules``
    (by default the default language's, from its content file: for tests and tools). The
    result always starts and ends with a space and has single spaces between tokens, e.g.
    ``" i want to die . help "``.
    """
    return (rules if rules is not None else default_rules()).basic(text)


class Normaliser:
    """Basic normalisation with a language's rules, then whole-word spelling rewrites."""

    def __init__(self, spellings: Mapping[str, str], rules: NormaliseRules | None = None) -> None:
        self.rules = rules if rules is not None else NormaliseRules()
        basic = self.basic = self.rules.basic
        self._words: dict[str, str] = {}  # one-word forms: a dict lookup per word
        self._phrases: dict[str, str] = {}  # forms of several words ("my self"): a regex
        for variant, canonical in spellings.items():
            key = basic(variant).strip()
            value = basic(canonical).strip()
            if key and key != value:
                (self._phrases if " " in key else self._words)[key] = value
        self._pattern: re.Pattern[str] | None = None
        if self._phrases:
            keys = sorted(self._phrases, key=len, reverse=True)
            alternatives = "|".join(re.escape(k) for k in keys)
            self._pattern = re.compile(f"(?<= )(?:{alternatives})(?= )")

    def __call__(self, text: str) -> str:
        """Normalise ``text`` for matching (see :func:`basic_normalise`), then apply spellings."""
        text = self.basic(text)
        if self._pattern is not None:
            text = self._pattern.sub(self._replace, text)
        if self._words:
            get = self._words.get
            text = " ".join([get(word, word) for word in text.split(" ")])
        return text

    def _replace(self, match: re.Match[str]) -> str:
        return self._phrases[match.group()]


# --- the phrase language --------------------------------------------------------------------

_GAPS = ("..", "...", "~")
_TOKEN = re.compile(r"\.\.\.|\.\.|##|[()\[\]|^$*#~]|\{[^{}\s]*\}|[^\s()\[\]|{}^$*#~]+\*?")
_GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PatternError(ValueError):
    """A phrase in a content file does not follow the phrase syntax."""


@dataclass
class _Starts:
    """The words a match of a phrase can start with (the phrase index's keys)."""

    words: set[str] = field(default_factory=set)  # exactly these words
    stems: set[str] = field(default_factory=set)  # any word beginning with one of these
    number: bool = False  # a number ("#", "##")
    any_word: bool = False  # any word at all ("*", or a gap before the first word)

    def update(self, other: _Starts) -> None:
        self.words |= other.words
        self.stems |= other.stems
        self.number = self.number or other.number
        self.any_word = self.any_word or other.any_word


class _PhraseCompiler:
    """Turns phrase strings (see the content file header) into regular-expression source."""

    def __init__(self, groups: Mapping[str, list[str]], normalise: Normaliser) -> None:
        self._groups = groups
        self._normalise = normalise
        self._rules = normalise.rules
        self._group_cache: dict[str, str] = {}
        self._group_starts: dict[str, tuple[_Starts, bool]] = {}
        self._in_progress: list[str] = []

    def compile(self, phrase: str) -> str:
        """Return regex source for ``phrase``; raise :class:`PatternError` if it is malformed."""
        tokens = _tokenise(phrase)
        body, pos, has_word = self._sequence(tokens, 0)
        if pos != len(tokens):
            raise PatternError(f"unexpected {tokens[pos]!r}")
        if not has_word:
            raise PatternError("needs at least one word (wildcards alone match anything)")
        if tokens[0] in _GAPS or tokens[-1] in _GAPS:
            raise PatternError("'..', '...' and '~' go between words, not at either end")
        return f"{body}(?= )"

    def compile_group(self, name: str) -> str:
        """Return regex source matching any entry of group ``name``."""
        if name in self._group_cache:
            return self._group_cache[name]
        if name not in self._groups:
            raise PatternError(f"unknown group {{{name}}}")
        if name in self._in_progress:
            raise PatternError(f"group {{{name}}} refers to itself")
        self._in_progress.append(name)
        try:
            parts = []
            for entry in self._groups[name]:
                tokens = _tokenise(entry)
                body, pos, has_word = self._sequence(tokens, 0)
                if pos != len(tokens) or not has_word:
                    raise PatternError(f"group {{{name}}}: bad entry {entry!r}")
                parts.append(body)
        finally:
            self._in_progress.pop()
        source = "(?:" + "|".join(parts) + ")"
        self._group_cache[name] = source
        return source

    def starts(self, phrase: str) -> _Starts:
        """The words a match of ``phrase`` can start with; call after :meth:`compile`.

        Every item of a compiled phrase that reads a word starts with the space before it, and
        the items that read nothing (``^``, ``$``, ``[...]`` left out) look but do not move, so
        a match always starts at the space before its first word, and that word is one that
        the first word-reading item of the phrase accepts. This finds those words the way a
        parser's FIRST set is found.
        """
        starts = _Starts()
        can_be_empty, _ = self._starts_of(_tokenise(phrase), 0, starts)
        if can_be_empty:  # not possible for a phrase compile() accepted; stay safe anyway
            starts.any_word = True
        return starts

    def _starts_of(self, tokens: list[str], pos: int, starts: _Starts) -> tuple[bool, int]:
        """Add to ``starts`` the first words of the sequence at ``pos`` (parsed as in
        :meth:`_sequence`); return (whether it can read no word at all, next position)."""
        empty = True  # nothing that must read a word seen yet: still looking for first words
        literal: list[str] = []

        def flush() -> None:
            nonlocal empty
            if literal:
                if empty:
                    first = self._normalise(" ".join(literal)).split()[0]
                    starts.words.add(self._rules.index_key(first))
                    empty = False
                literal.clear()

        while pos < len(tokens):
            tok = tokens[pos]
            if tok in (")", "]", "|"):
                break
            pos += 1
            if tok in ("(", "["):
                flush()
                into = starts if empty else _Starts()  # past the first word: only parse
                choice_empty = tok == "["
                while True:
                    sub_empty, pos = self._starts_of(tokens, pos, into)
                    choice_empty = choice_empty or sub_empty
                    if tokens[pos] == "|":
                        pos += 1
                        continue
                    pos += 1
                    break
                empty = empty and choice_empty
            elif tok.startswith("{"):
                flush()
                if empty:
                    group, group_empty = self._group_first(tok[1:-1])
                    starts.update(group)
                    empty = group_empty
            elif tok == "*" or tok in _GAPS:
                flush()
                if empty:
                    starts.any_word = True
                    empty = tok != "*"
            elif tok in ("#", "##"):
                flush()
                if empty:
                    starts.number = True
                    empty = False
            elif tok in ("^", "$"):
                flush()
            elif tok.endswith("*"):
                flush()
                if empty:
                    stem = self._normalise.basic(tok[:-1]).split()[0]
                    starts.stems.add(self._rules.index_key(stem))
                    empty = False
            else:
                literal.append(tok)
        flush()
        return empty, pos

    def _group_first(self, name: str) -> tuple[_Starts, bool]:
        if name not in self._group_starts:
            starts = _Starts()
            empty = False
            for entry in self._groups[name]:
                entry_empty, _ = self._starts_of(_tokenise(entry), 0, starts)
                empty = empty or entry_empty
            self._group_starts[name] = (starts, empty)
        return self._group_starts[name]

    def _sequence(self, tokens: list[str], pos: int) -> tuple[str, int, bool]:
        """Parse items until ``)``, ``]``, ``|`` or the end; return (regex, next pos, has word)."""
        out: list[str] = []
        literal: list[str] = []
        has_word = False

        def flush() -> None:
            if literal:
                words = self._normalise(" ".join(literal)).split()
                if not words or "." in words:
                    raise PatternError(f"{' '.join(literal)!r} has no words or has punctuation")
                out.append(self._rules.loose(re.escape(" " + " ".join(words))))
                literal.clear()

        while pos < len(tokens):
            tok = tokens[pos]
            if tok in (")", "]", "|"):
                break
            pos += 1
            if tok in ("(", "["):
                flush()
                closing = ")" if tok == "(" else "]"
                alternatives: list[str] = []
                all_words = True
                while True:
                    body, pos, sub_word = self._sequence(tokens, pos)
                    if not body:
                        raise PatternError(f"empty choice in {tok}...{closing}")
                    alternatives.append(body)
                    all_words = all_words and sub_word
                    if pos >= len(tokens):
                        raise PatternError(f"missing {closing!r}")
                    if tokens[pos] == "|":
                        pos += 1
                        continue
                    if tokens[pos] != closing:
                        raise PatternError(f"{tok!r} closed by {tokens[pos]!r}")
                    pos += 1
                    break
                out.append("(?:" + "|".join(alternatives) + ")" + ("" if tok == "(" else "?"))
                has_word = has_word or (tok == "(" and all_words)
            elif tok.startswith("{"):
                flush()
                name = tok[1:-1]
                if not _GROUP_NAME.match(name):
                    raise PatternError(f"bad group name {tok!r}")
                out.append(self.compile_group(name))
                has_word = True
            elif tok == "*":
                flush()
                out.append(f"(?: {_WORD})")
            elif tok == "#":
                flush()
                out.append("(?: [0-9]+)")
            elif tok == "##":
                flush()
                out.append("(?: [0-9]{2,})")
            elif tok == "..":
                flush()
                out.append(f"(?: {_WORD}){{0,{SHORT_GAP}}}")
            elif tok == "...":
                flush()
                out.append(f"(?: {_WORD}){{0,{LONG_GAP}}}")
            elif tok == "~":
                flush()
                out.append(f"(?: (?:{_WORD}|\\.)){{0,{SPAN_GAP}}}")
            elif tok == "^":
                flush()
                out.append(r"(?:^|(?<= \.))")
            elif tok == "$":
                flush()
                out.append(r"(?= (?:\.|$))")
            elif tok.endswith("*"):
                flush()
                stem = self._normalise.basic(tok[:-1]).split()
                if len(stem) != 1 or stem[0] == ".":
                    raise PatternError(f"{tok!r}: a '*' ending needs a single word before it")
                out.append(f"(?: {self._rules.loose(re.escape(stem[0]))}[^\\W_]*)")
                has_word = True
            else:
                literal.append(tok)
                has_word = True
        flush()
        return "".join(out), pos, has_word


def _tokenise(phrase: str) -> list[str]:
    tokens = _TOKEN.findall(phrase)
    if "".join(tokens) != "".join(phrase.split()):
        raise PatternError("contains characters the phrase syntax does not allow ({ or })")
    if not tokens:
        raise PatternError("is empty")
    return tokens


# --- the detector ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CrisisMatch:
    """What :meth:`CrisisDetector.check` found: a category and the phrase (rule) that matched.

    ``phrase`` is the pattern as written in the content file, for tests and benchmarks. Never
    log it together with the user's text.
    """

    category: str  # suicide | self_harm | overdose | withdrawal | harm_others
    phrase: str


@dataclass(frozen=True)
class _Rule:
    source: str
    regex: re.Pattern[str]
    category: int  # index into CrisisDetector._categories (priority order)


@dataclass(frozen=True)
class _Category:
    name: str
    phrases: tuple[_Rule, ...]
    excludes: tuple[re.Pattern[str], ...]
    any_exclude: re.Pattern[str] | None  # all excludes in one pattern: usually none is there

    def excluded_spans(self, norm: str) -> list[tuple[int, int]]:
        """Where this category's exclude patterns match in ``norm`` (each one's finditer)."""
        if self.any_exclude is None or self.any_exclude.search(norm) is None:
            return []
        return [m.span() for ex in self.excludes for m in ex.finditer(norm)]


_WORD_AT = re.compile(r" ([^\W_]+)")
"""A word of normalised text, with the space before it: where a phrase match can start."""
_CACHED_WORDS = 20_000
"""At most this many words' lists of phrases to try are kept (then the cache starts afresh)."""


class CrisisDetector:
    """Checks one language's free text against that language's crisis phrase lists."""

    def __init__(
        self,
        categories: Mapping[str, Mapping[str, list[str]]],
        *,
        groups: Mapping[str, list[str]] | None = None,
        spellings: Mapping[str, str] | None = None,
        normalise: NormaliseRules | None = None,
        reply: str = "",
    ) -> None:
        """Compile phrase lists; raise :class:`PatternError` (a ValueError) on a bad phrase.

        ``categories`` maps a category name to ``{"phrases": [...], "exclude": [...]}``, in
        priority order; ``normalise`` is the language's own steps (none by default). Prefer
        :meth:`from_file`, which also validates the file's shape.
        """
        self.reply = reply
        self._normalise = Normaliser(spellings or {}, normalise)
        self._index_key = self._normalise.rules.index_key
        compiler = _PhraseCompiler(groups or {}, self._normalise)
        compiled: list[_Category] = []
        rules: list[_Rule] = []  # every phrase, in priority order: category, then file order
        starts: list[_Starts] = []
        for index, (name, lists) in enumerate(categories.items()):
            phrases = lists.get("phrases", [])
            if not phrases:
                raise PatternError(f"category {name!r} has no phrases")
            own = []
            for phrase in phrases:
                own.append(
                    _Rule(phrase, re.compile(_compile(compiler, name, "phrase", phrase)), index)
                )
                starts.append(compiler.starts(phrase))
            excludes = tuple(
                re.compile(_compile(compiler, name, "exclude", p)) for p in lists.get("exclude", [])
            )
            any_exclude = re.compile("|".join(e.pattern for e in excludes)) if excludes else None
            compiled.append(_Category(name, tuple(own), excludes, any_exclude))
            rules.extend(own)
        self._categories = tuple(compiled)
        self._rules = tuple(rules)
        # The phrase index: which phrases (by position in self._rules) can start at a word.
        self._by_word: dict[str, list[int]] = {}
        self._by_stem: list[tuple[str, int]] = []
        self._by_number: list[int] = []
        self._anywhere: list[int] = []
        for i, first in enumerate(starts):
            if first.any_word:
                self._anywhere.append(i)
                continue
            for word in first.words:
                self._by_word.setdefault(word, []).append(i)
            self._by_stem.extend((stem, i) for stem in first.stems)
            if first.number:
                self._by_number.append(i)
        self._candidates: dict[str, tuple[_Rule, ...]] = {}

    @property
    def categories(self) -> tuple[str, ...]:
        """Category names in priority order."""
        return tuple(c.name for c in self._categories)

    @classmethod
    def from_file(cls, path: Path) -> CrisisDetector:
        """Load ``path`` (a ``crisis.yaml``); raise ``ValueError("<path>: <problem>")``.

        The file is refused when it is missing or unreadable, is not valid YAML, lacks a
        ``reply``, lacks one of :data:`CATEGORIES` or has an empty or missing ``phrases`` list
        for it, has an unknown key, has a ``normalise`` section :meth:`NormaliseRules.from_data`
        refuses, or has a phrase that does not follow the phrase syntax.
        """
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read crisis phrases ({exc})") from exc
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML ({exc})") from exc
        try:
            kwargs = _validate(data)
            return cls(**kwargs)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc

    def normalise(self, text: str) -> str:
        """The normalised form ``check`` matches against (for tests and the benchmark)."""
        return self._normalise(text)

    def check(self, text: str) -> CrisisMatch | None:
        """Return the first crisis match in ``text``, or ``None``.

        Reads at most the first :data:`HEAD_CHARS` and the last :data:`TAIL_CHARS` characters.
        """
        if len(text) <= HEAD_CHARS + TAIL_CHARS:
            return self._check_window(text)
        return self._check_window(text[:HEAD_CHARS]) or self._check_window(text[-TAIL_CHARS:])

    def _check_window(self, text: str) -> CrisisMatch | None:
        norm = self._normalise(text)
        categories = self._categories
        best = len(categories)  # the best category found so far (none yet)
        found: _Rule | None = None
        excluded: dict[int, list[tuple[int, int]]] = {}  # per category, worked out when needed
        for word in _WORD_AT.finditer(norm):
            at = word.start()
            # Phrases that can start here, by priority: once one matches, the rest of its
            # category and every later category can no longer win.
            for rule in self._phrases_starting_with(word.group(1)):
                if rule.category >= best:
                    break
                match = rule.regex.match(norm, at)
                if match is None:
                    continue
                spans = excluded.get(rule.category)
                if spans is None:
                    spans = excluded[rule.category] = categories[rule.category].excluded_spans(norm)
                if spans and _overlaps(match.span(), spans):
                    continue
                best, found = rule.category, rule
                break
            if best == 0:
                break
        if found is None:
            return None
        return CrisisMatch(categories[best].name, found.source)

    def _phrases_starting_with(self, word: str) -> tuple[_Rule, ...]:
        """The phrases whose match can start with ``word``, in priority order (cached)."""
        phrases = self._candidates.get(word)
        if phrases is None:
            key = self._index_key(word)
            ids = set(self._by_word.get(key, ()))
            ids.update(i for stem, i in self._by_stem if key.startswith(stem))
            if self._by_number and word.isdigit():
                ids.update(self._by_number)
            ids.update(self._anywhere)
            phrases = tuple(self._rules[i] for i in sorted(ids))
            if len(self._candidates) >= _CACHED_WORDS:
                self._candidates.clear()
            self._candidates[word] = phrases
        return phrases


PhraseMatcher = CrisisDetector
"""The detector's matching machinery is not specific to crisis: given other category names (in
priority order), the same phrase syntax, groups, spellings and normalisation match other lists
(``bot.intents`` builds one from ``intents.yaml``). Build it with keywords, not ``from_file``,
which validates a crisis file."""


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    start, end = span
    return any(s < end and start < e for s, e in others)


def _compile(compiler: _PhraseCompiler, category: str, kind: str, phrase: str) -> str:
    try:
        return compiler.compile(phrase)
    except PatternError as exc:
        raise PatternError(f"category {category!r}: {kind} {phrase!r} {exc}") from None


def _validate(data: Any) -> dict[str, Any]:
    """Check the shape of a parsed content file; return keyword arguments for the detector."""
    if not isinstance(data, dict):
        raise ValueError("expected a mapping with 'reply' and 'categories'")
    unknown = set(data) - _TOP_LEVEL_KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}; expected {sorted(_TOP_LEVEL_KEYS)}")
    reply = data.get("reply")
    if not isinstance(reply, str) or not reply.strip():
        raise ValueError("'reply' must be a non-empty text")
    normalise = NormaliseRules.from_data(data.get("normalise"))
    groups = data.get("groups") or {}
    if not isinstance(groups, dict):
        raise ValueError("'groups' must map a name to a list of words or phrases")
    for name, entries in groups.items():
        if not isinstance(name, str) or not _GROUP_NAME.match(name):
            raise ValueError(f"bad group name {name!r} (use lower-case letters and _)")
        _check_list(entries, f"group {name!r}")
    spellings = data.get("spellings") or {}
    if not isinstance(spellings, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in spellings.items()
    ):
        raise ValueError("'spellings' must map a written form to the form phrases use")
    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise ValueError("'categories' is missing or empty")
    for name in CATEGORIES:
        if name not in categories:
            raise ValueError(f"category {name!r} is missing")
    result: dict[str, dict[str, list[str]]] = {}
    for name, body in categories.items():
        if name not in CATEGORIES:
            raise ValueError(f"unknown category {name!r}; expected one of {list(CATEGORIES)}")
        if not isinstance(body, dict):
            raise ValueError(f"category {name!r} must have a 'phrases' list")
        unknown = set(body) - _CATEGORY_KEYS
        if unknown:
            raise ValueError(f"category {name!r} has unknown key(s) {sorted(unknown)}")
        phrases = body.get("phrases")
        if not phrases:
            raise ValueError(f"category {name!r} has no phrases")
        _check_list(phrases, f"category {name!r} phrases")
        exclude = body.get("exclude") or []
        _check_list(exclude, f"category {name!r} exclude", allow_empty=True)
        duplicates = {p for p in phrases if phrases.count(p) > 1}
        if duplicates:
            raise ValueError(f"category {name!r} lists {sorted(duplicates)} twice")
        result[name] = {"phrases": list(phrases), "exclude": list(exclude)}
    return {
        "categories": result,
        "groups": groups,
        "spellings": spellings,
        "normalise": normalise,
        "reply": reply,
    }


def _check_list(value: Any, what: str, *, allow_empty: bool = False) -> None:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ValueError(f"{what} must be a non-empty list")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{what} has an empty or non-text entry {item!r}")


def load_detectors(content_dir: Path, languages: Iterable[str]) -> dict[str, CrisisDetector]:
    """Load ``content_dir/<lang>/crisis.yaml`` for each language; ValueError on any bad file."""
    return {
        lang: CrisisDetector.from_file(content_dir / lang / "crisis.yaml") for lang in languages
    }
