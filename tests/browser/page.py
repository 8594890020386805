"""The page of `ingest serve` in a real browser: Debian's Chromium, driven
headless by Selenium through Debian's chromedriver. Run by tests/cli/page.rs
against a real server; exits non-zero (with the reason) when anything the
page promises does not hold.

  page.py URL TOKEN READ_ONLY_TOKEN FILES_DIR SHOTS_DIR DELETE_TOKEN
"""
import hashlib
import os
import sys
import time

import chromium
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

url, token, reader, files, shots, deleter = sys.argv[1:7]
downloads = os.path.join(shots, "downloads")
os.makedirs(downloads, exist_ok=True)
HOSTILE = "<img src=x onerror=alert(1)>.jpg"

driver = chromium.start(window="1280,900", prefs={
    "download.default_directory": downloads,
    "download.prompt_for_download": False,
})
wait = WebDriverWait(driver, 30)


def by_id(name):
    return driver.find_element(By.ID, name)


def items():
    return driver.find_elements(By.CSS_SELECTOR, "#grid .item")


def count():
    # Read in one script: the grid may be redrawn between two calls.
    return driver.execute_script("return document.querySelectorAll('#grid .item').length")


def kinds():
    return driver.execute_script(
        "return [...document.querySelectorAll('#grid .item')].map(i => i.dataset.kind)")


def names():
    return driver.execute_script(
        "return [...document.querySelectorAll('#grid .item .name')].map(e => e.textContent)")


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def no_alert():
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError("an alert ran: " + text)


def open_item(name):
    target = next(i for i in items() if i.find_element(By.CSS_SELECTOR, ".name").text == name)
    target.click()
    wait.until(lambda d: d.execute_script("return document.getElementById('viewer').open"))


def close_item():
    by_id("close").click()
    wait.until(lambda d: not d.execute_script("return document.getElementById('viewer').open"))


def sign_in(with_token):
    wait.until(lambda d: by_id("sign-in").is_displayed())
    by_id("token").send_keys(with_token)
    by_id("token").send_keys(Keys.ENTER)
    wait.until(lambda d: by_id("app").is_displayed())
    check(not by_id("sign-in").is_displayed(), "the sign-in form stays after signing in")


