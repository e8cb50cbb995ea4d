"""Benchmark of the intents (``content/<lang>/intents.yaml``): accuracy per intent, and cost.

For each language, prints precision and recall per intent on the tuning part
(``tests/intent_data/<lang>.tsv``) and on the held-out part (``<lang>_heldout.tsv``) apart, with
how often an ordinary message (``none``) got an intent. A message is matched as the bot does:
the person's language, then English. The held-out parts were written before any phrase list and
are never tuned on: their figures are the estimate on new messages. Last, the time per message
of the matching against a baseline in the same run (Unicode NFKC and lower-casing).

Run from the repository root::

    python benchmarks/intents.py            # add --misses to list the tuning misses
"""

from __future__ import annotations

import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import DEFAULT_CONTENT_DIR  # noqa: E402
from bot.content import Content, load_content  # noqa: E402
from bot.intents import INTENTS, IntentMatcher, find_intent  # noqa: E402

DATA = ROOT / "tests" / "intent_data"
LABELS = (*INTENTS, "none")
ROUNDS = 5

Row = tuple[str, str]


def read_labelled(path: Path) -> list[Row]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        label, text = line.split("\t")
        rows.append((label, text))
    return rows


def chain(content: Content, code: str) -> list[IntentMatcher | None]:
    lang, default = content.lang(code), content.lang(None)
    return [lang.intents] + ([default.intents] if default is not lang else [])


def report(name: str, rows: list[Row], matchers: list[IntentMatcher | None], misses: bool) -> None:
    found: Counter[tuple[str, str]] = Counter()
    wrong = []
    for label, text in rows:
        got = find_intent(text, matchers) or "none"
        found[label, got] += 1
        if got != label:
            wrong.append(f"    want {label:<14} got {got:<14} {text}")
    correct = sum(found[label, label] for label in LABELS)
    print(f"  {name}: {len(rows)} messages, {correct / len(rows):.1%} labelled right")
    print(f"    {'intent':<14} {'precision':>9} {'recall':>7}  (right/predicted, right/actual)")
    for intent in INTENTS:
        hits = found[intent, intent]
        predicted = sum(found[label, intent] for label in LABELS)
        actual = sum(found[intent, got] for got in LABELS)
        precision = hits / predicted if predicted else float("nan")
        recall = hits / actual if actual else float("nan")
        print(
            f"    {intent:<14} {precision:>9.2f} {recall:>7.2f}"
            f"  ({hits}/{predicted}, {hits}/{actual})"
        )
    ordinary = sum(found["none", got] for got in LABELS)
    led = ordinary - found["none", "none"]
    print(f"    ordinary messages given an intent: {led}/{ordinary}")
    if misses:
        print("\n".join(wrong) or "    (no misses)")


def timing(texts: list[str], matchers: list[IntentMatcher | None]) -> None:
    def run(func: object) -> float:
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for text in texts:
                func(text)  # type: ignore[operator]
            best = min(best, time.perf_counter() - start)
        return best / len(texts) * 1e6

    matching = run(lambda text: find_intent(text, matchers))
    baseline = run(lambda text: unicodedata.normalize("NFKC", text).lower())
    print(
        f"  time per message: matching {matching:.1f} us, baseline (NFKC + lower)"
        f" {baseline:.2f} us, ratio {matching / baseline:.0f}x"
    )


def main() -> None:
    misses = "--misses" in sys.argv[1:]
    content = load_content(DEFAULT_CONTENT_DIR)
    for code in content.languages:
        tuning_path, heldout_path = DATA / f"{code}.tsv", DATA / f"{code}_heldout.tsv"
        if not tuning_path.exists():
            continue
        matchers = chain(content, code)
        print(f"\n{code} (matched with {code}{' then en' if len(matchers) > 1 else ''})")
        tuning = read_labelled(tuning_path)
        report("tuning", tuning, matchers, misses)
        heldout = read_labelled(heldout_path) if heldout_path.exists() else []
        if heldout:
            report("held-out", heldout, matchers, False)  # never list them: not for tuning
        timing([text for _, text in tuning + heldout], matchers)


if __name__ == "__main__":
    main()
