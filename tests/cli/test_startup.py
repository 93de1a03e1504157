"""The CLI starts without its services: Typer needs only the command signatures, so the store,
the web stack, sending and argon2 are imported by the commands that use them."""

from __future__ import annotations

import subprocess
import sys

from clearpixel.audience.csv_import import FlagsMode
from clearpixel.audience.export import ExportFormat
from clearpixel.cli.contacts import FlagsChoice, FormatChoice

HEAVY = ("sqlalchemy", "alembic", "argon2", "fastapi", "uvicorn", "jinja2", "clearpixel.sending")


def test_help_imports_no_service_or_store() -> None:
    script = (
        "import sys\n"
        "from clearpixel.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_cli_choices_are_the_service_modes() -> None:
    assert [c.value for c in FlagsChoice] == [m.value for m in FlagsMode]
    assert [c.value for c in FormatChoice] == [f.value for f in ExportFormat]


def test_export_format_choice_reaches_the_service(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cli("lists", "create", "startup")
    assert cli("contacts", "export", "--list", "startup", "--format", "json").output.strip() == "[]"
