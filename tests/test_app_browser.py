"""`stargan app` in a real browser: headless Chromium (Debian's chromium + chromium-driver)
driven with selenium opens the page, uploads a photo, changes a control and sees the result.

Skips, saying why, where Chromium, its driver or selenium is missing (.ci/run installs them).
"""

from __future__ import annotations

import io
import os
import shutil
import urllib.request

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the app extra is not installed: pip install -e '.[app]'")
pytest.importorskip("uvicorn", reason="the app extra is not installed: pip install -e '.[app]'")
pytest.importorskip("selenium", reason="selenium is not installed (it is in the test extra)")

from app_helpers import tiny_checkpoint  # noqa: E402
from stargan_cli.app.engine import Engine, Models  # noqa: E402
from stargan_cli.app.serving import background  # noqa: E402
from stargan_cli.image_files import example_image_path  # noqa: E402

SIZES = {"laptop": (1280, 800), "phone": (390, 844)}


def _find(*names: str) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


CHROMIUM = _find("chromium", "chromium-browser", "google-chrome")
DRIVER = _find("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="no Chromium/chromedriver on PATH: apt-get install chromium chromium-driver (.ci/run does)",
)


@pytest.fixture
def browser(tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # never let selenium fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,800",
                 # A synthetic camera (a moving test pattern), allowed without asking.
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, tmp_path):
    """The page of a tiny random model, open in ``browser``; yields a WebDriverWait."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    engine = Engine(Models([str(tiny_checkpoint(tmp_path / "tiny.pt"))], device="cpu", include_installed=False))
    try:
        with background(engine) as url:
            wait = WebDriverWait(browser, 180)  # generous: CI machines can be loaded
            _viewport(browser, *SIZES["laptop"])
            browser.get(url)
            wait.until(lambda d: d.find_element(By.ID, "model").get_attribute("value") == "tiny")
            yield wait
    finally:
        engine.close()


def _fetch(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=30) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))


def _viewport(driver, width: int, height: int) -> None:
    """Make the page area (not the window) ``width`` x ``height`` CSS pixels."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def test_upload_change_a_control_and_see_the_result(browser, page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    wait = page
    browser.find_element(By.ID, "file").send_keys(str(example_image_path()))

    # The photo appears with its face boxed; the controls follow the estimate.
    wait.until(lambda d: d.execute_script("const i = document.getElementById('input'); return i.complete && i.naturalWidth"))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#boxes .face-box.chosen")))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "input[data-target='Blond_Hair']")))
    first = wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("src"))

    # Change a control: the hair colour the face does not have yet.
    blond = browser.find_element(By.CSS_SELECTOR, "input[data-target='Blond_Hair']")
    black = browser.find_element(By.CSS_SELECTOR, "input[data-target='Black_Hair']")
    target = black if blond.is_selected() else blond
    target.find_element(By.XPATH, "..").click()
    wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("src") != first)
    wait.until(lambda d: d.execute_script(
        "const r = document.getElementById('result'); return r.complete && r.naturalWidth > 0"))
    assert browser.find_element(By.ID, "result").is_displayed()
    assert browser.find_element(By.ID, "message").get_attribute("hidden") is not None  # no error shown
    assert "Hair" in browser.find_element(By.ID, "label").text

    # The result is the photo, translated: same size as the input, different pixels.
    result = _fetch(browser.find_element(By.ID, "result").get_attribute("src"))
    shown = _fetch(browser.find_element(By.ID, "input").get_attribute("src"))
    assert result.shape == shown.shape
    assert np.abs(result.astype(int) - shown.astype(int)).mean() > 0.5
    natural = browser.execute_script(
        "const r = document.getElementById('result'); return [r.naturalWidth, r.naturalHeight]")
    assert natural == [shown.shape[1], shown.shape[0]]
    download = browser.find_element(By.ID, "download").get_attribute("download")
    assert download == f"astronaut.{target.get_attribute('value')}.png"

    # The all-targets strip appears below.
    browser.find_element(By.ID, "strip-button").click()
    wait.until(lambda d: d.execute_script(
        "const s = document.getElementById('strip'); return s.complete && s.naturalWidth > 0"))

    for name, (width, height) in SIZES.items():
        _viewport(browser, width, height)
        browser.execute_script("window.scrollTo(0, 0)")
        path = tmp_path / f"app-{name}.png"
        assert browser.save_screenshot(str(path))
        with Image.open(path) as shot:
            assert shot.size == (width, height)
    keep = os.environ.get("STARGAN_SCREENSHOTS")  # to look at them: a folder to copy them into
    if keep:
        for name in SIZES:
            shutil.copy(tmp_path / f"app-{name}.png", keep)


def test_a_bad_upload_shows_a_message_on_the_page(browser, page, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    page.until(lambda d: d.find_element(By.ID, "message").is_displayed())
    assert "not an image" in browser.find_element(By.ID, "message").text


def test_camera_snapshot_is_uploaded_and_translated(browser, page):
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "camera-open").click()
    page.until(lambda d: d.execute_script("return document.getElementById('video').videoWidth > 0"))
    browser.find_element(By.ID, "snap").click()
    # The test pattern has no face: the whole snapshot is taken as a face crop.
    page.until(lambda d: "No face found" in d.find_element(By.ID, "faces").text)
    page.until(lambda d: d.execute_script(
        "const r = document.getElementById('result'); return r.complete && r.naturalWidth > 0"))
    assert browser.execute_script("return document.getElementById('result').naturalWidth") == 32
    assert browser.execute_script("return document.getElementById('input').naturalWidth") > 32
    assert not browser.find_element(By.ID, "camera").get_attribute("open")  # the dialog closed
