"""Run a role's rendered systemd unit outside systemd (the test machine has none): parse the unit
file, check the keys systemd needs, and start its ExecStart= as systemd would (working directory,
stdout appended to the StandardOutput= file), without the User= switch."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path


def parse(text: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(text)
    for section in ("Unit", "Service", "Install"):
        assert unit.has_section(section), f"no [{section}] section"
    assert unit["Service"].get("ExecStart"), "no ExecStart="
    assert unit["Service"].get("User"), "the service must not run as root"
    assert unit["Install"].get("WantedBy") == "multi-user.target"
    return unit


def start(unit: configparser.ConfigParser) -> subprocess.Popen:
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith("/"), "ExecStart= needs an absolute path"
    stdout = subprocess.DEVNULL
    if service.get("StandardOutput", "").startswith("append:"):
        stdout = Path(service["StandardOutput"].removeprefix("append:")).open("ab")  # noqa: SIM115
    return subprocess.Popen(argv, cwd=service.get("WorkingDirectory"), stdout=stdout, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()  # systemd's default KillSignal=SIGTERM
    process.wait(timeout=15)
