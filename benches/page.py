"""Time to the first drawn page of `ingest serve`'s web page, in Debian's
Chromium (headless, through chromedriver and Selenium): from the start of
navigation to the first page of entries in the grid. Run by benches/page.sh.

  page.py URL TOKEN RUNS    prints the median milliseconds
"""
import statistics
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

url, token, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = Options()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get(url)
    driver.execute_script("sessionStorage.setItem('ingest-token', arguments[0])", token)
    times = []
    for _ in range(runs + 1):
        driver.get(url)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.drawn"))
        drawn = driver.execute_script(
            "return Number(document.body.dataset.drawn) - performance.timeOrigin")
        count = driver.execute_script("return document.querySelectorAll('#grid .item').length")
        assert count > 0, "no entries drawn"
        times.append(drawn)
    # The first load warms the browser's cache of the page's own files.
    print(f"{statistics.median(times[1:]):.0f}")
finally:
    driver.quit()
