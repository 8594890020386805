"""The page's resumable uploads in a real browser (Debian's Chromium,
headless, through Selenium): a large file paused and resumed, one whose
connection is lost (the browser set offline) and comes back, one whose tab
is reloaded mid-way and chosen again, one cancelled. Run by
tests/cli/page.rs against a real server; exits non-zero with the reason.

  resume.py URL TOKEN FILES_DIR SHOTS_DIR
"""
import os
import sys
import time

import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

url, token, files, shots = sys.argv[1:5]
driver = chromium.start(window="1280,900")
wait = WebDriverWait(driver, 60)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def by_id(name):
    return driver.find_element(By.ID, name)


def row(name):
    for r in driver.find_elements(By.CSS_SELECTOR, "#uploads li"):
        if r.find_element(By.CSS_SELECTOR, ".name").text == name:
            return r
    return None


def progress(name):
    return driver.execute_script(
        "const r = [...document.querySelectorAll('#uploads li')].find(r => r.querySelector('.name').textContent === arguments[0]);"
        "return r ? Number(r.querySelector('progress').value) : -1", name)


def state(name, key):
    return driver.execute_script(
        "const r = [...document.querySelectorAll('#uploads li')].find(r => r.querySelector('.name').textContent === arguments[0]);"
        "return r ? (r.dataset[arguments[1]] || '') : null", name, key)


def network(offline, kbps=None):
    # Slow enough to see an upload under way, the way a phone's link is.
    throughput = -1 if kbps is None else kbps * 1024
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": offline, "latency": 0,
        "downloadThroughput": -1, "uploadThroughput": throughput})


def choose(name):
    by_id("files").send_keys(os.path.join(files, name))


def sign_in():
    wait.until(lambda d: by_id("token").is_displayed() or by_id("app").is_displayed())
    if by_id("token").is_displayed():
        by_id("token").send_keys(token)
        by_id("token").send_keys(Keys.ENTER)
    wait.until(lambda d: by_id("app").is_displayed())


try:
    driver.get(url)
    # Pieces of 1 MiB, so a slow link shows each step.
    driver.execute_script("localStorage.setItem('ingest-chunk', String(1 << 20))")
    driver.refresh()
    sign_in()
    network(False, kbps=6000)

    # Paused and resumed: it goes on from the server's offset.
    choose("paused.bin")
    wait.until(lambda d: progress("paused.bin") >= 25)
    row("paused.bin").find_element(By.CSS_SELECTOR, "button.pause").click()
    wait.until(lambda d: state("paused.bin", "state") == "paused")
    held = progress("paused.bin")
    time.sleep(1.5)
    check(progress("paused.bin") == held, "a paused upload went on")
    check("paused" in row("paused.bin").find_element(By.CSS_SELECTOR, ".result").text, "the pause is not said")
    driver.save_screenshot(os.path.join(shots, "upload-paused.png"))
    row("paused.bin").find_element(By.CSS_SELECTOR, "button.pause").click()
    wait.until(lambda d: state("paused.bin", "status") == "new")
    check(int(state("paused.bin", "resumedFrom") or 0) > 0, "the resumed upload started again from zero")

    # The connection lost mid-way: it retries and goes on.
    choose("offline.bin")
    wait.until(lambda d: progress("offline.bin") >= 20)
    network(True)
    wait.until(lambda d: state("offline.bin", "state") == "retrying")
    check("trying again" in row("offline.bin").find_element(By.CSS_SELECTOR, ".result").text, "the retry is not said")
    network(False, kbps=6000)
    wait.until(lambda d: state("offline.bin", "status") == "new")

    # The tab reloaded mid-way: the page names the unfinished file, and
    # choosing it again goes on where it stopped.
    choose("reloaded.bin")
    wait.until(lambda d: progress("reloaded.bin") >= 30)
    driver.refresh()
    sign_in()
    wait.until(lambda d: by_id("unfinished").is_displayed())
    check("reloaded.bin" in by_id("unfinished-names").text, f"the unfinished upload is not named: {by_id('unfinished-names').text!r}")
    network(False)
    choose("reloaded.bin")
    wait.until(lambda d: state("reloaded.bin", "status") == "new")
    check(int(state("reloaded.bin", "resumedFrom") or 0) > 0, "the reloaded upload started again from zero")
    wait.until(lambda d: not by_id("unfinished").is_displayed())

    # Cancelled: gone from the server too.
    network(False, kbps=6000)
    choose("cancelled.bin")
    wait.until(lambda d: progress("cancelled.bin") >= 10)
    row("cancelled.bin").find_element(By.CSS_SELECTOR, "button.cancel").click()
    wait.until(lambda d: state("cancelled.bin", "status") == "cancelled")
    network(False)
    print("ok")
except Exception:
    print("uploads:", driver.execute_script("return document.getElementById('uploads').innerText"))
    print("unfinished:", driver.execute_script("return document.getElementById('unfinished').outerHTML"))
    for entry in driver.get_log("browser"):
        print("console:", entry)
    driver.save_screenshot(os.path.join(shots, "resume-failed.png"))
    raise
finally:
    driver.quit()
