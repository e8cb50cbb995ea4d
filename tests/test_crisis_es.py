"""Spanish crisis-language detection, measured the way the crisis gate uses it.

The gate (``handlers/crisis.py``) checks a Spanish speaker's message with the Spanish detector
and then with the English one (people mix languages), so every figure here is for the two
together, as :func:`gate` runs them.

The labelled Spanish sets live in ``tests/crisis_data/``:

- ``es_tuning.tsv``: the phrase lists were tuned on it (its misses and false alarms are read);
- ``es_heldout.tsv``: never read while tuning and never printed: it was measured once before a
  round of tuning and once after it. The tests below print and report only its counts and
  rates, never its messages;
- ``es_families.tsv``: messages written by the tuner for the meaning families (other persons,
  tenses, regional words, misspellings) and ordinary messages that share their words. Seen.

``blind_v2_*.tsv`` belong to a later blind measurement: these tests never read them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.crisis import CATEGORIES, CrisisDetector, CrisisMatch
from tests.test_crisis_detection import MAX_FPR, MIN_RECALL, _reference_check, read_labelled

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "crisis_data"
ES_FILE = ROOT / "content" / "es" / "crisis.yaml"
EN_FILE = ROOT / "content" / "en" / "crisis.yaml"

# es_heldout.tsv does NOT reach the product threshold. Measured once before tuning (recall 0.461,
# 71/154; false-positive rate 0.103, 15/145) and once after it (recall 0.747, 115/154; false-
# positive rate 0.048, 7/145), through the gate. It is held to what it reached, recall rounded down
# to 0.01, and to the product limit for false positives, which it meets. Raise these only from a
# new held-out measurement, never by tuning on es_heldout.tsv or editing it.
HELDOUT_MIN_RECALL = 0.74
HELDOUT_MAX_FPR = MAX_FPR

TUNING = read_labelled(DATA / "es_tuning.tsv")


@pytest.fixture(scope="module")
def es() -> CrisisDetector:
    return CrisisDetector.from_file(ES_FILE)


@pytest.fixture(scope="module")
def en() -> CrisisDetector:
    return CrisisDetector.from_file(EN_FILE)


def gate(es: CrisisDetector, en: CrisisDetector, text: str) -> CrisisMatch | None:
    """What the crisis gate finds for a Spanish speaker: Spanish first, then English."""
    return es.check(text) or en.check(text)


def _rates(
    rows: list[tuple[str, str, str]], es: CrisisDetector, en: CrisisDetector
) -> tuple[Counter[str], Counter[str], list[str], list[str]]:
    """Per category: crisis messages and those caught; then the misses and false alarms."""
    totals: Counter[str] = Counter()
    found: Counter[str] = Counter()
    misses: list[str] = []
    false_alarms: list[str] = []
    for label, category, text in rows:
        match = gate(es, en, text)
        if label == "crisis":
            totals[category] += 1
            if match is None:
                misses.append(f"  [{category}] {text}")
            else:
                found[category] += 1
        elif match is not None:
            false_alarms.append(f"  [{match.category}: {match.phrase[:80]}] {text}")
    return totals, found, misses, false_alarms


def _summary(
    name: str,
    rows: list[tuple[str, str, str]],
    totals: Counter[str],
    found: Counter[str],
    false_alarms: int,
) -> tuple[float, float]:
    crisis_total = sum(totals.values())
    ok_total = len(rows) - crisis_total
    recall = sum(found.values()) / crisis_total
    fpr = false_alarms / ok_total
    print(
        f"\n{name}: recall {recall:.3f} ({sum(found.values())}/{crisis_total}),"
        f" false positives {fpr:.3f} ({false_alarms}/{ok_total})"
    )
    for category in CATEGORIES:
        print(
            f"  {category:<12} recall {found[category] / totals[category]:.3f}"
            f" ({found[category]}/{totals[category]})"
        )
    return recall, fpr


# --- The labelled sets ------------------------------------------------------------------------


def test_spanish_sets_are_big_enough_and_apart() -> None:
    held = read_labelled(DATA / "es_heldout.tsv")
    for rows in (TUNING, held):
        labels = Counter(label for label, _, _ in rows)
        assert labels["crisis"] >= 150 and labels["ok"] >= 140, labels
        assert {c for label, c, _ in rows if label == "crisis"} == set(CATEGORIES)
    tuning_texts = {text.casefold() for _, _, text in TUNING}
    overlap = sum(text.casefold() in tuning_texts for _, _, text in held)
    assert overlap == 0, f"{overlap} held-out messages are also in es_tuning.tsv"


def test_tuning_set_recall_and_false_positive_rate(es: CrisisDetector, en: CrisisDetector) -> None:
    totals, found, misses, false_alarms = _rates(TUNING, es, en)
    recall, fpr = _summary("es_tuning (es + en)", TUNING, totals, found, len(false_alarms))
    assert recall >= MIN_RECALL, f"recall {recall:.3f} < {MIN_RECALL}; missed:\n" + "\n".join(
        misses
    )
    assert fpr <= MAX_FPR, f"false-positive rate {fpr:.3f} > {MAX_FPR}:\n" + "\n".join(false_alarms)


def test_heldout_set_recall_and_false_positive_rate(es: CrisisDetector, en: CrisisDetector) -> None:
    # Counts and rates only: the held-out messages are never printed, not even on failure.
    rows = read_labelled(DATA / "es_heldout.tsv")
    totals, found, misses, false_alarms = _rates(rows, es, en)
    recall, fpr = _summary("es_heldout (es + en)", rows, totals, found, len(false_alarms))
    assert recall >= HELDOUT_MIN_RECALL, (
        f"held-out recall {recall:.3f} < {HELDOUT_MIN_RECALL} ({len(misses)} missed)"
    )
    assert fpr <= HELDOUT_MAX_FPR, (
        f"held-out false-positive rate {fpr:.3f} > {HELDOUT_MAX_FPR}"
        f" ({len(false_alarms)} false alarms)"
    )


# --- Meaning families (written for the phrase lists, seen) -------------------------------------


def _families() -> list[tuple[str, str]]:
    lines = (DATA / "es_families.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "label\ttext"
    rows = [tuple(line.split("\t")) for line in lines[1:]]
    assert all(label in ("crisis", "ok") and text.strip() for label, text in rows)
    return rows  # type: ignore[return-value]


def test_crisis_families_are_caught(es: CrisisDetector, en: CrisisDetector) -> None:
    missed = [text for label, text in _families() if label == "crisis" and not gate(es, en, text)]
    assert not missed, "missed:\n" + "\n".join(missed)


def test_ordinary_messages_are_not_flagged_by_the_spanish_list(es: CrisisDetector) -> None:
    # The Spanish list alone: a few Spanish medical words are also English ones ("convulsión",
    # "delirium tremens"), and the English list flags them even in a general question. That is
    # the English file's behaviour, left as it is (see docs/SAFETY.md).
    flagged = [
        f"[{m.category}: {m.phrase[:60]}] {text}"
        for label, text in _families()
        if label == "ok" and (m := es.check(text)) is not None
    ]
    assert not flagged, "flagged:\n" + "\n".join(flagged)


# --- Mixed Spanish and English, and the normalisation ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "mi bro took too many pastillas y no despierta",
        "no sé qué hacer, he's not breathing",
        "my mom se tomó todas las pills y no responde",
        "i want to die, ya no puedo más",
        "mi hermano is overdosing, ayuda",
        "he won't wake up, ayúdenme",
        "she's turning blue, qué hago",
        "my dad le está pegando a mi mom ahorita",
        "i relapsed on self harm, me corté anoche",
        "quiero kill myself",
        "estoy cutting myself otra vez",
        "mi novio dejó de tomar and now he's seeing things",
    ],
)
def test_mixed_spanish_and_english_crisis_messages(
    es: CrisisDetector, en: CrisisDetector, text: str
) -> None:
    assert gate(es, en, text) is not None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("ME QUIERO MORIR", "suicide"),
        ("me kiero morir", "suicide"),  # spelling
        ("quierooo morirmeee", "suicide"),  # repeated letters
        ("tomé demasiadas pastillas", "overdose"),
        ("tome demasiadas pastillas", "overdose"),  # tilde optional
        ("mi niño se comió mis pastillas", "overdose"),
        ("mi nino se comio mis pastillas", "overdose"),  # no ñ on the keyboard
        ("xq sigo vivo", "suicide"),
        ("me volví a cortar", "self_harm"),
        ("llevo 3 días sin beber y veo bichos", "withdrawal"),
        ("mi esposo me está pegando", "harm_others"),
    ],
)
def test_detects_with_spanish_normalisation(es: CrisisDetector, text: str, category: str) -> None:
    match = es.check(text)
    assert match is not None and match.category == category, match


@pytest.mark.parametrize(
    "text",
    [
        "me muero de risa jajaja",
        "este antojo me está matando",
        "mi mamá me va a matar cuando vea las notas",
        "hice una sobredosis de series este finde",
        "mi novio murió de sobredosis el año pasado",
        "hace 10 años intenté quitarme la vida, hoy celebro estar viva",
        "nunca me haría daño",
        "no estoy pensando en suicidarme, solo me siento sola",
        "llevo un año sin cortarme",
        "me da miedo que mi hijo tenga una sobredosis algún día",
        "cómo hablar con alguien que tiene pensamientos suicidas",
        "me corté el pelo",
        "se cortó la llamada",
        "voy a matar el tiempo leyendo",
        "el año pasado me desperté con resaca",  # "año" is not "ano"
    ],
)
def test_does_not_flag(es: CrisisDetector, text: str) -> None:
    assert es.check(text) is None, es.check(text)


def test_check_finds_what_trying_every_phrase_everywhere_finds(es: CrisisDetector) -> None:
    # The phrase index must never lose a match, with Spanish accents and the loose ñ too.
    texts = [text for _, _, text in TUNING] + [text for _, text in _families()]
    texts += [f"{a}. {b}" for a, b in zip(texts[::7], texts[3::7], strict=False)]
    different = []
    for text in texts:
        match = es.check(text)
        got = (match.category, match.phrase) if match else None
        if got != _reference_check(es, text):
            different.append(text)
    assert not different, different[:10]


@pytest.mark.parametrize(
    "filler", ["a" * 100_000, "mi " * 33_334, "ya no se " * 11_112, "me tome " * 12_500]
)
def test_huge_spanish_input_is_bounded(es: CrisisDetector, filler: str) -> None:
    import time

    text = filler[:100_000]
    start = time.perf_counter()
    es.check(text)
    assert time.perf_counter() - start < 0.5
    start = time.perf_counter()
    match = es.check("quiero morirme. " + text)
    assert match is not None and match.category == "suicide"
    assert time.perf_counter() - start < 0.5
