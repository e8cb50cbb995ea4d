"""Crisis-language detection: accuracy on the labelled set, behaviour, bounds and the loader.

The labelled messages live in ``tests/crisis_data/``. ``tuning.tsv`` is what the phrase lists
were tuned on (it now also holds the blind sets once called ``fresh.tsv`` and
``final_blind.tsv``, and hard negatives and new phrasings written to exercise the meaning
families rather than single sentences). ``heldout.tsv`` was written before the lists; it has
been seen since, so it is no longer a held-out measurement. The blind measurement is
``blind_round3.tsv``, written by someone else: these tests never read it. Run with ``-s`` to
see the per-category recall; ``python benchmarks/crisis.py`` prints the full report.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.crisis import (
    CATEGORIES,
    HEAD_CHARS,
    TAIL_CHARS,
    CrisisDetector,
    CrisisMatch,
    basic_normalise,
    load_detectors,
)

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content"
EN_FILE = CONTENT / "en" / "crisis.yaml"
DATA = Path(__file__).resolve().parent / "crisis_data"

MIN_RECALL = 0.97
MAX_FPR = 0.05

Row = tuple[str, str, str]  # label, category, text


def read_labelled(path: Path) -> list[Row]:
    """Rows of a labelled TSV file (header ``label<TAB>category<TAB>text``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "label\tcategory\ttext", f"{path}: bad header"
    rows: list[Row] = []
    for number, line in enumerate(lines[1:], start=2):
        label, category, text = line.split("\t")
        assert label in ("crisis", "ok"), f"{path}:{number}: label {label!r}"
        if label == "crisis":
            assert category in CATEGORIES, f"{path}:{number}: category {category!r}"
        else:
            assert category == "-", f"{path}:{number}: ok rows have category '-'"
        assert text.strip(), f"{path}:{number}: empty text"
        rows.append((label, category, text))
    return rows


TUNING = read_labelled(DATA / "tuning.tsv")
HELDOUT = read_labelled(DATA / "heldout.tsv")
ALL = TUNING + HELDOUT


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector.from_file(EN_FILE)


# --- The labelled set -----------------------------------------------------------------------


def test_labelled_set_is_big_enough_and_split() -> None:
    total = Counter(label for label, _, _ in ALL)
    held = Counter(label for label, _, _ in HELDOUT)
    assert total["crisis"] >= 300 and total["ok"] >= 300, total
    # heldout.tsv stays as written (no rows moved in or out), but it has been seen: its share
    # of the set is no longer checked. The blind measurement is blind_round3.tsv.
    assert held["crisis"] >= 100 and held["ok"] >= 100, held
    per_category = Counter(category for label, category, _ in ALL if label == "crisis")
    assert all(per_category[c] >= 20 for c in CATEGORIES), per_category
    texts = [text.casefold() for _, _, text in ALL]
    tuning_texts = {text.casefold() for _, _, text in TUNING}
    assert not [t for _, _, t in HELDOUT if t.casefold() in tuning_texts], "heldout overlaps"
    assert len(texts) - len(set(texts)) <= 1  # "I WANT TO DIE" is a deliberate case test


def test_recall_and_false_positive_rate_over_the_whole_set(detector: CrisisDetector) -> None:
    misses: list[str] = []
    false_alarms: list[str] = []
    found: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for label, category, text in ALL:
        match = detector.check(text)
        if label == "crisis":
            totals[category] += 1
            if match is None:
                misses.append(f"  [{category}] {text}")
            else:
                found[category] += 1
        elif match is not None:
            false_alarms.append(f"  [{match.category}: {match.phrase}] {text}")
    crisis_total = sum(totals.values())
    ok_total = len(ALL) - crisis_total
    recall = sum(found.values()) / crisis_total
    fpr = len(false_alarms) / ok_total
    print(f"\nrecall {recall:.3f} ({crisis_total} crisis), false positives {fpr:.3f} ({ok_total})")
    for category in CATEGORIES:
        print(
            f"  {category:<12} recall {found[category] / totals[category]:.3f}"
            f" ({found[category]}/{totals[category]})"
        )
    assert recall >= MIN_RECALL, f"recall {recall:.3f} < {MIN_RECALL}; missed:\n" + "\n".join(
        misses
    )
    assert fpr <= MAX_FPR, f"false-positive rate {fpr:.3f} > {MAX_FPR}:\n" + "\n".join(false_alarms)


# --- Behaviour --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # case, apostrophes (straight, curly, missing), punctuation
        ("I WANT TO DIE", "suicide"),
        ("i don’t want to live anymore", "suicide"),
        ("i dont want to live anymore", "suicide"),
        ("I'm going to kill myself.", "suicide"),
        ("im going to kill myself", "suicide"),
        ("He won’t wake up!!!", "overdose"),
        ("he wont wake up", "overdose"),
        ("she's turning blue", "overdose"),
        # repeated letters and common misspellings
        ("i want to diiiie", "suicide"),
        ("pleeease i just wanna dieeee", "suicide"),
        ("suicidel thoughts again", "suicide"),
        ("been thinking about sucide", "suicide"),
        ("my dad is having a siezure", "withdrawal"),
        ("i took to much", "overdose"),
        ("over dosed", "overdose"),
        # slang
        ("kms", "suicide"),
        ("honestly might kms lol", "suicide"),
        ("i should just kys", "suicide"),
        ("thinking of unaliving myself", "suicide"),
        ("he OD'd", "overdose"),
        ("she ODd in the bathroom", "overdose"),
        ("i think im od'ing", "overdose"),
        ("wanna die tbh", "suicide"),
        ("i cant go on", "suicide"),
        ("i want to end it all", "suicide"),
        ("having the dts", "withdrawal"),
        ("sh urges again", "self_harm"),
        # third person and oblique
        ("my son took too many pills and wont wake up", "overdose"),
        ("i dont see the point anymore", "suicide"),
        ("everyone would be better off without me", "suicide"),
        ("he's threatening to kill me", "harm_others"),
        ("I'm going to hurt him", "harm_others"),
        ("my daughter is cutting herself", "self_harm"),
        # multi-sentence: a crisis sentence after harmless ones
        ("hi. i went to a meeting today. i took too many pills tonight", "overdose"),
        # contractions with an apostrophe are spelled out; "hell" without one stays a word
        ("i'm scared he'll kill me", "harm_others"),
        ("im scared hell kill me", "harm_others"),
        ("my uncle says hell kill her", "harm_others"),
        ("life's not worth it anymore", "suicide"),
        ("lifes not worth it anymore", "suicide"),
        ("we're not safe here", "harm_others"),
        ("she'd stab me if i left", "harm_others"),
        ("my brother's turning grey", "overdose"),
        ("my brothers turning grey", "overdose"),
        # meaning families, not single sentences
        ("she wants to die", "suicide"),
        ("i just want it all to stop", "suicide"),
        ("got the rope ready", "suicide"),
        ("tonight is my last night", "suicide"),
        ("gave away all my stuff, wont need it where im going", "suicide"),
        ("how many of my pills would it take to not wake up", "suicide"),
        ("took 40 xanax", "overdose"),
        ("mixed alcohol and benzos and keep passing out", "overdose"),
        ("hes cold and clammy and his breathing is really slow", "overdose"),
        ("my kid ate one of my edibles", "overdose"),
        ("found him with a needle still in his arm", "overdose"),
        ("overdosing rn", "overdose"),
        ("vomiting blood since i stopped drinking", "withdrawal"),
        ("slice my wrists", "self_harm"),
        ("my dads drunk and driving with my little sister in the car", "harm_others"),
        ("i feel like hurting my baby", "harm_others"),
        # a "lol" cancels a threat the writer makes against an adult, nothing else
        ("my boyfriend hit me again lol", "harm_others"),
        ("he hits my mum sometimes", "harm_others"),
        ("i want to hurt my baby lol", "harm_others"),
        # cues split over short sentences meet across the breaks ("~" in a phrase)
        ("im done. with everything. goodbye", "suicide"),
        ("sorry for everything. tell mum i loved her", "suicide"),
        ("he said goodbye and drove off and now his phone is off", "suicide"),
        ("ive had enough. of everything. of life.", "suicide"),
        # oblique goodbyes and the means made ready, without "die" or "kill"
        ("he texted me 'look after the kids for me'", "suicide"),
        ("sitting in the garage with the engine running", "suicide"),
        ("knife's ready. just came on here to say bye", "suicide"),
        ("sh'd again just now, the cuts look really bad", "self_harm"),
        ("toddler might have swallowed a button battery from the remote", "overdose"),
        ("detoxing alone and my chest hurts so bad and im getting confused", "withdrawal"),
        ("dealer says hes coming round tonight to sort me out cause i owe him", "harm_others"),
    ],
)
def test_detects(detector: CrisisDetector, text: str, category: str) -> None:
    match = detector.check(text)
    assert match is not None, text
    assert match.category == category, (text, match)


