"""Take docs/web-page.png: `melodybox run --web` plays for a few seconds and the system Chromium (selenium,
headless) photographs its page. Needs the test extra and `apt-get install chromium chromium-driver`:

    .venv/bin/python docs/shoot_web_page.py          # writes docs/web-page.png
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "shown-in-the-docs"
WIDTH, HEIGHT = 1000, 980
SECONDS = 9.0  # of playing before the picture: the roll is full


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        box = subprocess.Popen([sys.executable, "-m", "device", "run", "--web", f"127.0.0.1:{port}", "--web-token",
                                TOKEN, "--midi-file", f"{folder}/played.mid", "--seed", "3", "--bpm", "140",
                                "--scale", "D:dorian", "--density", "0.6"],
                               cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/controls", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            options = Options()
            options.binary_location = "/usr/bin/chromium"
            for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             f"--window-size={WIDTH},{HEIGHT}"):
                options.add_argument(argument)
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                driver.get(f"http://127.0.0.1:{port}/#token={TOKEN}")
                time.sleep(SECONDS)
                driver.save_screenshot(str(ROOT / "docs" / "web-page.png"))
            finally:
                driver.quit()
        finally:
            box.terminate()
            box.wait(10)
    print(f"wrote {ROOT / 'docs' / 'web-page.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
