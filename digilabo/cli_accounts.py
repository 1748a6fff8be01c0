"""``digilabo token`` and ``digilabo user``: API tokens and portal users,
through the application layer (``services.accounts``) as the admin pages."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

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
    expires: Annotated[str, typer.Option(help="lifetime, e.g. 90d, 12h, 2w (default: until revoked)")] = "",
) -> None:
    """Create a user (if needed) and print a new token, shown only this once."""
    from jobs.auth import parse_lifetime
    from services import accounts

    try:
        lifetime = parse_lifetime(expires) if expires else None
        with db_session() as session:
            token = accounts.issue_token(
                session,
                department=department,
                role=role,
                name=name,
                department_name=department_name,
                label=label,
                lifetime=lifetime,
            )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    print(token)


@token_app.command("list")
def token_list(user: Annotated[str, typer.Option(help="only this user's tokens")] = "") -> None:
    """Every token's id, user, state and dates (never the token itself)."""
    from services import accounts

    table = Table("id", "user", "role", "label", "state", "created", "last used", "expires")
    with db_session() as session:
        for t in accounts.list_tokens(session, user or None):
            table.add_row(
                t.id,
                t.user_name,
                t.role,
                t.label,
                t.status(),
                f"{t.created_at:%Y-%m-%d %H:%M}",
                f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "",
                f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "",
            )
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="id (or its first 8+ characters)")]) -> None:
    """Revoke a token at once: it answers 401 from now on."""
    from jobs.errors import DigilaboError
    from services import accounts

    try:
        with db_session() as session:
            info = accounts.revoke_token(session, accounts.CLI, token_id)
            console.print(f"token {info.id} revoked")
    except DigilaboError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc


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
                accounts.CLI,
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
