"""A whole folder chosen on the page of `ingest serve`, or dropped on it,
in a real browser (Debian's Chromium, headless, through Selenium): each
file goes up with its path in the folder. Run by tests/cli/page.rs.

A drop is Chromium's own: the DevTools protocol's Input.dispatchDragEvent
with the folder's path, as the system's drag and drop hands a folder over
(the page then walks its entries, webkitGetAsEntry).

  folder.py URL TOKEN FOLDER COUNT choose|drop
"""
import sys

import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

url, token, folder, count, how = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
driver = chromium.start()
wait = WebDriverWait(driver, 60)
try:
    driver.get(url)
    wait.until(lambda d: d.find_element(By.ID, "token").is_displayed())
    driver.find_element(By.ID, "token").send_keys(token + Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "app").is_displayed())
    if how == "choose":
        driver.find_element(By.ID, "folder").send_keys(folder)
    else:
        x, y = driver.execute_script(
            "const r = document.getElementById('drop').getBoundingClientRect();"
            "return [r.x + r.width / 2, r.y + r.height / 2];")
        data = {"items": [], "files": [folder], "dragOperationsMask": 1}
        for kind in ("dragEnter", "dragOver", "drop"):
            driver.execute_cdp_cmd("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uploads li[data-status='new']")) == count)
    items = lambda: driver.execute_script("return document.querySelectorAll('#grid .item').length")
    wait.until(lambda d: items() == count)
    # An item's folders, as a breadcrumb: one of them narrows the grid.
    video = next(i for i in driver.find_elements(By.CSS_SELECTOR, "#grid .item")
                 if i.find_element(By.CSS_SELECTOR, ".name").text == "video.bin")
    video.click()
    wait.until(lambda d: d.execute_script("return document.getElementById('viewer').open"))
    crumbs = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#details .crumb")]
    assert crumbs == ["Trip 2024", "day 2"], crumbs
    driver.find_elements(By.CSS_SELECTOR, "#details .crumb")[1].click()
    wait.until(lambda d: items() == 2)
    assert driver.find_element(By.ID, "folder-name").text == "Trip 2024/day 2/"
    driver.find_element(By.ID, "folder-clear").click()
    wait.until(lambda d: items() == count)
    print("ok")
except Exception:
    print("uploads:", driver.execute_script("return document.getElementById('uploads').innerText"))
    for entry in driver.get_log("browser"):
        print("console:", entry)
    raise
finally:
    driver.quit()