@pytest.mark.parametrize(
    "text",
    [
        "this craving is killing me",
        "I'm dying to see my kids",
        "overdose awareness day",
        "my friend died of an overdose last year",
        "what is naltrexone for",
        "I killed it at work today",
        "i could kill for a coffee",
        "my dad died of an overdose in 2019",
        "how do i recognise an overdose",
        "seizure meds question",
        "my mom is gonna kill me when she finds out i relapsed",
        "my son won't wake up for school",
        "i cut back on drinking",
        "i took too much time off work",
        "feeling blue today",
        "i would never hurt myself",
        "i'm not suicidal, just tired",
        "i relapsed last night and feel awful",
        "kys",
        "i'm so proud of myself",
        "what does DTs mean",
        "i want to end it with my boyfriend",
        "",
        "   ",
        "!!!",
        # more hard negatives (tuning material kept here so the TSV split stays ~30% heldout)
        "i hate myself when i drink",
        "i found my son's stash in his room",
        "i'll love her until i die",
        "this hangover is killing me",
        "my dad is dead to me",
        "i'm not going to hurt myself",
        "i cut my drinking in half",
        "i hit rock bottom last year",
        "i'm going to hit the gym",
        "the detox nurse said my heart rate was fine",
        "how many drinks is too many",
        "i'm so scared my son will overdose one day",
        "my friend almost overdosed last year",
        "he was in the hospital after an overdose last month",
        "i'm scared of seizures when i quit drinking",
        "my doctor said i might have seizures if i stop benzos suddenly",
        "i'm shaking with anger",
        "i was hallucinating on acid years ago",
        "kys loser",
        "this bot is useless kys",
        "he killed himself in 2015 and i think about him every day",
        "my ex used to hit me",
        "im going to murder this pizza",
        "my mom is going to kill me lol",
        "my mum collapsed in laughter",
        "he beat me at chess",
        "i want to die my hair blue",
        "thats odd",
        "it's odd that i still miss it",
        "my son is odd lately",
        # "hell" is a word; non-drug "overdosing"; training questions; stated safety
        "what the hell, my sponsor moved the meeting",
        "hell yeah 6 months sober",
        "this week has been a living hell but i didnt drink",
        "im overdosing on netflix this week haha",
        "what should you do if someone has a seizure, asking for a first aid course",
        "no thoughts of hurting myself, i just want someone to talk to",
        "no urges to cut today",
        "my old self harm habits are on my mind but im safe",
        "i heard voices in the hallway, my neighbours are loud",
        "my hair is going grey",
        "tonight is my last night in rehab",
        "going to join my sponsor for coffee tonight",
        "day 5 off opioids, runny nose",
        "is it dangerous to mix alcohol and xanax?",
        "i took 2 paracetamol for my headache",
        # idioms around bare warning signs, general questions, time free of self-harm
        "laughing so hard i cant breathe",
        "i collapsed into bed at 9pm lol",
        "my boss is gonna kill me, late again",
        "what are the signs of an alcohol withdrawal seizure",
        "how do i talk to a friend who self harms",
        "what number do i ring in australia if someone ods",
        "2 years free from self harm today",
        "no i dont want to die, i want to get better",
        "im done with this bot. bye",
    ],
)
def test_does_not_flag(detector: CrisisDetector, text: str) -> None:
    assert detector.check(text) is None, detector.check(text)


