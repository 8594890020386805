"""Uppy's tus plugin (from the npm package `uppy`, not written here) in a
real browser (Debian's Chromium, headless, through Selenium), against
`ingest serve` from another origin (the server allows it with
--cors-origin): an upload paused and resumed, then cut off by the browser
going offline, resuming each time to the end. Run by tests/cli/page.rs.

  uppy.py PORT ENDPOINT TOKEN FILE UPPY_DIST
"""
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse

import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

port, endpoint, token, path, dist = sys.argv[1:6]
site = tempfile.mkdtemp()
shutil.copy(os.path.join(os.path.dirname(__file__), "uppy.html"), site)
shutil.copy(os.path.join(dist, "uppy.min.js"), site)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=site)
handler.log_message = lambda *a: None
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()

driver = chromium.start()
wait = WebDriverWait(driver, 60)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def network(offline, kbps=None):
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": offline, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": -1 if kbps is None else kbps * 1024})


def progress():
    return driver.execute_script("return window.progress")


try:
    query = urllib.parse.urlencode({"endpoint": endpoint, "token": token})
    driver.get(f"http://127.0.0.1:{port}/uppy.html?{query}")
    network(False, kbps=6000)
    driver.find_element(By.ID, "file").send_keys(path)
    wait.until(lambda d: progress() >= 0.25)
    driver.execute_script("window.uppy.pauseResume(window.fileId)")
    time.sleep(1.0)
    held = progress()
    time.sleep(1.0)
    check(progress() == held, f"a paused upload went on: {held} then {progress()}")
    driver.execute_script("window.uppy.pauseResume(window.fileId)")
    wait.until(lambda d: progress() >= 0.6)
    network(True)
    time.sleep(2.0)
    network(False)
    wait.until(lambda d: driver.execute_script("return window.events.length") > 0)
    events = driver.execute_script("return window.events")
    check(events[0]["ok"], f"Uppy says: {events}")
    print("ok", events[0]["url"])
except Exception:
    for entry in driver.get_log("browser"):
        print("console:", entry)
    raise
finally:
    driver.quit()
    httpd.shutdown()
