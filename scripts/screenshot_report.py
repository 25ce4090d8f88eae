"""Screenshot the demo's HTML report with headless Chromium, for the README: `make screenshot`.

Run `make demo` first (`make screenshot` does), so demo-output/report.html is the current report. Needs Chromium
or Chrome on the PATH (Debian: `apt-get install chromium`); the bot itself never needs it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=REPO_ROOT / "demo-output" / "report.html")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "report-screenshot.png")
    parser.add_argument("--size", default="1100,1500", help="window width,height in pixels (default: 1100,1500)")
    args = parser.parse_args()
    if not args.report.is_file():
        print(f"screenshot: {args.report} is missing; run `make demo` first.", file=sys.stderr)
        return 1
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        print("screenshot: no Chromium or Chrome on the PATH; install one (Debian: apt-get install chromium).",
              file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-screenshot-") as profile:  # never touch a real browser profile
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={args.size}", f"--screenshot={args.output.resolve()}", args.report.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    if done.returncode != 0 or not args.output.is_file():
        print(f"screenshot: {Path(browser).name} failed:\n{done.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"screenshot: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
