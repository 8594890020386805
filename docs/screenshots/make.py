"""Makes the page's screenshots in docs/ from pictures that look like a
phone's (landscapes drawn here with Pillow, seeded: no test patterns, no
one's photos), stored with `ingest` and shown by `ingest serve` in Debian's
Chromium through Selenium.

  target/browser-venv/bin/pip install pillow
  cargo build && target/browser-venv/bin/python docs/screenshots/make.py
"""
import os
import random
import subprocess
import sys
import tempfile
import time

from PIL import Image, ImageDraw, ImageFilter
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "ingest")


def ridge(rng, width, base, rough):
    """A mountain ridge by midpoint displacement: heights across the width."""
    points = [base + rng.uniform(-rough, rough), base + rng.uniform(-rough, rough)]
    spread = rough
    while len(points) < width:
        spread *= 0.55
        out = []
        for a, b in zip(points, points[1:]):
            out += [a, (a + b) / 2 + rng.uniform(-spread, spread)]
        points = out + [points[-1]]
    return [points[int(i * (len(points) - 1) / (width - 1))] for i in range(width)]


def landscape(seed, size=(1200, 900)):
    rng = random.Random(seed)
    w, h = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    hour = rng.choice(["day", "dusk", "dawn"])
    top, bottom = {
        "day": ((70, 130, 210), (190, 220, 245)),
        "dusk": ((40, 40, 110), (250, 150, 90)),
        "dawn": ((120, 150, 210), (250, 210, 170)),
    }[hour]
    for y in range(h):
        t = y / h
        draw.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    sun = (rng.randint(w // 5, 4 * w // 5), rng.randint(h // 8, h // 3))
    r = rng.randint(40, 70)
    glow = (255, 240, 200) if hour == "day" else (255, 200, 140)
    draw.ellipse([sun[0] - r, sun[1] - r, sun[0] + r, sun[1] + r], fill=glow)
    for _ in range(rng.randint(2, 6)):
        cx, cy = rng.randint(0, w), rng.randint(h // 10, h // 2)
        for _ in range(8):
            dx, dy, rr = rng.randint(-90, 90), rng.randint(-20, 20), rng.randint(25, 55)
            draw.ellipse([cx + dx - rr, cy + dy - rr, cx + dx + rr, cy + dy + rr], fill=(245, 245, 250))
    image = image.filter(ImageFilter.GaussianBlur(3))
    draw = ImageDraw.Draw(image)
    layers = rng.randint(2, 4)
    for i in range(layers):
        depth = (i + 1) / layers
        base = h * (0.45 + 0.15 * depth)
        heights = ridge(rng, w, base, h * 0.12 * (1.2 - depth))
        shade = [int(c * (0.85 - 0.45 * depth)) for c in (90, 120, 110)]
        if rng.random() < 0.4:
            shade = [int(c * (0.9 - 0.4 * depth)) for c in (60, 110, 60)]
        draw.polygon([(0, h)] + [(x, heights[x]) for x in range(w)] + [(w, h)], fill=tuple(shade))
    if rng.random() < 0.5:
        water = int(h * 0.82)
        for y in range(water, h):
            t = (y - water) / (h - water)
            draw.line([(0, y), (w, y)], fill=(int(40 + 40 * t), int(90 + 40 * t), int(140 + 30 * t)))
    return image.filter(ImageFilter.GaussianBlur(1.2))


def main():
    shots = os.path.join(ROOT, "docs")
    with tempfile.TemporaryDirectory() as work:
        store = os.path.join(work, "store")
        photos = os.path.join(work, "Camera")
        os.makedirs(photos)
        for i in range(14):
            name = f"IMG_{2031 + i * 7}.jpg"
            landscape(1000 + i).save(os.path.join(photos, name), quality=88)
        run = lambda *args, **kw: subprocess.run([BIN, "--store", store, "--progress", "never", *args], check=True, **kw)
        run("-q", photos)
        token = run("token", "add", "phone", capture_output=True, text=True).stdout.strip()
        server = subprocess.Popen([BIN, "--store", store, "serve", "--listen", "127.0.0.1:0"],
                                  stderr=subprocess.PIPE, text=True)
        try:
            port = None
            while port is None:
                line = server.stderr.readline()
                if "on http://127.0.0.1:" in line:
                    port = line.rsplit(":", 1)[1].strip()
            options = Options()
            options.binary_location = "/usr/bin/chromium"
            for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                        "--window-size=1280,820", "--disable-gpu", "--hide-scrollbars"):
                options.add_argument(arg)
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            wait = WebDriverWait(driver, 30)
            try:
                driver.get(f"http://127.0.0.1:{port}/")
                wait.until(lambda d: d.find_element(By.ID, "sign-in").is_displayed())
                driver.find_element(By.ID, "token").send_keys(token + "\n")
                wait.until(lambda d: d.execute_script(
                    "return [...document.querySelectorAll('#grid img')].filter(i => i.complete && i.naturalWidth > 0).length") == 14)
                time.sleep(0.5)
                driver.save_screenshot(os.path.join(shots, "page-grid.png"))
                driver.find_elements(By.CSS_SELECTOR, "#grid .item")[3].click()
                wait.until(lambda d: d.execute_script("return document.querySelector('#viewer-media img')?.naturalWidth > 0"))
                time.sleep(0.5)
                driver.save_screenshot(os.path.join(shots, "page-item.png"))
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait()
    print("wrote docs/page-grid.png and docs/page-item.png")


if __name__ == "__main__":
    sys.exit(main())
