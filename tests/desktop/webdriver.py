#!/usr/bin/env python3
"""Drives the installed BQX ML desktop app over WebDriver (tauri-driver + WebKitWebDriver).

Used by tests/desktop/run.sh, inside the Xvfb display. Standard library only.

    webdriver.py open  DRIVER_URL APP            -> prints the session id
    webdriver.py goto  DRIVER_URL SESSION HASH   -> sets location.hash (e.g. #/runs)
    webdriver.py text  DRIVER_URL SESSION TESTID TIMEOUT_S [VALUE...]
                                                 -> waits for [data-testid=TESTID] with
                                                    non-empty text (one of VALUEs when given),
                                                    prints the text
    webdriver.py click DRIVER_URL SESSION TESTID -> clicks [data-testid=TESTID]
    webdriver.py shot  DRIVER_URL SESSION FILE   -> the webview's own screenshot (PNG)
    webdriver.py close DRIVER_URL SESSION
"""

import base64
import json
import sys
import time
import urllib.error
import urllib.request

# The W3C element reference key.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def call(method, url, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        payload = e.read().decode(errors="replace")
        raise SystemExit(f"webdriver: {method} {url} -> HTTP {e.code}: {payload[:500]}")


def wait_driver(base, timeout):
    """Polls GET /status until the driver answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/status", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise SystemExit(f"webdriver: no driver at {base} after {timeout}s")
            time.sleep(0.2)


def main(argv):
    cmd, base = argv[1], argv[2].rstrip("/")
    if cmd == "open":
        wait_driver(base, 60)
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": argv[3]}}}}
        resp = call("POST", base + "/session", caps, timeout=120)
        print(resp["value"]["sessionId"])
    elif cmd == "goto":
        sid, hash_ = argv[3], argv[4]
        call("POST", f"{base}/session/{sid}/execute/sync",
             {"script": "window.location.hash = arguments[0]; return window.location.href;",
              "args": [hash_]})
    elif cmd == "text":
        sid, testid, timeout, wanted = argv[3], argv[4], float(argv[5]), argv[6:]
        deadline = time.monotonic() + timeout
        selector = f'[data-testid="{testid}"]'
        last = None
        while True:
            # One script per poll: the element's text, or null while the page is loading.
            resp = call("POST", f"{base}/session/{sid}/execute/sync", {
                "script": "const e = document.querySelector(arguments[0]);"
                          "return e === null ? null : e.textContent.trim();",
                "args": [selector],
            })
            last = resp.get("value")
            if last and (not wanted or last in wanted):
                print(last)
                return
            if time.monotonic() > deadline:
                err = call("POST", f"{base}/session/{sid}/execute/sync", {
                    "script": "const e = document.querySelector('[data-testid=\"error\"]');"
                              "return [location.href, e === null ? null : e.textContent,"
                              " document.body.innerText.slice(0, 400)];",
                    "args": [],
                }).get("value")
                raise SystemExit(f"webdriver: {selector} shows {last!r}, not "
                                 f"{' or '.join(wanted) or 'any text'}, after {timeout}s "
                                 f"(page: {err})")
            time.sleep(0.2)
    elif cmd == "click":
        sid, testid = argv[3], argv[4]
        found = call("POST", f"{base}/session/{sid}/element",
                     {"using": "css selector", "value": f'[data-testid="{testid}"]'})
        value = found["value"]
        # The W3C key; WebKitWebDriver may answer with the legacy "ELEMENT" only.
        element = value.get(ELEMENT) or value.get("ELEMENT")
        if element is None:
            raise SystemExit(f"webdriver: unexpected element reference {value!r}")
        call("POST", f"{base}/session/{sid}/element/{element}/click", {})
    elif cmd == "shot":
        sid, path = argv[3], argv[4]
        resp = call("GET", f"{base}/session/{sid}/screenshot")
        with open(path, "wb") as f:
            f.write(base64.b64decode(resp["value"]))
    elif cmd == "close":
        sid = argv[3]
        try:
            call("DELETE", f"{base}/session/{sid}", timeout=30)
        except SystemExit as e:
            print(e, file=sys.stderr)
    else:
        raise SystemExit(f"webdriver: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
