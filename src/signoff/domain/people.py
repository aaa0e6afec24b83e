"""People: the states of an account, and the events their changes and sign-ins emit.

An account is active, disabled (cannot sign in, its tokens and sessions are gone, it is asked
for nothing) or deleted (disabled for good; the row stays so that the name is never given to
somebody else: an audit entry naming "rita" must always mean the same person).
"""

from __future__ import annotations

from signoff.errors import InvalidInput

USER_CREATED = "signoff.user.created"
USER_DISABLED = "signoff.user.disabled"
USER_ENABLED = "signoff.user.enabled"
USER_DELETED = "signoff.user.deleted"
USER_GROUPS_CHANGED = "signoff.user.groups_changed"
USER_PASSWORD_CHANGED = "signoff.user.password_changed"
SIGNIN_FAILED = "signoff.auth.signin_failed"
LOCKED_OUT = "signoff.auth.locked_out"

# The reason start-up writes when a config-declared user is no longer in the config. Only a
# disable with exactly this reason is undone when the user is declared again.
REMOVED_FROM_CONFIG = "removed from the configuration"

# Passwords an administrator sets; argon2 takes care of storage, length of guessability.
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

ACTIVE, DISABLED, DELETED = "active", "disabled", "deleted"


def account_state(*, disabled: bool, deleted: bool) -> str:
    return DELETED if deleted else DISABLED if disabled else ACTIVE


def check_password(password: str) -> str:
    """The password, if its length is acceptable; raises InvalidInput."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} "
                           "characters", details={"field": "password"})
    return password
