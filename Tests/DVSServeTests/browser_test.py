#!/usr/bin/env python3
"""End-to-end check of `dvs serve` pages in headless Chromium (Debian's chromium + chromium-driver,
selenium from PyPI). ServeBrowserTests starts the server and runs this script:

    browser_test.py BASE_URL SAMPLE_PATH RELABELED_PATH SCREENSHOT_DIR

It checks that the snapshot page lists the samples, the SQL box filters them, the sample page's audio
element loads and plays (readyState, currentTime moves), clicking a word seeks, and the diff page shows
a relabel; it saves a screenshot of each page. Prints 'N passed, N failed' and exits 1 on a failure.
"""
import os
import shutil
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By

base, sample, relabeled, shots = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
os.makedirs(shots, exist_ok=True)
passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name} {detail}")


def wait_for(fn, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.1)
    return fn()


def load(url):
    """driver.get, again after a renderer time-out (the test suite loads both cores)."""
    for attempt in range(4):
        try:
            driver.get(url)
            return
        except TimeoutException:
            if attempt == 3:
                raise
            time.sleep(1)


def now():
    return driver.execute_script("return document.getElementById('player').currentTime")


options = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
          "--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream", "--mute-audio",
          "--disable-features=AudioServiceOutOfProcess"]:
    options.add_argument(a)
chromium = shutil.which("chromium") or "/usr/bin/chromium"
options.binary_location = chromium
driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
driver = webdriver.Chrome(service=Service(driver_path), options=options)
driver.set_page_load_timeout(60)
try:
    # Repository page.
    load(base + "/")
    check("repository page lists branch main", "main" in driver.find_element(By.ID, "branchs").text)
    check("repository page shows the commit graph", len(driver.find_elements(By.CSS_SELECTOR, "#commits circle")) >= 2)
    driver.save_screenshot(os.path.join(shots, "repository.png"))

    # Snapshot page: the sample table, then the SQL filter.
    load(base + "/snapshot")
    rows = driver.find_elements(By.CSS_SELECTOR, "#samples a.sample")
    check("snapshot page lists the samples", len(rows) >= 5, f"({len(rows)} rows)")
    check("snapshot page draws the charts", len(driver.find_elements(By.CSS_SELECTOR, ".charts svg")) >= 1)
    driver.save_screenshot(os.path.join(shots, "snapshot.png"))
    box = driver.find_element(By.ID, "where")
    box.clear()
    box.send_keys("path = '%s'" % sample)
    driver.find_element(By.ID, "filter").click()
    wait_for(lambda: "1 sample" in driver.find_element(By.ID, "count").text)
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#samples a.sample")]
    check("the SQL box filters the table", rows == [sample], f"({rows})")
    driver.save_screenshot(os.path.join(shots, "snapshot-filtered.png"))
    box = driver.find_element(By.ID, "where")
    box.clear()
    box.send_keys("no_such_column > 1")
    driver.find_element(By.ID, "filter").click()
    err = wait_for(lambda: driver.find_element(By.ID, "error").text)
    check("a bad filter shows the SQL error with its hint", "SQL error" in err and "no such column" in err, f"({err!r})")
    driver.save_screenshot(os.path.join(shots, "snapshot-error.png"))

    # Sample page: the audio element loads and plays; clicking a word seeks.
    load(base + "/sample?path=" + urllib.parse.quote(sample))
    state = wait_for(lambda: driver.execute_script("return document.getElementById('player').readyState") >= 3, 30)
    check("the audio element loads (readyState >= 3)", state)
    driver.execute_script("document.getElementById('player').play()")
    moved = wait_for(lambda: now() > 0.2, 20)
    check("the audio plays (currentTime moves)", moved, f"(currentTime {now()})")
    driver.execute_script("document.getElementById('player').pause()")
    words = driver.find_elements(By.CSS_SELECTOR, ".words span.w")
    check("the transcript shows words", len(words) >= 3, f"({len(words)})")
    if len(words) >= 3:
        target = words[-2]
        start = float(target.get_attribute("data-start"))
        target.click()
        t = wait_for(lambda: abs(now() - start) < 0.35, 10)
        check("clicking a word seeks the audio to it", t, f"(word at {start}, currentTime {now()})")
        driver.execute_script("document.getElementById('player').pause()")
    check("the waveform is drawn", len(driver.find_elements(By.CSS_SELECTOR, "svg.wave path")) >= 1)
    loaded = wait_for(lambda: driver.execute_script(
        "var i=document.querySelector('img.spectrogram'); return i && i.complete && i.naturalWidth > 0"), 20)
    check("the spectrogram loads", loaded)
    driver.save_screenshot(os.path.join(shots, "sample.png"))

    # Diff page: the relabel shows field: old → new.
    load(base + "/diff?a=v1&b=main")
    text = driver.find_element(By.ID, "relabeled").text
    check("the diff page shows the relabel", relabeled in text and "agent" in text and "customer" in text, f"({text!r})")
    driver.save_screenshot(os.path.join(shots, "diff.png"))

    load(base + "/models")
    check("the models page loads", "Models" in driver.find_element(By.TAG_NAME, "h1").text)
    driver.save_screenshot(os.path.join(shots, "models.png"))
finally:
    driver.quit()

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
