"""`shuangsui draw …`: verify a published record (anyone), and run a task's draw from the command line."""
from __future__ import annotations

import click

from backend.draws.cli import verify_command


@click.group("draw", help="摇号：复核公开的摇号记录")
def draw_group():
    pass


draw_group.add_command(verify_command)
