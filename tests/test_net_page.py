"""The page in the system's Chromium, driven by selenium, against the box playing on the real clock: the roll moves,
a slider changes the box's temperature, the buttons and the model switcher act, a capture downloads, it fits a
phone, and the browser's console shows no error or warning."""

import time
from pathlib import Path

import mido
import pytest

from device.engine.declaration import CONTROLS
from tests.net_helpers import CHROMEDRIVER, CHROMIUM, NO_CHROMIUM, TOKEN, NetBox, chromium_missing, net_config, wait_for

pytestmark = pytest.mark.skipif(chromium_missing(), reason=NO_CHROMIUM)


def chrome(downloads: Path, width: int = 1200, height: int = 1000):
    from selenium import webdriver  # the test extra's; the module is skipped without Chromium before this
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def console_trouble(driver) -> list[dict]:
    """The console's errors and warnings since the last look."""
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    box = NetBox(net_config(folder, bpm=240), real_time=True)
    box.play()
    driver = chrome(folder / "downloads")
    driver.get(f"http://127.0.0.1:{box.web_port}/#token={TOKEN}")
    wait_for(lambda: int(driver.find_element("id", "roll").get_attribute("data-step")) >= 0)
    yield driver, box, folder / "downloads"
    driver.quit()
    box.close()


def test_the_roll_moves_while_the_box_plays(page):
    driver, box, _ = page
    roll = driver.find_element("id", "roll")
    first_step, first_picture = int(roll.get_attribute("data-step")), driver.execute_script(
        "return arguments[0].toDataURL()", roll)
    wait_for(lambda: int(roll.get_attribute("data-step")) >= first_step + 8)
    assert driver.execute_script("return arguments[0].toDataURL()", roll) != first_picture
    assert int(roll.get_attribute("data-notes")) > 0
    assert driver.current_url.endswith("/")  # the token left the address bar
    assert console_trouble(driver) == []


def test_the_state_word_the_note_and_every_declared_control_are_on_the_page(page):
    driver, box, _ = page
    assert wait_for(lambda: driver.find_element("id", "state").text) == "PLAYING"  # upper case by its style
    for control in CONTROLS:
        element = driver.find_element("id", f"control-{control.name}")
        assert element.tag_name == ("select" if control.curve.steps else "input")
    assert console_trouble(driver) == []


def test_a_slider_changes_the_box_temperature(page):
    from selenium.webdriver.common.keys import Keys  # the test extra's; skipped without Chromium

    driver, box, _ = page
    slider = driver.find_element("id", "control-temperature")
    slider.send_keys(Keys.HOME)  # the knob fully left: the configured low end
    wait_for(lambda: box.loop.state.temperature == 0.0)  # the knob fully left: greedy
    slider.send_keys(Keys.END)
    wait_for(lambda: box.loop.state.temperature == 3.0)
    assert driver.find_element("css selector", "label[for=control-temperature] output").text == "3.00"
    assert console_trouble(driver) == []


def test_pause_and_resume_from_the_page(page):
    driver, box, _ = page
    driver.find_element("id", "pause").click()
    wait_for(lambda: box.remote.live.latest().report.state == "paused")
    wait_for(lambda: driver.find_element("id", "pause").text == "Resume")
    driver.find_element("id", "pause").click()
    wait_for(lambda: box.remote.live.latest().report.state == "playing")
    assert console_trouble(driver) == []


def test_a_capture_downloads(page):
    driver, box, downloads = page
    driver.find_element("id", "capture").click()
    message = wait_for(lambda: driver.find_element("id", "message").text.startswith("captured ")
                       and driver.find_element("id", "message").text)
    name = message.removeprefix("captured ")
    link = wait_for(lambda: next((a for a in driver.find_elements("css selector", "#captures a") if a.text == name),
                                 None))
    link.click()
    downloaded = wait_for(lambda: (downloads / name).is_file() and (downloads / name))
    time.sleep(0.2)  # Chromium renames the finished file into place; let it settle
    assert downloaded.read_bytes() == (box.loop.capture.folder / name).read_bytes()
    assert mido.MidiFile(downloaded).type == 0
    assert console_trouble(driver) == []


def test_the_model_switcher_plays_another_model(page):
    from selenium.webdriver.support.ui import Select  # the test extra's; skipped without Chromium

    driver, box, _ = page
    Select(driver.find_element("id", "models")).select_by_value("default-int8")
    driver.find_element("id", "switch").click()
    wait_for(lambda: box.loop.generator.model.path.name == "default-int8.tflite")
    wait_for(lambda: "default-int8" in driver.find_element("id", "where").text)
    assert console_trouble(driver) == []


def test_the_page_fits_a_phone(page):
    driver, _, _ = page
    driver.set_window_size(390, 844)
    try:
        time.sleep(0.3)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= driver.execute_script(
            "return window.innerWidth")
        assert driver.find_element("id", "roll").size["width"] <= 390
    finally:
        driver.set_window_size(1200, 1000)
    assert console_trouble(driver) == []
