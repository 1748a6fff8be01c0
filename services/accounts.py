"""People and their access: departments, portal users, API tokens, logins.
The admin pages, the API and the ``digilabo`` command all come here, so each
change is written and audited one way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from config.settings import Settings
from jobs import auth, store, throttle
from jobs import sessions as portal_sessions
from jobs.errors import DigilaboError, JobInputError, NotFound
from jobs.models import Department, User

SYSTEM = store.SYSTEM  # the actor of changes the service makes by itself
CLI = auth.CLI  # the actor of changes made on the server's command line


def save_department(
    session: Session,
    actor: store.Viewer,
    code: str,
    name: str,
    baseline_overrides: Mapping[str, float] | None = None,
    speaker_labels_default: bool | None = None,
) -> Department:
    """Create or update a department: its Japanese name, its manual seconds
    per unit by service and whether its transcriptions label speakers when
    the request does not say (None: keep them)."""
    department = store.ensure_department(code, name, session=session)
    if baseline_overrides is not None:
        department.baseline_overrides = dict(baseline_overrides)
    if speaker_labels_default is not None:
        department.speaker_labels_default = speaker_labels_default
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
    store.audit(
        "user_create",
        session=session,
        viewer=actor,
        user=user.name,
        role=role,
        department=department,
        password_set=password is not None,
    )
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
    lifetime: timedelta | None = None,
    actor: store.Viewer = CLI,
) -> str:
    """A new API token for the user (created when missing, as
    ``<department>-<role>`` by default), audited; shown only this once."""
    store.ensure_department(department, department_name, session=session)
    token, _info = auth.issue_token(
        name or f"{department}-{role}",
        session=session,
        actor=actor,
        department_code=department,
        role=role,
        label=label,
        lifetime=lifetime,
    )
    return token


def create_token(
    session: Session,
    actor: store.Viewer,
    *,
    user_name: str,
    department_code: str,
    role: str,
    label: str = "",
    expires_in: str | None = None,
) -> tuple[str, auth.TokenInfo]:
    """A token for the API's admins: ``expires_in`` like 90d, 12h, 30m, 2w."""
    try:
        lifetime = auth.parse_lifetime(expires_in) if expires_in else None
    except ValueError as exc:
        raise DigilaboError(
            "invalid_request",
            "expires_in は 90d、12h、30m、2w のように指定してください。",
            field="expires_in",
        ) from exc
    return auth.issue_token(
        user_name,
        session=session,
        actor=actor,
        department_code=department_code,
        role=role,
        label=label,
        lifetime=lifetime,
    )


def list_tokens(session: Session, user_name: str | None = None) -> list[auth.TokenInfo]:
    """Every token's id and metadata (never the token itself)."""
    return auth.list_tokens(session=session, user_name=user_name)


def revoke_token(session: Session, actor: store.Viewer, token_id: str) -> auth.TokenInfo:
    """Revoke a token (by id or its first 8+ characters) at once, audited."""
    row = auth.revoke(token_id, session=session, actor=actor)
    return next(t for t in auth.list_tokens(session=session) if t.id == row.id)


def login_limits(settings: Settings) -> throttle.LoginLimits:
    return throttle.LoginLimits(
        settings.login_window_s, settings.login_max_failures_per_user, settings.login_max_failures_per_address
    )


def log_in(
    session: Session, name: str, password: str, *, address: str = "", settings: Settings | None = None
) -> tuple[User, store.Viewer]:
    """The user behind a name and password (audited); AuthError otherwise.
    With ``settings``, a name or address with too many recent failures is
    refused first (LoginThrottled, even with the right password); a success
    clears the name's failures. The portal then starts a session for them
    (``start_session``)."""
    if settings is not None:
        throttle.check_login(name, address, session=session, limits=login_limits(settings))
    user = auth.authenticate(name, password, session=session)
    viewer = auth.viewer_for_user(user)
    throttle.clear_user(name, session=session)
    store.audit("login", session=session, viewer=viewer, via="portal")
    return user, viewer


def log_failed_login(session: Session, name: str, *, address: str = "", refused: bool = False) -> None:
    """Audit a failed login; a wrong password (not a throttled try) also
    counts as a failure for the throttle."""
    if not refused:
        throttle.record_failure(name, address, session=session)
    who = store.Viewer(user_id=None, name=name[:100], department_code="", role="department")
    store.audit(
        "login_throttled" if refused else "login_failed",
        session=session,
        viewer=who,
        via="portal",
        address=address,
    )


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
