"""Roundcube as a person uses it, in the browser of browser.py: the login form and the mail view."""

from __future__ import annotations

from browser import screenshot
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


def save_out_of_office(driver, web: str, subject: str, text: str, shot: str) -> None:
    """Write and switch on an out-of-office reply in Roundcube's settings (its managesieve form,
    loaded on its own with _framed=1), with a screenshot ``shot`` of the filled form, then save it."""
    driver.get(f"{web}/?_task=settings&_action=plugin.managesieve-vacation&_framed=1")
    wait(driver, ec.presence_of_element_located((By.ID, "vacation_reason")))
    driver.find_element(By.ID, "vacation_subject").send_keys(subject)
    driver.find_element(By.ID, "vacation_reason").send_keys(text)
    driver.execute_script("document.getElementById('vacation_status').value = 'on';")
    screenshot(driver, shot)
    driver.execute_script("rcmail.command('plugin.managesieve-save')")
