"""``digilabo token`` and ``digilabo user``: API tokens and portal users,
through the application layer (``services.accounts``) as the admin pages."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from digilabo.cli_host import console, db_session, err

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="Web portal users.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    department: Annotated[str, typer.Option(help="department code")],
    role: Annotated[str, typer.Option(help="department, operator or admin")] = "department",
    name: Annotated[str, typer.Option(help="user name (default: <department>-<role>)")] = "",
    department_name: Annotated[str, typer.Option(help="department's Japanese name")] = "",
    label: str = "",
) -> None:
    """Create a user (if needed) and print a new token, shown only this once."""
    from services import accounts

    try:
        with db_session() as session:
            token = accounts.issue_token(
                session,
                department=department,
                role=role,
                name=name,
                department_name=department_name,
                label=label,
            )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    print(token)


@user_app.command("create")
def user_create(
    name: str,
    department: Annotated[str, typer.Option(help="department code")],
    role: Annotated[str, typer.Option(help="department, operator or admin")] = "department",
    display_name: Annotated[str, typer.Option(help="name shown in the portal")] = "",
    department_name: Annotated[str, typer.Option(help="department's Japanese name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a portal user (or update one) with a password; asks for it unless --password-stdin."""
    from jobs.errors import DigilaboError
    from services import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with db_session() as session:
            user = accounts.create_user(
                session,
                accounts.SYSTEM,
                name,
                department=department,
                role=role,
                password=password,
                display_name=display_name,
                department_name=department_name,
            )
            user_name, user_role = user.name, user.role
    except DigilaboError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"user {user_name} ({user_role}, {department}) is ready")
