"""Refusals to start: one line each, `fast_zero: <SETTING>: <rule>; <fix>`.

Kept apart from fast_zero/settings.py, which refuses as it is imported:
the launcher (fast_zero/cli.py) must catch its refusal.
"""

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# Setting errors whose message already says what to do ('<rule>; <fix>').
SELF_EXPLAINED_ERRORS = {'weak_secret_key'}


def refusal(setting: str, rule: str, fix: str) -> str:
    return f'fast_zero: {setting}: {rule}; {fix}'


def setting_refusal(error: ErrorDetails) -> str:
    """The line for one of pydantic's errors: its location and message
    only, never `input_value` (which may be a secret)."""
    setting = '.'.join(str(part) for part in error['loc']) or 'settings'
    if error['type'] in SELF_EXPLAINED_ERRORS:
        return f'fast_zero: {setting}: {error["msg"]}'
    return refusal(
        setting, error['msg'], f'set {setting} in the environment or in .env'
    )


class InvalidSettings(Exception):
    """Settings that cannot be used; its text is one refusal per error."""

    def __init__(self, error: ValidationError):
        self.refusals = [setting_refusal(item) for item in error.errors()]
        super().__init__('\n'.join(self.refusals))
