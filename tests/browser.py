"""Debian's chromium, headless, driven by selenium through Debian's chromedriver (no downloads)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "artifacts"


def spki_sha256(cert: Path) -> str:
    """base64 SHA-256 of the certificate's public key: what Chromium may be told to trust, alone."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"], capture_output=True, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.stdout, capture_output=True,
                         check=True)  # fmt: skip
    return base64.b64encode(hashlib.sha256(der.stdout).digest()).decode()


def chromium_for(host: str, cert: Path) -> webdriver.Chrome:
    """A browser that reaches ``host`` on 127.0.0.1 and trusts only the lab certificate ``cert``."""
    return chromium(
        (f"--host-resolver-rules=MAP {host} 127.0.0.1", f"--ignore-certificate-errors-spki-list={spki_sha256(cert)}")
    )


def chromium(extra_args: tuple[str, ...] = ()) -> webdriver.Chrome:
    profile = tempfile.mkdtemp(prefix="govmail-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=900,1100",
        f"--user-data-dir={profile}",
        *extra_args,
    ):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    driver._govmail_profile = profile  # removed by close()
    return driver


def close(driver) -> None:
    profile = getattr(driver, "_govmail_profile", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def click_and_wait_for_next_page(driver, element, timeout: float = 15) -> None:
    """Click and wait until a new document has loaded in place of the current one.

    The old document is marked before the click; waiting on the mark rather than on the old element's
    staleness avoids chromium's race ("Node with given id does not belong to the document") while the
    page is being replaced.
    """
    driver.execute_script("window.govmailPreviousPage = true;")
    element.click()

    def replaced(drv) -> bool:
        return bool(drv.execute_script(
            "return window.govmailPreviousPage === undefined && document.readyState === 'complete';"
        ))  # fmt: skip

    WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(replaced)
