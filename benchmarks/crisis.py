"""Benchmark of the crisis-language detector: accuracy on the labelled set, and its cost.

Prints, separately for ``tuning``, ``heldout`` and ``all`` (tests/crisis_data/*.tsv):
the confusion matrix (true category or ``ok`` by detected category or ``none``), recall and
false-positive rate per category. Then the time per message of ``CrisisDetector.check`` over
the whole set against a baseline measured in the same run: Unicode NFKC normalisation plus
lower-casing, work any handler does to a message anyway (almost free for ASCII text, so the
detector's own normalisation step is printed as a second reference).

Last, the time to handle an ordinary message through the whole bot (fake Bot API, in process)
with the crisis gate against the same bot without it. ``blind_round4.tsv`` was written blind,
without seeing the detector or its data, and is never used for tuning: its figures are the
honest estimate of how the detector does on new messages.

Spanish (``--lang es``): ``es_tuning.tsv`` through the gate as ``handlers/crisis.py`` runs it,
the Spanish detector first and then the English one (people mix languages), with the same
report and timings against the Spanish detector alone and the English one alone.
``es_heldout.tsv`` is read only with ``--heldout``: it is measured once before a round of
tuning and once after it, never in between, and only its counts and rates are printed.
``--errors`` lists the misses and false alarms of the TUNING sets only (never of a held-out or
blind set), with the phrase that fired. ``--no-app`` skips the whole-bot timing.
``blind_v2_*.tsv`` are never read here.

Run from the repository root::

    python benchmarks/crisis.py
    python benchmarks/crisis.py --lang es [--errors] [--no-app]
    python benchmarks/crisis.py --lang es --heldout --no-app   # twice per round, no more
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.crisis import CATEGORIES, CrisisDetector, CrisisMatch  # noqa: E402

DATA = ROOT / "tests" / "crisis_data"
CONTENT_FILE = ROOT / "content" / "en" / "crisis.yaml"
ES_CONTENT_FILE = ROOT / "content" / "es" / "crisis.yaml"
ROUNDS = 7
NONE = "none"

Row = tuple[str, str, str]  # label, category ("-" for ok), text


class Gate:
    """Several detectors in a row, as the crisis gate runs them: the first match wins."""

    def __init__(self, *detectors: CrisisDetector) -> None:
        self.detectors = detectors

    def check(self, text: str) -> CrisisMatch | None:
        for detector in self.detectors:
            match = detector.check(text)
            if match is not None:
                return match
        return None

    def normalise(self, text: str) -> str:
        return self.detectors[0].normalise(text)


def read_labelled(path: Path) -> list[Row]:
    rows: list[Row] = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        label, category, text = line.split("\t")
        rows.append((label, category if label == "crisis" else "ok", text))
    return rows


def report(name: str, rows: list[Row], detector: CrisisDetector | Gate) -> None:
    """Print the confusion matrix and per-category recall / false-positive rate."""
    truth_classes = [*CATEGORIES, "ok"]
    predicted_classes = [*CATEGORIES, NONE]
    matrix: Counter[tuple[str, str]] = Counter()
    for _, truth, text in rows:
        match = detector.check(text)
        matrix[truth, match.category if match else NONE] += 1

    ok_total = sum(matrix["ok", p] for p in predicted_classes)
    crisis_total = len(rows) - ok_total
    print(f"\n=== {name}: {len(rows)} messages ({crisis_total} crisis, {ok_total} ok) ===")
    width = max(len(c) for c in truth_classes + predicted_classes) + 1
    print("true \\ detected".ljust(width + 4) + "".join(p.rjust(width) for p in predicted_classes))
    for truth in truth_classes:
        cells = "".join(str(matrix[truth, p]).rjust(width) for p in predicted_classes)
        print(f"{truth:<{width + 4}}{cells}")

    print(f"\n{'category':<{width}} {'n':>4} {'recall':>7} {'same cat':>9} {'FPR':>7}")
    for category in CATEGORIES:
        n = sum(matrix[category, p] for p in predicted_classes)
        detected = n - matrix[category, NONE]
        same = matrix[category, category]
        fpr = matrix["ok", category] / ok_total if ok_total else 0.0
        recall = detected / n if n else float("nan")
        print(f"{category:<{width}} {n:>4} {recall:>7.3f} {same / n if n else 0:>9.3f} {fpr:>7.3f}")
    detected_all = crisis_total - sum(matrix[c, NONE] for c in CATEGORIES)
    false_alarms = ok_total - matrix["ok", NONE]
    print(
        f"{'ALL':<{width}} {crisis_total:>4} {detected_all / crisis_total:>7.3f} "
        f"{'':>9} {false_alarms / ok_total:>7.3f}"
        f"   ({crisis_total - detected_all} missed, {false_alarms} false alarms)"
    )


def per_message_times(texts: list[str], func: Callable[[str], object]) -> list[float]:
    """Best-of-ROUNDS time of ``func`` for each text, in seconds."""
    best = [float("inf")] * len(texts)
    for _ in range(ROUNDS):
        for i, text in enumerate(texts):
            start = time.perf_counter()
            func(text)
            elapsed = time.perf_counter() - start
            if elapsed < best[i]:
                best[i] = elapsed
    return best


def total_time(texts: list[str], func: Callable[[str], object]) -> float:
    """Best-of-ROUNDS time of one pass of ``func`` over all texts, in seconds."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for text in texts:
            func(text)
        best = min(best, time.perf_counter() - start)
    return best


