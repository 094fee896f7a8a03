"""The README's picture of the report: a real run on synthetic audio, shot in headless Chromium.

Writes a reference and two degraded candidate folders of synthetic chords
(``jaxmetrics.audio.synthetic_audio``: detuning, low-pass, clipping, noise at
levels 0.25 and 1), runs

    jaxmetrics evaluate ref cand_a cand_b --embedder logmel --metrics fad,kd,prdc \
        --ci 0.95 --inf --per-file per_file.csv --report report.html --json results.json

in a temporary folder, opens ``report.html`` in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, through selenium) and writes the top
of the page as ``docs/report.png``, atomically.

``--from-fixture`` is for working on the report's look only: it skips
``evaluate`` and renders the test fixture (``tests/report/fixtures.py``) with
``jaxmetrics report``; its picture goes to ``tests/artifacts/`` and never to
``docs/``, since its numbers are made up.

    python benchmarks/report_screenshot.py                  # docs/report.png
    python benchmarks/report_screenshot.py --from-fixture   # tests/artifacts/report-fixture.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from jaxmetrics.audio.atomic import write_atomic
from jaxmetrics.audio.synthetic_audio import degraded_audio_sets

ROOT = Path(__file__).resolve().parents[1]
DRIVER = "/usr/bin/chromedriver"
BROWSER = "/usr/bin/chromium"
SR = 16_000
LEVELS = {"cand_a": 0.25, "cand_b": 1.0}


def write_audio(folder: Path, clips: int, seconds: float, seed: int) -> None:
    """``ref/``, ``cand_a/`` and ``cand_b/`` of 16-bit WAV files under ``folder``."""
    reference, candidates = degraded_audio_sets(
        clips=clips, seconds=seconds, sr=SR, levels=tuple(LEVELS.values()), seed=seed
    )
    sets = {"ref": reference}
    sets.update({name: candidates[f"level={level:g}"] for name, level in LEVELS.items()})
    for name, audio in sets.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i, clip in enumerate(audio):
            with wave.open(str(folder / name / f"clip{i:03d}.wav"), "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(SR)
                f.writeframes((np.clip(clip, -1, 1) * 32767).astype("<i2").tobytes())


def jaxmetrics(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the command line (this interpreter, this checkout) in ``cwd``; echo its output."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    print("$ jaxmetrics " + " ".join(args), flush=True)
    run = subprocess.run(
        [sys.executable, "-m", "jaxmetrics.cli", *args],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
    )
    print(run.stdout + run.stderr, flush=True)
    return run


def evaluate(folder: Path) -> Path:
    """The real run: ``evaluate ... --report report.html``; exits with a message if it fails."""
    run = jaxmetrics(
        "evaluate", "ref", "cand_a", "cand_b", "--embedder", "logmel",
        "--metrics", "fad,kd,prdc", "--ci", "0.95", "--inf", "--per-file", "per_file.csv",
        "--report", "report.html", "--json", "results.json", "--no-progress", "--no-cache",
        cwd=folder,
    )  # fmt: skip
    if run.returncode not in (0, 1) or not (folder / "report.html").is_file():
        sys.exit(
            f"jaxmetrics evaluate failed (exit {run.returncode}); if it does not take --report "
            "and --ci yet, --from-fixture renders the test fixture instead (for the look only)"
        )
    return folder / "report.html"


def from_fixture(folder: Path) -> Path:
    """The fixture's results, rendered by ``jaxmetrics report`` (made-up numbers)."""
    sys.path.insert(0, str(ROOT / "tests" / "report"))
    from fixtures import rich_results

    (folder / "results.json").write_text(json.dumps(rich_results()))
    if jaxmetrics("report", "results.json", "-o", "report.html", cwd=folder).returncode:
        sys.exit("jaxmetrics report failed")
    return folder / "report.html"


def screenshot(report: Path, *, width: int, height: int) -> bytes:
    """``report`` in headless Chromium, ``width`` wide, as PNG: the whole page, or its top
    ``height`` pixels when it is longer (``height`` 0: the whole page, however long)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)  # no Selenium Manager
    try:
        driver.set_window_size(width, 800)
        driver.get(report.as_uri())
        page = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(width, min(page, height) if height else page)
        return driver.get_screenshot_as_png()
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="the PNG (default docs/report.png)")
    parser.add_argument("--from-fixture", action="store_true", help="render the test fixture")
    parser.add_argument("--clips", type=int, default=16, help="clips per set (default 16)")
    parser.add_argument("--seconds", type=float, default=15.0, help="clip length (default 15)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument(
        "--height", type=int, default=0, help="at most this tall (default 0: the whole page)"
    )
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args()
    if args.output is None:
        name = "tests/artifacts/report-fixture.png" if args.from_fixture else "docs/report.png"
        args.output = ROOT / name
    if args.from_fixture and args.output.resolve() == (ROOT / "docs" / "report.png").resolve():
        sys.exit("docs/report.png is made from a real run, not from the fixture")
    with tempfile.TemporaryDirectory(prefix="jaxmetrics-report-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        write_audio(folder, args.clips, args.seconds, args.seed)
        report = from_fixture(folder) if args.from_fixture else evaluate(folder)
        png = screenshot(report, width=args.width, height=args.height)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.output, lambda f: f.write(png))
    print(f"wrote {args.output} ({len(png)} bytes, {args.width} pixels wide)")


if __name__ == "__main__":
    main()