def test_sentence_breaks_stop_phrases(detector: CrisisDetector) -> None:
    # "i can not" / "go on a trip" are in different sentences: no phrase spans a full stop.
    assert detector.check("i cant. go on the trip tomorrow, looking forward to it") is None


def test_a_span_gap_reaches_across_sentence_breaks(tmp_path: Path) -> None:
    text = VALID.replace('"want to die"', '"want to die", "done ~ goodbye", "i am .. gone"')
    detector = CrisisDetector.from_file(_write(tmp_path, text))
    assert detector.check("im done. with everything. goodbye") is not None
    assert detector.check("done " + "x " * 8 + "goodbye") is not None
    assert detector.check("done " + "x " * 9 + "goodbye") is None  # at most 8 words and breaks
    assert detector.check("i am all gone") is not None
    assert detector.check("i am. gone") is None  # ".." stays inside one sentence


def test_phrases_may_start_with_any_item(tmp_path: Path) -> None:
    # The detector tries a phrase only where its first word can be: check every kind of start.
    phrases = [
        '"^ help $"',
        '"[really|so] sad today"',
        '"overdos* now"',
        '"# pills gone"',
        '"{person} collapsed"',
        '"(blue|grey) lips"',
        '"* is fitting"',
        '"[^] kms"',
        '"im scared"',
    ]
    text = VALID.replace('"cut myself"', ", ".join(['"cut myself"', *phrases]))
    detector = CrisisDetector.from_file(_write(tmp_path, text))
    for message in [
        "help!",
        "so sad today",
        "sad today",
        "he overdosed now",
        "40 pills gone",
        "my daughter collapsed",
        "she collapsed",
        "grey lips",
        "my mate is fitting",
        "ok. kms",
        "i'm scared",
    ]:
        match = detector.check(message)
        assert match is not None and match.category == "self_harm", message
    assert detector.check("please help me with my homework") is None  # "^ help $" is anchored


