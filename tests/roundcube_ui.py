"""Roundcube as a person uses it, in the browser of browser.py: the login form and the mail view."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 30  # seconds for a page of the lab's webmail


def wait(driver, condition, timeout: float = WAIT):
    return WebDriverWait(driver, timeout).until(condition)


def login(driver, web: str, user: str, password: str) -> None:
    """Fill and send Roundcube's login form at ``web`` (the answer is left to the caller to judge)."""
    driver.get(f"{web}/")
    wait(driver, ec.presence_of_element_located((By.ID, "rcmloginuser")))
    driver.find_element(By.ID, "rcmloginuser").send_keys(user)
    driver.find_element(By.ID, "rcmloginpwd").send_keys(password)
    driver.find_element(By.ID, "rcmloginsubmit").click()


def logged_in(driver) -> None:
    """Wait until Roundcube shows the mail view: IMAP accepted the login."""
    wait(
        driver,
        lambda d: (
            "_task=mail" in d.current_url and d.execute_script("return !!window.rcmail && rcmail.env.task == 'mail'")
        ),
    )
