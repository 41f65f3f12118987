"""The README's screenshot of `stargan app` (docs/app.png), taken in headless Chromium.

    python docs/app_screenshot.py                        # the default model, as `stargan app`
    python docs/app_screenshot.py -m runs/mine/final.pt --to Blond_Hair --size 390x844 -o phone.png

Serves the page on 127.0.0.1 (a free port), uploads the bundled sample portrait, picks the
target hair colour, waits for the result and the all-targets strip, and saves the page as a
palette PNG, scaled to 3/4 (small enough for the README). Needs the app extra, selenium and Chromium with its
driver (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from PIL import Image

from stargan_cli.app.engine import Engine, Models
from stargan_cli.app.serving import background
from stargan_cli.image_files import example_image_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", action="append", default=[], help="model name or checkpoint (default: the default model)")
    parser.add_argument("--to", default="Blond_Hair", help="hair colour to pick on the page")
    parser.add_argument("--size", default="1280x800", help="viewport WIDTHxHEIGHT in CSS pixels")
    parser.add_argument("--device", default=None)
    parser.add_argument("-o", "--output", default="docs/app.png")
    parser.add_argument("--colors", type=int, default=96, help="palette size of the PNG")
    parser.add_argument("--scale", type=float, default=0.75, help="resize the screenshot by this factor")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a browser or driver
    engine = Engine(Models(args.model, device=args.device, include_installed=False))
    with tempfile.TemporaryDirectory() as tmp, background(engine) as url:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or shutil.which("google-chrome") or ""
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars",
                     f"--user-data-dir={tmp}/profile"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
            wait = WebDriverWait(driver, 120)
            driver.get(url)
            wait.until(lambda d: d.find_element(By.ID, "model").get_attribute("value"))
            driver.find_element(By.ID, "file").send_keys(str(example_image_path()))
            choice = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"input[data-target='{args.to}']"))
            first = wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("src"))
            if not choice.is_selected():
                choice.find_element(By.XPATH, "..").click()
                wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("src") != first)
            driver.find_element(By.ID, "strip-button").click()
            for image in ("result", "strip"):
                wait.until(lambda d: d.execute_script(
                    f"const i = document.getElementById('{image}'); return i.src && i.complete && i.naturalWidth > 0"))
            wait.until(lambda d: not d.find_element(By.ID, "busy").is_displayed())
            shot = f"{tmp}/shot.png"
            driver.save_screenshot(shot)
        finally:
            driver.quit()
            engine.close()
        with Image.open(shot) as page:
            page = page.convert("RGB")
            if args.scale != 1:
                page = page.resize((round(page.width * args.scale), round(page.height * args.scale)), Image.LANCZOS)
            small = page.quantize(args.colors, method=Image.Quantize.MEDIANCUT)
            small.save(args.output, optimize=True)
    print(f"{args.output}: {small.width}x{small.height}, {os.path.getsize(args.output) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
