"""README's "The `shuangsui` command" says exactly what the command takes: every line names real (sub)commands,
real options, and no more positional arguments than the command has; every command of the project is listed."""
from __future__ import annotations

import re
from pathlib import Path

import click

from backend.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
# Flask's own commands and the developers' one: not for the people the README speaks to
UNLISTED = {"routes", "shell", "db revision", "openapi print", "openapi list-config-prefixes"}


def readme_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## The `shuangsui` command", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.startswith("shuangsui ")]


def commands(app) -> dict[str, click.Command]:
    return {**main.commands, **app.cli.commands}


def leaves(group: dict[str, click.Command], prefix: str = "") -> set[str]:
    out = set()
    for name, command in group.items():
        if isinstance(command, click.Group):
            out |= leaves(command.commands, f"{prefix}{name} ")
        else:
            out.add(f"{prefix}{name}")
    return out


def check_line(line: str, top: dict[str, click.Command]) -> str:
    """The command path the line shows; AssertionError when it shows something the command does not take."""
    synopsis = re.split(r"\s{2,}", line, maxsplit=1)[0]
    tokens = synopsis.split()[1:]
    command: click.Command | None = None
    path: list[str] = []
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i].strip("[]")
        group = top if command is None else (command.commands if isinstance(command, click.Group) else None)
        if group is not None:
            assert token in group, f"{line!r}: no command {token!r} after {' '.join(path) or 'shuangsui'}"
            command = group[token]
            path.append(token)
        elif token.startswith("-"):
            option = next((p for p in command.params if isinstance(p, click.Option) and token in p.opts), None)
            assert option is not None, f"{line!r}: {' '.join(path)} has no option {token}"
            if not option.is_flag:
                i += 1                         # its value
        else:
            positional.append(token)
        i += 1
    assert command is not None and not isinstance(command, click.Group), f"{line!r}: names no command"
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    assert len(positional) <= len(arguments), f"{line!r}: {' '.join(path)} takes {len(arguments)} arguments"
    assert len(positional) >= sum(1 for a in arguments if a.required), f"{line!r}: an argument is missing"
    for value, argument in zip(positional, arguments):
        choices = getattr(argument.type, "choices", None)
        if choices and not value.isupper():
            assert value in choices, f"{line!r}: {value} is not one of {choices}"
    return " ".join(path)


def test_every_readme_line_is_what_the_command_takes(app):
    top = commands(app)
    shown = {check_line(line, top) for line in readme_lines()}
    assert leaves(top) - UNLISTED <= shown, f"not in README: {sorted(leaves(top) - UNLISTED - shown)}"


def test_the_checker_refuses_what_the_old_readme_said(app):
    top = commands(app)
    for wrong in ["shuangsui calendar show YEAR | due DATE N    a year's rest",
                  "shuangsui calendar due DATE N    N working days after a date",
                  "shuangsui calendar due DATE --weeks N    no such option",
                  "shuangsui import things FILE    no such kind",
                  "shuangsui openapi write    the file is missing"]:
        try:
            check_line(wrong, top)
        except AssertionError:
            continue
        raise AssertionError(f"accepted: {wrong}")
    assert check_line("shuangsui calendar due DATE [--days N] [--today DATE]   the N-th", top) == "calendar due"