def _reference_check(detector: CrisisDetector, text: str) -> tuple[str, str] | None:
    """What check() must return, worked out the slow way: every phrase searched everywhere.

    The first category (file order) with a phrase match no exclude overlaps; in it, the leftmost
    such match, and of phrases matching at the same place the first in the file.
    """
    assert len(text) <= HEAD_CHARS + TAIL_CHARS
    norm = detector.normalise(text)
    for category in detector._categories:
        excluded = [m.span() for ex in category.excludes for m in ex.finditer(norm)]
        best: tuple[int, int, str] | None = None
        for index, rule in enumerate(category.phrases):
            match = rule.regex.search(norm)
            while match is not None:
                start, end = match.span()
                if not any(s < end and start < e for s, e in excluded):
                    if best is None or (start, index) < best[:2]:
                        best = (start, index, rule.source)
                    break
                match = rule.regex.search(norm, start + 1)
        if best is not None:
            return category.name, best[2]
    return None


def test_check_finds_what_trying_every_phrase_everywhere_finds(detector: CrisisDetector) -> None:
    # check() reads the message word by word and tries only the phrases that can start at each
    # word (an index built from the phrase syntax); this must never lose a match.
    texts = [text for _, _, text in ALL]
    texts += [f"{a}. {b}" for a, b in zip(texts[::7], texts[3::7], strict=False)]
    texts += [f"{a} {b}" for a, b in zip(texts[1::11], texts[5::11], strict=False)]
    different = []
    for text in texts:
        match = detector.check(text)
        got = (match.category, match.phrase) if match else None
        if got != _reference_check(detector, text):
            different.append(text)
    assert not different, different[:10]


def test_exclude_only_cancels_the_match_it_overlaps(detector: CrisisDetector) -> None:
    grief = "my brother overdosed years ago."
    assert detector.check(grief) is None
    match = detector.check(grief + " now my son overdosed and he wont wake up")
    assert match is not None and match.category == "overdose"


def test_normalisation() -> None:
    # case, curly apostrophe dropped, doubled letters collapsed, "!!!" is one sentence break
    assert basic_normalise("I’M   SOOO DONE!!! Really…") == " im so done . realy "
    assert basic_normalise("self-harm") == " self harm "
    assert basic_normalise("") == " "
    assert basic_normalise("O.D.") == " od "
    # a contraction typed with its apostrophe is spelled out; without one, a word stays a word
    assert basic_normalise("He’ll kill me") == " he wil kil me "
    assert basic_normalise("hell no") == " hel no "
    assert basic_normalise("life's hard, we're ok, she'd know") == (
        " life is hard we are ok she would know "
    )
    assert basic_normalise("let's go at 5 o'clock") == " lets go at 5 oclock "


def test_a_number_of_two_or_more_digits(tmp_path: Path) -> None:
    text = VALID.replace('"cut myself"', '"cut myself", "took ## pills"')
    detector = CrisisDetector.from_file(_write(tmp_path, text))
    assert detector.check("i took 30 pills") is not None
    assert detector.check("i took 2 pills") is None


def test_match_is_a_frozen_value(detector: CrisisDetector) -> None:
    match = detector.check("i want to die")
    assert match == CrisisMatch("suicide", match.phrase if match else "")
    with pytest.raises(AttributeError):
        match.category = "x"  # type: ignore[misc, union-attr]


# --- Bounded work on huge input ---------------------------------------------------------------


def _timed(detector: CrisisDetector, text: str) -> tuple[CrisisMatch | None, float]:
    start = time.perf_counter()
    match = detector.check(text)
    return match, time.perf_counter() - start