def baseline(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def errors(name: str, rows: list[Row], detector: CrisisDetector | Gate) -> None:
    """List the misses and false alarms of a tuning set (texts: never for held-out sets)."""
    if not name.endswith("tuning"):
        raise SystemExit(f"--errors lists tuning sets only, not {name!r}")
    print(f"\n=== {name}: misses ===")
    for label, truth, text in rows:
        if label == "crisis" and detector.check(text) is None:
            print(f"  [{truth}] {text}")
    print(f"\n=== {name}: false alarms ===")
    for label, _, text in rows:
        match = detector.check(text) if label == "ok" else None
        if match is not None:
            print(f"  [{match.category}: {match.phrase}] {text}")


HUGE_EN = {
    "crisis phrase then 'a' x 100k": "i want to die. " + "a" * 100_000,
    "'my ' repeated (group-heavy)": "my " * 33_334,
    "'he is not ' repeated": "he is not " * 10_000,
    "crisis phrase at the very end": "blah " * 20_000 + " he is not breathing",
}
HUGE_ES = {
    "crisis phrase then 'a' x 100k": "quiero morirme. " + "a" * 100_000,
    "'mi ' repeated (group-heavy)": "mi " * 33_334,
    "'ya no se ' repeated": "ya no se " * 11_112,
    "crisis phrase at the very end": "bla " * 25_000 + " mi hermano no respira",
}


def timing(rows: list[Row], detector: CrisisDetector | Gate, *, spanish: bool = False) -> None:
    texts = [text for _, _, text in rows]
    for text in texts:  # warm up caches
        detector.check(text)
        baseline(text)
    n = len(texts)
    t_base = total_time(texts, baseline) / n
    t_norm = total_time(texts, detector.normalise) / n
    t_check = total_time(texts, detector.check) / n
    per_message = per_message_times(texts, detector.check)
    median = statistics.median(per_message)
    p99 = sorted(per_message)[int(0.99 * (n - 1))]
    print(f"\n=== time per message, {n} messages, best of {ROUNDS} passes ===")
    print(f"baseline (NFKC + lower):          {t_base * 1e6:8.2f} us")
    print(f"detector normalisation only:      {t_norm * 1e6:8.2f} us  (part of check)")
    print(f"check():                          {t_check * 1e6:8.2f} us")
    print(f"ratio check / baseline:           {t_check / t_base:8.1f} x")
    print(f"ratio check / normalisation:      {t_check / t_norm:8.1f} x")
    print(
        f"check() per message: median {median * 1e6:.1f} us, p99 {p99 * 1e6:.1f} us, "
        f"max {max(per_message) * 1e6:.1f} us"
    )

    print("\n=== 100,000-character inputs (one call each, best of 3) ===")
    huge = HUGE_ES if spanish else HUGE_EN
    for label, text in huge.items():
        best = float("inf")
        match = None
        for _ in range(3):
            start = time.perf_counter()
            match = detector.check(text)
            best = min(best, time.perf_counter() - start)
        found = match.category if match else NONE
        print(f"{label:<34} {best * 1e3:7.2f} ms  -> {found}")


async def handling_times(texts: list[str], *, gate: bool, language: str = "en") -> list[float]:
    """Seconds to handle each free-text message through the whole bot (fake Bot API), with or
    without the crisis gate in front of the other handlers."""
    import tempfile

    from telegram import Update

    from bot.app import build_application
    from bot.config import Settings
    from tests.fake import TEST_TOKEN, FakeRequest, FakeTelegram, SimUser, run_app

    api = FakeTelegram(TEST_TOKEN)
    api.fail_on_handler_errors = False
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(bot_token=TEST_TOKEN, database_path=Path(tmp) / "b.sqlite3")
        app = build_application(
            settings, request=FakeRequest(api), get_updates_request=FakeRequest(api)
        )
        if not gate:
            app.handlers.pop(-1)  # group -1 holds only the crisis gate
        async with run_app(app, api):
            user = SimUser(app, api, 5000, language_code=language)
            await user.send("warm up")
            times = []
            for text in texts:
                msg = api.user_message(user.user, user.chat_id, text=text, entities=[])
                update = Update.de_json(
                    {"update_id": api.next_update_id(), "message": msg.raw}, app.bot
                )
                start = time.perf_counter()
                await app.process_update(update)
                times.append(time.perf_counter() - start)
    return times


def app_timing(rows: list[Row], language: str = "en") -> None:
    """Handling time per message through the bot with the gate against without it."""
    import asyncio

    texts = [text for label, _, text in rows if label == "ok"] * 2
    without = asyncio.run(handling_times(texts, gate=False, language=language))
    with_gate = asyncio.run(handling_times(texts, gate=True, language=language))
    base, gated = statistics.median(without), statistics.median(with_gate)
    print(f"\n=== handling one ordinary message through the bot, {len(texts)} messages ===")
    print(f"without the crisis gate (baseline):  median {base * 1e3:6.2f} ms")
    print(f"with the crisis gate:                median {gated * 1e3:6.2f} ms")
    print(f"ratio with / without:                {gated / base:6.2f} x")


def spanish(args: argparse.Namespace) -> None:
    """The Spanish sets through the gate (Spanish, then English), and its cost."""
    es = CrisisDetector.from_file(ES_CONTENT_FILE)
    en = CrisisDetector.from_file(CONTENT_FILE)
    gate = Gate(es, en)
    names = ["es_tuning"] + (["es_heldout"] if args.heldout else [])
    sets = {name: read_labelled(DATA / f"{name}.tsv") for name in names}
    for name, rows in sets.items():
        report(f"{name} (gate: es + en)", rows, gate)
        if args.errors and name.endswith("tuning"):
            errors(name, rows, gate)
    if args.heldout:
        return  # counts and rates only; timings come from the tuning set
    rows = sets["es_tuning"]
    print("\n--- the Spanish detector alone ---")
    report("es_tuning (es alone)", rows, es)
    for label, detector in (("gate: es + en", gate), ("es alone", es), ("en alone", en)):
        print(f"\n--- timing, {label}, on es_tuning ---")
        timing(rows, detector, spanish=True)
    if not args.no_app:
        app_timing(rows, language="es")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("en", "es"), default="en")
    parser.add_argument("--heldout", action="store_true", help="also es_heldout (rates only)")
    parser.add_argument("--errors", action="store_true", help="list tuning-set errors")
    parser.add_argument("--no-app", action="store_true", help="skip the whole-bot timing")
    args = parser.parse_args()
    if args.lang == "es":
        spanish(args)
        return
    detector = CrisisDetector.from_file(CONTENT_FILE)
    sets = {
        name: read_labelled(DATA / f"{name}.tsv")
        for name in ("tuning", "heldout", "fresh", "final_blind", "blind_round4")
        if (DATA / f"{name}.tsv").exists()
    }
    for name, rows in sets.items():
        report(name, rows, detector)
    everything = [row for rows in sets.values() for row in rows]
    report("all", everything, detector)
    if args.errors:
        errors("tuning", sets["tuning"], detector)
    timing(everything, detector)
    if not args.no_app:
        app_timing(everything)


if __name__ == "__main__":
    main()
