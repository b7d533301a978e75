"""The deployment files say what the code does: every setting is in the annotated environment file
(and nothing else is), and the systemd unit runs the commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

from app.cli import build_parser
from app.config import OTHER_MES_VARIABLES, setting_variables

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_the_environment_example_lists_every_setting_and_nothing_else() -> None:
    text = (DEPLOY / "mes.env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*(MES_[A-Z0-9_]+)=", text, re.M))
    assert sorted(set(setting_variables()) - documented) == [], "settings missing from deploy/mes.env.example"
    assert sorted(documented - set(setting_variables()) - OTHER_MES_VARIABLES) == [], "documented but not settings"


def test_the_systemd_unit_runs_mes_commands_that_exist() -> None:
    unit = (DEPLOY / "systemd" / "ashp-mes.service").read_text(encoding="utf-8")
    commands = re.findall(r"^Exec\w+=\S*/mes ([^\n]+)$", unit, re.M)
    assert len(commands) == 3
    parser = build_parser()
    for command in commands:
        parser.parse_args(command.split())  # exits (SystemExit) on a command that does not exist
    assert re.search(r"^UMask=0077$", unit, re.M), "the SQLite file and keys would be created world-readable"
