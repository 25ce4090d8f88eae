"""How long finding and defanging indicators takes on the ack path (a note is saved, and its
confirmation shown, before the 3-second ack), next to ioc-finder's full parse of the same text.

Run: `make benchmark` or `.venv/bin/python benchmarks/indicator_extraction.py`. Prints figures and
asserts nothing (timings on shared machines are noisy).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc_finder import find_iocs  # noqa: E402

from bot import safe_text  # noqa: E402
from bot.indicators import extraction as indicators

NOTE = ("14:02 proxy log: GET hxxp://3405803781/gate.php?id=7&k=9 from 10.0.3.7, then http://[2001:db8::66]/x "
        "and https://cdn.evil-login.com/a?id=7&k=9; phish from hr[at]evil-login[.]com & more & more ")
SIZES = (("a 3,000-character note", 3000), ("a 40,000-character paste", 40_000))
REPEATS = 5


def best_of(function, text: str) -> float:  # type: ignore[no-untyped-def]
    timings = []
    for _ in range(REPEATS):
        indicators._read.cache_clear()  # cold: every indicator read afresh
        started = time.perf_counter()
        function(text)
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


def main() -> None:
    for label, size in SIZES:
        text = (NOTE * (size // len(NOTE) + 1))[:size]
        print(f"{label}: extract {best_of(indicators.extract, text):7.1f} ms, "
              f"mrkdwn (defang, escape, fit) {best_of(safe_text.mrkdwn, text):7.1f} ms")
    text = (NOTE * (3000 // len(NOTE) + 1))[:3000]
    started = time.perf_counter()
    find_iocs(text)
    print(f"for comparison, ioc-finder's find_iocs on the 3,000-character note: {(time.perf_counter() - started) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
