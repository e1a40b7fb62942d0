"""Failed-login limits, per email and per client address.

Password guessing is slowed per account (the email) and per client (its
address), with the `limits` library's moving windows: at most N failures
in any window of the limit's length. The address limit is higher, so
that people behind one NAT are not locked out together.

The client address is the socket peer, `request.client.host`. Behind a
reverse proxy, run uvicorn with `--forwarded-allow-ips=<proxy address>`:
uvicorn then puts the client named in the proxy's `X-Forwarded-For` there,
and ignores that header from any other peer, so a client cannot choose
the address it is counted under.
"""

import logging
import math
import time
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from fast_zero import metrics
from fast_zero.logs import RateLimitedWarning
from fast_zero.settings import settings

logger = logging.getLogger(__name__)

EMAIL_KEY = 'login-email'
ADDRESS_KEY = 'login-address'


class TooManyLoginAttempts(HTTPException):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            status_code=HTTPStatus.TOO_MANY_REQUESTS,
            detail='Too many login attempts',
            headers={'Retry-After': str(retry_after_seconds)},
        )


def parse_limit(limit: str) -> RateLimitItem | None:
    """A limit from its setting, e.g. '5/minute'; None (no limit) if empty."""
    return parse(limit) if limit.strip() else None


def client_address(request: Request) -> str | None:
    """The socket peer, as uvicorn's trusted-proxy handling leaves it."""
    return request.client.host if request.client else None


class LoginLimiter:
    """Counts failed logins; refuses a login over either limit.

    The email's attempt is counted when the login starts, before the
    password is verified, and forgotten when it succeeds: concurrent
    guesses at one account cannot all slip in before the first fails
    (one that then meets a full hashing pool, 503, still counts).
    The address counts failures only, so the successful logins of many
    people behind one address do not add up.
    """

    def __init__(
        self, *, per_email: str, per_address: str, storage_uri: str
    ) -> None:
        self.per_email = parse_limit(per_email)
        self.per_address = parse_limit(per_address)
        self.limiter = MovingWindowRateLimiter(
            storage_from_string(storage_uri)
        )
        self.warn_limited = RateLimitedWarning(
            logger, 'Failed-login limit reached: answering 429'
        )

    async def start_attempt(self, *, email: str, address: str | None) -> None:
        """Count an attempt at `email`, or 429 if over a limit."""
        if address is not None and self.per_address:
            if not await self.limiter.test(
                self.per_address, ADDRESS_KEY, address
            ):
                raise await self._too_many(
                    self.per_address, ADDRESS_KEY, address
                )
        if self.per_email and not await self.limiter.hit(
            self.per_email, EMAIL_KEY, email
        ):
            raise await self._too_many(self.per_email, EMAIL_KEY, email)

    async def record_failure(self, *, address: str | None) -> None:
        metrics.login_failures.inc()
        if address is not None and self.per_address:
            await self.limiter.hit(self.per_address, ADDRESS_KEY, address)

    async def record_success(self, *, email: str) -> None:
        if self.per_email:
            await self.limiter.clear(self.per_email, EMAIL_KEY, email)

    async def _too_many(
        self, limit: RateLimitItem, *identifiers: str
    ) -> TooManyLoginAttempts:
        """429, retry when the window's oldest attempt leaves it."""
        metrics.login_rate_limited.inc()
        self.warn_limited()
        window = await self.limiter.get_window_stats(limit, *identifiers)
        wait_seconds = math.ceil(window.reset_time - time.time())
        return TooManyLoginAttempts(retry_after_seconds=max(1, wait_seconds))


def build_login_limiter() -> LoginLimiter:
    return LoginLimiter(
        per_email=settings.LOGIN_RATE_LIMIT_PER_EMAIL,
        per_address=settings.LOGIN_RATE_LIMIT_PER_ADDRESS,
        storage_uri=settings.LOGIN_RATE_LIMIT_STORAGE_URI,
    )


login_limiter = build_login_limiter()


async def get_login_limiter() -> LoginLimiter:
    """The limiter in use (async: no thread hop for a plain lookup)."""
    return login_limiter


LoginLimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]
