"""The report in a real browser: headless Chromium driven by Selenium.

What a user would see is checked in the live page: the title and sections,
every image decoded, an audio player whose file loads, nothing logged as an
error, no request to anything but ``file:`` and ``data:`` URLs, and a
screenshot that is not blank (saved under ``tests/artifacts/``).

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium``
package. Missing, the test is skipped locally and fails in CI (``CI`` set),
whose ``.ci/run`` installs them.
"""

from __future__ import annotations

import io
import json
import os
import time
import urllib.parse
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest
from fixtures import SECTIONS, rich_results

from jaxmetrics.report import write_report

pytest.importorskip("matplotlib")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DRIVER = "/usr/bin/chromedriver"
BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def _unavailable() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not os.access(DRIVER, os.X_OK) or not any(os.access(b, os.X_OK) for b in BROWSERS):
        return (
            f"chromium and {DRIVER} are needed: "
            "apt-get install -y --no-install-recommends chromium chromium-driver"
        )
    return None


@pytest.fixture(scope="module")
def driver():
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(b for b in BROWSERS if os.access(b, os.X_OK))
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,2000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: Selenium Manager never looks for (or downloads) one.
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


def _write_wav(path: Path, seconds: float = 0.3, sr: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sr)
        f.writeframes(samples.tobytes())


@pytest.fixture(scope="module")
def page(driver, tmp_path_factory):
    """The fixture report, written with real WAV files behind its first players, opened."""
    root = tmp_path_factory.mktemp("browser")
    audio = root / "audio"
    results = rich_results(audio_dir=audio)
    for rows in (d["files"] for d in results["diagnostics"].values()):
        for row in rows[:2]:
            _write_wav(Path(row["path"]))
            _write_wav(Path(row["nearest_reference"]))
    report = root / "out" / "report.html"
    report.parent.mkdir()
    write_report(results, report)
    start = time.perf_counter()
    driver.get(report.as_uri())
    print(f"\nloaded {report.as_uri()} in {time.perf_counter() - start:.2f} s")
    return driver, report


def test_title_and_sections_are_in_the_live_page(page):
    driver, _ = page
    from selenium.webdriver.common.by import By

    assert driver.title == "jaxmetrics report"
    ids = [e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "[id]")]
    assert ids == SECTIONS
    rows = driver.find_elements(By.CSS_SELECTOR, "#per-file-1 table tr")
    assert len(rows) == 51  # the header and the 50 worst files
    assert "<script>alert(1)</script>" in driver.find_element(By.ID, "per-file-1").text


def test_every_image_is_decoded(page):
    driver, _ = page
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
    )
    assert len(images) == 5
    assert all(complete and width > 0 for complete, width, _ in images), images


def test_an_audio_player_loads_its_file(page):
    driver, report = page
    src = driver.execute_script("return document.querySelector('audio').src")
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(src).path))
    assert path.is_file() and path.suffix == ".wav", src
    state = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const a = document.querySelector('audio');
        a.addEventListener('loadedmetadata', () => done(['ok', a.duration]));
        a.addEventListener('error', () => done(['error', a.error && a.error.code]));
        a.preload = 'metadata';
        a.load();
        """
    )
    assert state[0] == "ok" and abs(state[1] - 0.3) < 0.01, state


def test_no_console_errors_and_no_network_requests(page):
    driver, _ = page
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert urls  # the page itself was requested, so the log does record requests
    remote = [u for u in urls if not u.startswith(("file:", "data:"))]
    assert not remote, remote


def test_the_screenshot_is_not_blank(page):
    import matplotlib.image

    driver, _ = page
    driver.set_window_size(1280, 2000)
    driver.execute_script("window.scrollTo(0, 0)")
    png = driver.get_screenshot_as_png()
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] > 1000 and pixels.shape[1] > 1000
    rgb = (pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours = len(np.unique(rgb, axis=0))
    assert pixels[..., :3].std() > 0.05 and colours > 100, (pixels.std(), colours)
    ARTIFACTS.mkdir(exist_ok=True)
    saved = ARTIFACTS / "report-browser.png"
    saved.write_bytes(png)
    print(f"\nscreenshot ({pixels.shape[1]}x{pixels.shape[0]}, {colours} colours): {saved}")
