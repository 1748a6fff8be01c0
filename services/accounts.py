"""People and their access: departments, portal users, API tokens, logins.
The admin pages, the API and the ``digilabo`` command all come here, so each
change is written and audited one way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from jobs import auth, store
from jobs import sessions as portal_sessions
from jobs.errors import JobInputError, NotFound
from jobs.models import Department, User

SYSTEM = store.SYSTEM  # the actor of changes made on the server's command line


def save_department(
    session: Session,
    actor: store.Viewer,
    code: str,
    name: str,
    baseline_overrides: Mapping[str, float] | None = None,
) -> Department:
    """Create or update a department: its Japanese name and its manual seconds
    per unit by service (None: keep them)."""
    department = store.ensure_department(code, name, session=session)
    if baseline_overrides is not None:
        department.baseline_overrides = dict(baseline_overrides)
    store.audit("department", session=session, viewer=actor, department=code)
    return department


def department_names(session: Session) -> dict[str, str]:
    """Department code -> its Japanese name, for every department."""
    return {d.code: d.name for d in store.list_departments(session=session)}


def list_users(session: Session) -> Sequence[User]:
    return store.list_users(session=session)


def check_choice(session: Session, department: str, role: str) -> None:
    if role not in auth.ROLES:
        raise JobInputError("invalid_role", "役割の指定が正しくありません。")
    if session.get(Department, department) is None:
        raise NotFound("部署")


def create_user(
    session: Session,
    actor: store.Viewer,
    name: str,
    *,
    department: str,
    role: str,
    password: str | None,
    display_name: str = "",
    department_name: str | None = None,
) -> User:
    """Create a portal user (or update one), audited. ``department_name``
    given: the department is created when missing (command line); otherwise
    it must exist (admin page)."""
    if department_name is not None:
        store.ensure_department(department, department_name, session=session)
    else:
        check_choice(session, department, role)
    user = auth.create_user(
        name,
        session=session,
        department_code=department,
        role=role,
        password=password,
        display_name=display_name,
    )
    store.audit("user", session=session, viewer=actor, user=user.name, role=role, department=department)
    return user


def update_user(
    session: Session, actor: store.Viewer, user_id: str, *, department: str, role: str, active: bool
) -> User:
    check_choice(session, department, role)
    user = store.get_user(user_id, session=session)
    if user.id == actor.user_id and (role != "admin" or not active):
        raise JobInputError("self_lockout", "自分自身の管理者権限を外したり、無効にしたりはできません。")
    user.department_code, user.role, user.active = department, role, active
    if not active:
        portal_sessions.end_all(user.id, session=session)
    store.audit("user", session=session, viewer=actor, user=user.name, role=role, active=active)
    return user


def reset_password(session: Session, actor: store.Viewer, user_id: str, password: str) -> User:
    user = store.get_user(user_id, session=session)
    auth.set_password(user, password)
    portal_sessions.end_all(user.id, session=session)
    store.audit("password", session=session, viewer=actor, user=user.name)
    return user


def issue_token(
    session: Session,
    *,
    department: str,
    role: str = "department",
    name: str = "",
    department_name: str = "",
    label: str = "",
) -> str:
    """A new API token for the user (created when missing, as
    ``<department>-<role>`` by default); shown only this once."""
    store.ensure_department(department, department_name, session=session)
    user = auth.ensure_user(
        name or f"{department}-{role}", session=session, department_code=department, role=role
    )
    return auth.create_token(user, session=session, label=label)


def log_in(session: Session, name: str, password: str) -> tuple[User, store.Viewer]:
    """The user behind a name and password (audited); AuthError otherwise.
    The portal then starts a session for them (``start_session``)."""
    user = auth.authenticate(name, password, session=session)
    viewer = auth.viewer_for_user(user)
    store.audit("login", session=session, viewer=viewer, via="portal")
    return user, viewer


def log_failed_login(session: Session, name: str) -> None:
    who = store.Viewer(user_id=None, name=name[:100], department_code="", role="department")
    store.audit("login_failed", session=session, viewer=who, via="portal")


def start_session(session: Session, user_id: str, lifetime_s: float) -> str:
    """A new portal session for the user; returns the id its cookie carries."""
    return portal_sessions.start(user_id, lifetime_s, session=session)


def session_user(session: Session, session_id: str) -> str | None:
    """The user of a live portal session, or None (unknown, ended, expired)."""
    return portal_sessions.user_of(session_id, session=session)


def log_out(session: Session, user_id: str, session_id: str) -> None:
    """End every portal session of the user (every browser, a copied cookie
    too), when ``session_id`` is a live session of theirs."""
    if portal_sessions.user_of(session_id, session=session) == user_id:
        portal_sessions.end_all(user_id, session=session)
