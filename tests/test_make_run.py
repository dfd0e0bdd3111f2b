"""`make run` on a fresh clone: it sets itself up, serves, and the printed GOM login works."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Variables of the test run that would steer the clone away from its embedded defaults.
_STEERING = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "MEDIA_ROOT",
    "SECURE_SSL_REDIRECT",
    "DJANGO_SETTINGS_MODULE",
    "VIRTUAL_ENV",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in _STEERING}
    log = (tmp_path / "make-run.log").open("w+")
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert process.poll() is None, Path(log.name).read_text()
            try:
                urllib.request.urlopen(base + "/login/", timeout=5)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("make run did not serve within 10 minutes:\n" + Path(log.name).read_text())
        yield base, Path(log.name).read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def test_make_run_serves_and_the_printed_gom_login_sees_only_their_data(
    served: tuple[str, str],
) -> None:
    base, output = served
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    assert opener.open(base + "/admin/login/").status == 200
    assert opener.open(base + "/login/").status == 200

    gom_email = re.search(r"GOM \(Philippines\)\s+(\S+)", output).group(1)
    password = re.search(r"Password for every demo account: (\S+)", output).group(1)
    login_page = opener.open(base + "/admin/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": gom_email,
            "password": password,
            "next": "/admin/",
        }
    ).encode()
    request = urllib.request.Request(
        base + "/admin/login/?next=/admin/", data=form, headers={"Referer": base + "/admin/login/"}
    )
    assert opener.open(request).geturl() == base + "/admin/"

    orders = opener.open(base + "/admin/payments/grouporder/").read().decode()
    assert "SEVENTEEN" in orders
    assert "ENHYPEN" in orders
    assert "NewJeans" not in orders
    assert "Stray Kids" not in orders
    assert "2 group orders" in orders
    submissions = opener.open(base + "/admin/payments/submission/?all=").read().decode()
    assert "150 submissions" in submissions

    # The printed buyer signs in on the buyer pages and opens an order (the order page's
    # fingerprint statement runs on SQLite too).
    buyer_email = re.search(r"^\s+buyer\s+(\S+@\S+)", output, re.MULTILINE).group(1)
    buyer = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    login_page = buyer.open(base + "/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": buyer_email, "password": password, "next": "/"}
    ).encode()
    home = (
        buyer.open(
            urllib.request.Request(
                base + "/login/", data=form, headers={"Referer": base + "/login/"}
            )
        )
        .read()
        .decode()
    )
    code = re.search(r'href="/s/([A-Z0-9]+)/"', home).group(1)
    for _ in range(2):  # rendered, then from the page cache
        page = buyer.open(f"{base}/s/{code}/")
        assert page.status == 200
        assert f"Order {code}" in page.read().decode()
