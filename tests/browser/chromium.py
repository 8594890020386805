"""Debian's Chromium, headless, driven by Selenium through Debian's
chromedriver: the one way the browser tests start it (no tool can download
a browser build of its own here).
"""
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service


def start(window=None, prefs=None):
    """A new browser; `window` as "WIDTH,HEIGHT", `prefs` Chrome's own."""
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    args = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
    if window:
        args.append(f"--window-size={window}")
    for arg in args:
        options.add_argument(arg)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