@pytest.mark.parametrize(
    "filler",
    [
        "a" * 100_000,
        "my " * 33_334,
        "i took " * 14_286,
        "he is not " * 10_000,
        "seizure " * 12_500,
        "overdose awareness " * 5_264,
        "x\u0301" * 50_000,  # combining marks: NFKC work
        "!?." * 33_334,
    ],
)
def test_huge_input_is_bounded(detector: CrisisDetector, filler: str) -> None:
    text = filler[:100_000]
    _, elapsed = _timed(detector, text)
    assert elapsed < 0.5, elapsed
    match, elapsed = _timed(detector, "i want to die. " + text)
    assert match is not None and match.category == "suicide"
    assert elapsed < 0.5, elapsed


def test_huge_input_reads_the_end_too(detector: CrisisDetector) -> None:
    match, elapsed = _timed(detector, "blah " * 20_000 + " he is not breathing")
    assert match is not None and match.category == "overdose"
    assert elapsed < 0.5, elapsed


def test_a_full_telegram_message_is_read_completely(detector: CrisisDetector) -> None:
    text = ("x" * (HEAD_CHARS - 30)) + " i want to die"
    assert len(text) <= HEAD_CHARS
    assert detector.check(text) is not None


# --- The content file and the loader --------------------------------------------------------

STIGMA = re.compile(r"\b(addicts?|junkies?|abusers?|clean|dirty)\b", re.IGNORECASE)


def test_english_file_has_every_category_and_a_warm_reply(detector: CrisisDetector) -> None:
    assert set(detector.categories) == set(CATEGORIES)
    assert detector.reply.strip()
    assert not re.search(r"\d", detector.reply), "no numbers or amounts in the reply"
    assert not STIGMA.search(EN_FILE.read_text(encoding="utf-8"))


def test_load_detectors_reads_each_language() -> None:
    detectors = load_detectors(CONTENT, ["en"])
    assert set(detectors) == {"en"}
    assert detectors["en"].check("i want to die") is not None


VALID = """
reply: "I'm glad you told me."
spellings:
  wont: will not
groups:
  person: [he, she, "my {relative}"]
  relative: [son, daughter]
categories:
  overdose: {phrases: ["{person} (will not|is not) wake up"], exclude: ["wake up for school"]}
  withdrawal: {phrases: ["having a seizure*"]}
  suicide: {phrases: ["want to die"]}
  self_harm: {phrases: ["cut myself"]}
  harm_others: {phrases: ["going to hurt (him|her)"]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crisis.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loader_accepts_a_minimal_valid_file(tmp_path: Path) -> None:
    detector = CrisisDetector.from_file(_write(tmp_path, VALID))
    assert detector.check("My son won't wake up") == CrisisMatch(
        "overdose", "{person} (will not|is not) wake up"
    )
    assert detector.check("my son wont wake up for school") is None
    assert detector.check("HAVING A SEIZURE!!") is not None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('self_harm: {phrases: ["cut myself"]}', "self_harm: {phrases: []}"), "self_harm"),
        (('self_harm: {phrases: ["cut myself"]}', "self_harm: {}"), "self_harm"),
        (('self_harm: {phrases: ["cut myself"]}', "self_harm:"), "self_harm"),
        (('  self_harm: {phrases: ["cut myself"]}\n', ""), "self_harm"),
        (('self_harm: {phrases: ["cut myself"]}', 'self_harm: {phrases: [""]}'), "empty"),
        (('self_harm: {phrases: ["cut myself"]}', 'self_harm: {phrase: ["x"]}'), "unknown"),
        (("suicide:", "suicidal:"), "suicid"),
        (("want to die", "(want to die"), "want to die"),
        (("want to die", "want to {nobody}"), "nobody"),
        (("want to die", ".. die"), "'..'"),
        (("want to die", "want to die ~"), "'~'"),
        (("want to die", "* *"), "needs at least one word"),
        (('reply: "I\'m glad you told me."', ""), "reply"),
        (("relative: [son, daughter]", 'relative: [son, "{person}"]'), "itself"),
        (("categories:", "categories: {}\nx:"), "unknown"),
    ],
)
def test_loader_refuses_bad_files(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    old, new = change
    assert old in VALID
    path = _write(tmp_path, VALID.replace(old, new))
    with pytest.raises(ValueError) as caught:
        CrisisDetector.from_file(path)
    assert str(caught.value).startswith(f"{path}: "), caught.value
    assert problem in str(caught.value), caught.value


@pytest.mark.parametrize("text", ["", "reply: [unclosed", "- a list\n- not a mapping\n"])
def test_loader_refuses_empty_or_invalid_yaml(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        CrisisDetector.from_file(path)


def test_loader_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "nope" / "crisis.yaml"))):
        load_detectors(tmp_path, ["nope"])