try:
    driver.get(url)
    sign_in(token)
    check(by_id("upload").is_displayed(), "the upload area is hidden from a read-write token")

    # Upload every file through the file input.
    paths = sorted(os.path.join(files, f) for f in os.listdir(files))
    by_id("files").send_keys("\n".join(paths))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uploads li[data-status]")) == len(paths))
    for row in driver.find_elements(By.CSS_SELECTOR, "#uploads li"):
        name = row.find_element(By.CSS_SELECTOR, ".name").text
        bar = row.find_element(By.TAG_NAME, "progress")
        result = row.find_element(By.CSS_SELECTOR, ".result").text
        check(bar.get_attribute("value") == "100", f"{name}: progress ended at {bar.get_attribute('value')}")
        if name == "too-big.bin":
            check(row.get_attribute("data-status") == "rejected", f"{name}: {result}")
            check("larger than" in result, f"{name}: the reason is not in words: {result}")
        elif name == "blocked.bin":
            check(row.get_attribute("data-status") == "rejected", f"{name}: {result}")
            check("blocks these bytes" in result, f"{name}: the reason is not in words: {result}")
        elif name in ("photo.png", "photo-again.png"):
            # The same bytes under two names: one is new, the other not.
            check(row.get_attribute("data-status") in ("new", "duplicate"), f"{name}: {result}")
        else:
            check(row.get_attribute("data-status") == "new", f"{name}: {result}")
            check(result == "stored", f"{name}: {result}")
    no_alert()

    # The grid: thumbnails of the pictures, drawn.
    # Besides the uploads, the store holds one picture from a phone backup.
    pictures = [p for p in paths if p.endswith((".png", ".jpg", ".gif", ".webp"))] + ["IMG_0042.jpg"]
    total = len(paths) - 2 + 1
    wait.until(lambda d: count() == total)
    wait.until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#grid img')].filter(i => i.complete && i.naturalWidth > 0).length"
    ) == len(pictures))
    # A camera JPEG shows its own EXIF thumbnail (80x60), turned as the photo
    # is (Orientation 6, a quarter turn clockwise): 60 wide, 80 high. The
    # whole photo would be 240x320.
    turned = driver.execute_script(
        "const i = [...document.querySelectorAll('#grid .item')]"
        ".find(i => i.querySelector('.name').textContent === 'photo-exif-turned.jpg')?.querySelector('img');"
        "return i ? [i.naturalWidth, i.naturalHeight] : null")
    check(turned == [60, 80], f"the camera thumbnail is not shown turned: {turned}")
    sent = driver.execute_script(
        "return [...document.querySelectorAll('#grid .item')]"
        ".find(i => i.querySelector('.name').textContent === 'IMG_0042.jpg')?.textContent")
    check("from +15555550123" in (sent or ""), f"the MMS picture does not say who sent it: {sent}")
    # The hostile name is text, not markup.
    check(HOSTILE in names(), f"the hostile name is not shown as text: {names()}")
    check(driver.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0,
          "a name became an <img>")
    no_alert()
    driver.execute_script("document.getElementById('filters').scrollIntoView()")
    driver.save_screenshot(os.path.join(shots, "grid.png"))

    # Filter by kind: the kind comes from the sniffed type.
    heic = sum(1 for p in paths if p.endswith(".heic"))
    expected = {"image": len(pictures) + heic, "video": 2, "audio": 1, "document": 1}
    for kind, number in expected.items():
        Select(by_id("kind")).select_by_value(kind)
        wait.until(lambda d: kinds() == [kind] * number)
    Select(by_id("kind")).select_by_value("")
    wait.until(lambda d: count() == total)

    # Jump by month (of storing): up to December 2019 the store held nothing.
    driver.execute_script(
        "const m = document.getElementById('month'); m.value = '2019-12';"
        "m.dispatchEvent(new Event('change'))")
    # A filter that matches nothing says so (not that the store is empty),
    # and offers to show everything again.
    wait.until(lambda d: count() == 0 and "Nothing matches these filters" in by_id("status").text)
    check(by_id("clear").is_displayed(), "no way back from an empty filter")
    by_id("clear").click()
    wait.until(lambda d: count() == total)
    check(not by_id("clear").is_displayed(), "the clear button stays")
    # The month box says what it is.
    label = driver.execute_script("return document.getElementById('month').closest('label')?.textContent.trim()")
    check(label and label.startswith("Stored up to"), f"the month box has no label: {label!r}")
    # The same bytes under two names: each tile says so, and so do its details.
    same = driver.execute_script(
        "return [...document.querySelectorAll('#grid .item')].filter(i => i.querySelector('.same'))"
        ".map(i => [i.querySelector('.name').textContent, i.querySelector('.same').textContent])")
    check(sorted(same) == [["photo-again.png", "×2"], ["photo.png", "×2"]], f"the same bytes are not marked: {same}")
    # The page has an icon (no 404 in the console).
    icon = driver.execute_async_script(
        "const done = arguments[0]; const link = document.querySelector('link[rel=icon]');"
        "fetch(link.href).then(r => done([r.status, r.headers.get('content-type')]))"
        ".catch(e => done(String(e)))")
    check(icon == [200, "image/svg+xml"], f"the icon: {icon}")

    # Search by name.
    by_id("search").send_keys("SCAN")
    wait.until(lambda d: names() == ["scan.pdf"])
    by_id("search").send_keys(Keys.BACKSPACE * len("SCAN"))
    wait.until(lambda d: count() == total)

    # Open an item from the keyboard, see its details, download it.
    target = next(i for i in items() if i.find_element(By.CSS_SELECTOR, ".name").text == "photo.png")
    driver.execute_script("arguments[0].focus()", target)
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait.until(lambda d: d.execute_script("return document.getElementById('viewer').open"))
    original = open(os.path.join(files, "photo.png"), "rb").read()
    digest = hashlib.sha256(original).hexdigest()
    check(digest in by_id("details").text, "the details lack the hash")
    check(not by_id("delete").is_displayed(), "an upload token is offered deleting")
    check(not by_id("show-trash").is_displayed(), "an upload token is offered the trash")
    check("photo-again.png" in by_id("details").text, "the details do not name the same file's other name")
    wait.until(lambda d: (by_id("download").get_attribute("href") or "").startswith("blob:"))
    wait.until(lambda d: d.execute_script("return document.querySelector('#viewer-media img')?.naturalWidth > 0"))
    driver.save_screenshot(os.path.join(shots, "item.png"))
    by_id("download").click()
    saved = os.path.join(downloads, "photo.png")
    deadline = time.time() + 20
    while not (os.path.exists(saved) and os.path.getsize(saved) == len(original)):
        check(time.time() < deadline, "the download did not arrive")
        time.sleep(0.1)
    check(open(saved, "rb").read() == original, "the download differs from the original")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(lambda d: not d.execute_script("return document.getElementById('viewer').open"))

    # A phone's width: nothing runs off the side.
    driver.set_window_size(390, 844)
    wait.until(lambda d: d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))
    # A touch screen, where nothing can be dropped: the area only chooses.
    check("Drop files here" in by_id("drop").text, "a mouse is not offered dropping")
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    wait.until(lambda d: "Drop" not in by_id("drop").text)
    check(by_id("drop").text.strip().lower() == "choose files", f"the phone's upload area: {by_id('drop').text!r}")
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})

    # A read-only token sees no upload area.
    by_id("sign-out").click()
    sign_in(reader)
    check(not by_id("upload").is_displayed(), "a read-only token sees the upload area")
    wait.until(lambda d: count() == total)
    check(not by_id("show-trash").is_displayed(), "a read-only token is offered the trash")
    open_item("photo.png")
    check(not by_id("delete").is_displayed(), "a read-only token is offered deleting")
    close_item()
    no_alert()

    # A delete token: moves an entry to the trash after a confirmation that
    # names it, and restores it from the trash view.
    by_id("sign-out").click()
    sign_in(deleter)
    wait.until(lambda d: count() == total)
    check(by_id("upload").is_displayed(), "a delete token cannot upload")
    open_item("scan.pdf")
    by_id("delete").click()
    check("scan.pdf" in by_id("confirm-text").text, f"the confirmation does not name it: {by_id('confirm-text').text!r}")
    by_id("confirm-no").click()
    check(not by_id("confirm").is_displayed(), "keeping it leaves the confirmation open")
    check(count() == total, "keeping it removed it")
    by_id("delete").click()
    driver.save_screenshot(os.path.join(shots, "delete.png"))
    by_id("confirm-yes").click()
    wait.until(lambda d: not d.execute_script("return document.getElementById('viewer').open"))
    wait.until(lambda d: count() == total - 1)
    check("scan.pdf" not in names(), "the trashed entry is still shown")
    check("trash" in by_id("status").text, f"nothing says where it went: {by_id('status').text!r}")
    driver.refresh()
    wait.until(lambda d: count() == total - 1)
    check("scan.pdf" not in names(), "the trashed entry is back after a reload")
    by_id("show-trash").click()
    wait.until(lambda d: d.execute_script("return document.querySelectorAll('#trash-list li').length") == 1)
    row = driver.find_element(By.CSS_SELECTOR, "#trash-list li")
    check("scan.pdf" in row.text and "removed" in row.text, f"the trash row: {row.text!r}")
    check(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"),
          "the trash view runs off the side of a phone's screen")
    driver.save_screenshot(os.path.join(shots, "trash.png"))
    row.find_element(By.CSS_SELECTOR, "button.restore").click()
    wait.until(lambda d: d.execute_script("return document.querySelectorAll('#trash-list li').length") == 0)
    check("Restored" in by_id("trash-status").text, f"the restore is not said: {by_id('trash-status').text!r}")
    by_id("hide-trash").click()
    wait.until(lambda d: count() == total)
    check("scan.pdf" in names(), "the restored entry is not shown")
    no_alert()
    print("ok")
finally:
    driver.quit()
