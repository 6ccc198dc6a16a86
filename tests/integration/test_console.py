"""The responder's console in a real headless browser (Debian's Chromium, its driver, Selenium), against
the suite's own stack: the page loads with no console error; during a reproduced legacy outage it shows
exactly one root alert naming the stale write and the deletion; the repair without the token is refused
(401) and the page says so; with the token it brings the endpoint's answers back and the alert clears;
in safe mode the same faults raise no alert at all. Event text is data on the page, never HTML.

Screenshots before, during and after the outage go to DNSRACE_SCREENSHOT_DIR (default
store/integration/console/); docs/console-*.png are copies from such a run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dnsrace.keys import EVENTS_SEQ, EVENTS_STREAM
from dnsrace_lab.stack.names import lab_pythonpath

from .stack import TOP, Stack, wait_for
from .test_outage import lab, use_mode

pytestmark = pytest.mark.integration

SHOTS = Path(os.environ.get("DNSRACE_SCREENSHOT_DIR") or TOP / "store" / "integration" / "console")
WINDOW = (1400, 1800)
PAGE_BOUND_S = 30.0             # the page follows the stream (a status a second): seconds, not minutes
RECOVERY_BOUND_S = 60.0         # the negative TTL (15 s) and the resolver's reload, with room for a loaded machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Never skipped: `make test` installs these (infra/host-deps.sh), and a console test that skips itself
    # where the browser is missing would pass on every machine that cannot run it.
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("python3-selenium")
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `bash infra/host-deps.sh` (make test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any, *, expected: tuple[str, ...] = ()) -> list[str]:
    """What the browser's console said at WARNING or worse since the last call (reading empties it)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] in ("SEVERE", "WARNING") and not any(text in entry["message"] for text in expected)]


def leave_the_page(driver: Any) -> None:
    """Close the console's page (and its event stream) before the lab is reset under it: the reset restarts
    dns-admin, and the stream's dropped connection is the reset's doing, not the page's error."""
    driver.get("about:blank")
    console_errors(driver)   # reading empties the log: what the page said until now is the earlier test's


def status(stack: Stack) -> dict[str, Any]:
    code, body = stack.admin("GET", "/api/status")
    assert code == 200, body
    return dict(body)


def post_repair(stack: Stack, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.ports['admin']}/api/repair", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def operator_batches(stack: Stack) -> list[dict[str, Any]]:
    code, body = stack.admin("GET", "/v1/audit?limit=1000")
    assert code == 200, body
    return [row for row in body["entries"] if row["client"] == "operator" and row["outcome"] == "accepted"]


def on_page(driver: Any, what: str, condition: Any, within_s: float = PAGE_BOUND_S) -> Any:
    return wait_for(what, lambda: condition(driver), within_s=within_s, every_s=0.25)


def alert_state(driver: Any) -> str | None:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, "alert").get_attribute("data-state")


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By
    return str(driver.find_element(By.ID, element_id).text)


def repair_from_the_page(driver: Any, token: str | None) -> None:
    from selenium.webdriver.common.by import By
    field = driver.find_element(By.ID, "token")
    field.clear()
    driver.execute_script("sessionStorage.clear()")
    if token is not None:
        field.send_keys(token)
    driver.find_element(By.ID, "repair").click()
    on_page(driver, "the confirmation names the plan", lambda d: d.find_element(By.ID, "confirm").get_attribute("open")
            is not None and "newest plan that exists" in text_of(d, "confirm-text"))
    driver.find_element(By.ID, "confirm-yes").click()


def make_status(stack: Stack) -> str:
    """What `make status` prints (the recipe runs this module after its state check)."""
    result = subprocess.run([sys.executable, "-m", "dnsrace_lab.stack.status"], cwd=TOP, capture_output=True, text=True,
                            timeout=60, env=stack.env | {"PYTHONPATH": lab_pythonpath()})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def inject_event(stack: Stack, detail: dict[str, Any]) -> None:
    """An event as any service appends one (the same two keys), carrying text a client chose."""
    client = stack.redis()
    try:
        seq = client.incr(EVENTS_SEQ)
        event = {"t": time.time(), "service": "lab", "kind": "note", "plan": None, "token": None,
                 "detail": detail}
        client.xadd(EVENTS_STREAM, {"seq": seq, "event": json.dumps(event)})
    finally:
        client.close()


