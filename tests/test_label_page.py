"""The labeling page in a real browser: Debian's chromium and chromium-driver, driven by
Selenium, against the app served by uvicorn on 127.0.0.1.

Skips where the browser or its driver is missing, but fails under ``CI=true`` (.ci/run
installs both). Saves a screenshot to docs/_static/label_page.png for the docs.
"""
import contextlib
import io
import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from hardsample.labeling import make_app, read_labels, write_labels

from .conftest import require_or_skip
from .labeling.clients import client

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "_static" / "label_page.png"
PENDING = [11, 170, 333, 502, 777, 1410]


def _update_screenshot(png):
    """Write the docs' screenshot unless it differs from the committed one only by
    anti-aliasing noise (a few pixels), so that running the tests leaves the tree clean."""
    from matplotlib.image import imread

    if SCREENSHOT.is_file():
        old, new = imread(str(SCREENSHOT)), imread(io.BytesIO(png))
        if old.shape == new.shape and np.mean(np.abs(old - new).sum(-1) > 0.05) < 0.005:
            return
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(png)


@contextlib.contextmanager
def _serve(app):
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; yields its URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The app for 6 pending digits (8x8 images), served by uvicorn on a free port."""
    monkeypatch.chdir(tmp_path)                         # the page shows "labels.csv"
    X, y = load_digits(return_X_y=True)
    pool = (X / 16.0).astype(np.float32)
    labels_path = Path("labels.csv")
    write_labels(labels_path, [3], [y[3]])             # an earlier sitting's label
    app = make_app(pool, PENDING, np.arange(10), labels_path, image_shape=(8, 8))
    with _serve(app) as url:
        yield app, url, labels_path, y


@pytest.fixture
def browser():
    require_or_skip(os.access(CHROMIUM, os.X_OK) or shutil.which("chromium"),
                    "Debian's chromium is not installed (apt-get install chromium)")
    require_or_skip(os.access(CHROMEDRIVER, os.X_OK) or shutil.which("chromedriver"),
                    "chromedriver is not installed (apt-get install chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1100,760", "--disable-gpu"):
        options.add_argument(argument)
    driver_path = CHROMEDRIVER if os.access(CHROMEDRIVER, os.X_OK) else shutil.which("chromedriver")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _post(url, labels):
    """POST labels to the running server: (status, JSON reply)."""
    request = urllib.request.Request(f"{url}/api/labels", method="POST",
                                     data=json.dumps({"labels": labels}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_label_a_batch_in_the_browser(served, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    app, url, labels_path, y = served
    wait = WebDriverWait(browser, 10)
    browser.get(url + "/")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    progress = browser.find_element(By.ID, "progress")
    assert progress.text == "0 / 6 labeled"
    body = browser.find_element(By.TAG_NAME, "body")
    image = browser.find_element(By.ID, "sample-image")
    wait.until(lambda d: d.execute_script(
        "const i = arguments[0]; return i.complete && i.naturalWidth === 8;", image))
    buttons = browser.find_elements(By.CSS_SELECTOR, "#classes button")
    # each class button shows its key, then the class
    assert [(b.find_element(By.TAG_NAME, "kbd").text, b.text) for b in buttons] \
        == [(str(k), f"{k}{k}") for k in range(10)]

    def current():
        return int(browser.find_element(By.ID, "current").get_attribute("data-index"))

    def by_click(label):
        browser.find_element(By.ID, f"class-{label}").click()

    def by_key(label):
        body.send_keys(str(label))

    clicked = {}
    answer_ways = [by_click, by_key, by_click, by_key, by_key, by_click]
    for step, answer in enumerate(answer_ways):
        index = current()
        assert index == PENDING[step]                  # the page moves to the next unlabeled
        if step == 2:
            # a wrong answer by click, undone with the undo button, then answered again
            by_click((y[index] + 1) % 10)
            assert progress.text == f"{step + 1} / 6 labeled" and current() != index
            browser.find_element(By.ID, "undo").click()
            assert progress.text == f"{step} / 6 labeled" and current() == index
        if step == 4:
            # a wrong answer by key, undone with the "u" key
            by_key((y[index] + 3) % 10)
            body.send_keys("u")
            assert progress.text == f"{step} / 6 labeled" and current() == index
        answer(int(y[index]))
        clicked[index] = int(y[index])
        assert progress.text == f"{step + 1} / 6 labeled"
        if step == 3:
            # mid-batch: image, buttons, progress; the mouse off the buttons (no hover)
            ActionChains(browser).move_to_element(progress).perform()
            _update_screenshot(browser.get_screenshot_as_png())
    assert "All 6 samples labeled" in browser.find_element(By.ID, "status").text
    # Backspace undoes too; the last answer is given again by key
    body.send_keys(Keys.BACKSPACE)
    assert progress.text == "5 / 6 labeled" and current() == PENDING[-1]
    by_key(clicked[PENDING[-1]])

    body.send_keys("s")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-saved") == "1")
    assert "Saved: 6 of 6 pending samples labeled; 7 labels" in \
        browser.find_element(By.ID, "status").text
    indices, labels = read_labels(labels_path)
    assert dict(zip(indices.tolist(), labels.tolist())) == {**clicked, 3: int(y[3])}
    saved = labels_path.read_text()

    # refusals, against the running server and (for a foreign client address) the app
    status, reply = _post(url, {"5": 1})
    assert status == 400 and reply["error"] == "sample 5 is not in the pending batch"
    status, reply = _post(url, {str(PENDING[0]): 10})
    assert status == 400 and "label 10 of sample 11 is not one of the classes" in reply["error"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/sample/5.png", timeout=10)
    assert refused.value.code == 404
    outside = client(app, host="10.1.2.3").post(
        "/api/labels", json={"labels": {str(PENDING[0]): 1}})
    assert outside.status_code == 403 and "'10.1.2.3'" in outside.json()["error"]
    assert labels_path.read_text() == saved

    # a reload shows the saved answers
    browser.get(url + "/")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    assert browser.find_element(By.ID, "progress").text == "6 / 6 labeled"


def test_require_or_skip_skips_locally_and_fails_under_ci(monkeypatch):
    require_or_skip(True, "present")                   # nothing happens
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no browser"):
        require_or_skip(False, "no browser")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no browser \\(CI=true"):
        require_or_skip(False, "no browser")


def test_label_a_tabular_batch_with_string_classes(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    pool = np.arange(20.0).reshape(4, 5)
    labels_path = tmp_path / "labels.csv"
    with _serve(make_app(pool, [2, 0], ["cat", "dog", "bird"], labels_path)) as url:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 10)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sample-table tbody tr")) == 5)
        cells = browser.find_elements(By.CSS_SELECTOR, "#sample-table tbody td:last-child")
        assert [c.text for c in cells] == ["10", "11", "12", "13", "14"]   # sample 2's row
        assert not browser.find_element(By.ID, "sample-image").is_displayed()
        browser.find_element(By.TAG_NAME, "body").send_keys("1")         # dog
        wait.until(lambda d: d.find_element(By.ID, "current").get_attribute("data-index") == "0")
        wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, "#sample-table tbody td:last-child").text == "0")
        browser.find_element(By.ID, "class-2").click()                     # bird
        assert browser.find_element(By.ID, "progress").text == "2 / 2 labeled"
        browser.find_element(By.ID, "save").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-saved"))
    assert labels_path.read_text() == "index,label\n0,bird\n2,dog\n"