def test_the_console_through_a_legacy_outage_its_refused_and_its_real_repair(stack: Stack, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    leave_the_page(browser)
    use_mode(stack, "legacy")
    browser.get(f"http://127.0.0.1:{stack.ports['admin']}/")
    # The enactors were just recreated in legacy mode (the suite's previous module ran safe): the page
    # says so once their enactor_started events are in, within the bound.
    on_page(browser, "the page shows a healthy endpoint and three enactors in legacy mode",
            lambda d: alert_state(d) == "none" and len(d.find_elements(By.CSS_SELECTOR, "#enactors tbody tr")) == 3
            and "mode: legacy" in text_of(d, "modes"))
    assert console_errors(browser) == []
    browser.save_screenshot(str(SHOTS / "console-before.png"))
    # Text a client sent is shown as text: an HTML payload in an event stays characters on the page.
    payload = '<img src=x id=injected onerror="document.title=1">'
    inject_event(stack, {"text": payload, "why": "escaping check"})
    on_page(browser, "the payload shows in the timeline as text", lambda d: payload in text_of(d, "timeline"))
    assert browser.find_elements(By.ID, "injected") == [] and browser.title != "1"

    result = lab(stack, "dnsrace_lab.outage", "--scenario", "race", "--mode", "legacy")
    assert result.returncode == 0, result.stdout + result.stderr
    outage_plan = re.search(r"outage plan:\s+(plan-\d{6})", result.stdout).group(1)

    on_page(browser, "one root alert: the endpoint answers empty", lambda d: alert_state(d) == "open"
            and f"aliases {outage_plan}, which no longer exists" in text_of(d, "alert"))
    alert_text = text_of(browser, "alert")
    # One DNS root alert (the cascade's own, EC2's leases, is beside it in #cascade-alert when they lapse).
    assert len(browser.find_elements(By.CSS_SELECTOR, "#alert .root-alert")) == 1
    assert f"endpoint → {outage_plan} written by enactor-a while plan-" in alert_text
    assert re.search(rf"{outage_plan} deleted by enactor-[bc]'s cleanup \(after applying plan-\d+\) [0-9.]+ s later",
                     alert_text), alert_text
    assert "crashed" in alert_text and "legacy.py:42" in alert_text          # grouped under it
    api = status(stack)["alert"]
    assert api["kind"] == "endpoint-empty" and api["summary"].startswith(f"endpoint → {outage_plan} written by enactor-a")
    on_page(browser, "the causal chain is highlighted in the timeline",
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline li.chain")) >= 4)
    assert "crash-looping" in text_of(browser, "enactors")
    assert console_errors(browser) == []
    browser.save_screenshot(str(SHOTS / "console-during.png"))
    terminal = make_status(stack)
    dns_alerts = [line for line in terminal.splitlines() if line.startswith("ALERT") and not line.startswith("ALERT (leases")]
    assert len(dns_alerts) == 1 and api["summary"] in terminal
    (SHOTS / "make-status-during.txt").write_text(terminal)

    # Without the token: refused, said on the page, and nothing changed.
    repairs = len(operator_batches(stack))
    repair_from_the_page(browser, None)
    on_page(browser, "the page says the repair was refused (401)",
            lambda d: "Refused (401 Unauthorized)" in text_of(d, "repair-result"))
    assert post_repair(stack, {})[0] == 401
    assert post_repair(stack, {"Authorization": "Bearer not-the-token-0123456789"})[0] == 403
    assert post_repair(stack, {"Authorization": f"Bearer {stack.admin_token}", "Origin": "http://evil.example"})[0] == 403
    assert len(operator_batches(stack)) == repairs and status(stack)["alert"]["kind"] == "endpoint-empty"

    # With it: repaired, the result and its audit row on the page, the endpoint answers, the alert clears.
    repair_from_the_page(browser, stack.admin_token)
    on_page(browser, "the page shows the repair and its audit row", lambda d: "Repaired:" in text_of(d, "repair-result")
            and "Audit #" in text_of(d, "repair-result") and "accepted" in text_of(d, "repair-result"))
    wait_for("the authoritative view answers", lambda: stack.query(authoritative_view=True).addresses, within_s=20)
    on_page(browser, "the alert clears once clients get answers again", lambda d: alert_state(d) == "none",
            within_s=RECOVERY_BOUND_S)
    assert stack.query().addresses, "the resolver does not answer after the repair"
    assert "The last alert was resolved" in text_of(browser, "alert") and "the operator's repair" in text_of(browser, "alert")
    assert console_errors(browser, expected=("/api/repair - Failed to load resource: the server responded with a "
                                             "status of 401",)) == []
    browser.save_screenshot(str(SHOTS / "console-after.png"))


def test_safe_mode_the_same_faults_raise_no_alert(stack: Stack, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    leave_the_page(browser)
    use_mode(stack, "safe")
    wait_for("no alert before the run", lambda: status(stack)["alert"] is None, within_s=RECOVERY_BOUND_S)
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def watch() -> None:      # the console asked twice a second for the whole run, as a page would
        while not done.is_set():
            alert = status(stack)["alert"]
            if alert is not None:
                seen.append(alert)
            done.wait(0.5)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = lab(stack, "dnsrace_lab.outage", "--scenario", "race", "--mode", "safe")
    finally:
        done.set()
        watcher.join(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert seen == [], f"an alert was raised in safe mode: {seen[0]['title']}"
    final = status(stack)
    assert final["modes"] == ["safe"] and {row["mode"] for row in final["enactors"]} == {"safe"}
    browser.get(f"http://127.0.0.1:{stack.ports['admin']}/")
    on_page(browser, "the page: no alert, safe mode", lambda d: alert_state(d) == "none"
            and "mode: safe" in text_of(d, "modes"))
    assert console_errors(browser) == [] and browser.find_elements(By.CSS_SELECTOR, "#alert .root-alert") == []
