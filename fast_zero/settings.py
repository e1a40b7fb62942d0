"""Configuration, read from the environment and from `.env`."""

import os
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fast_zero.refusals import InvalidSettings

DEVELOPMENT_SECRET_KEY = 'development-only-secret-key-change-me-in-production'
MIN_SECRET_KEY_LENGTH = 32
NEW_SECRET_KEY_COMMAND = (
    'python -c "import secrets; print(secrets.token_urlsafe(48))"'
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file='.env', env_file_encoding='utf-8', extra='ignore'
    )

    ENVIRONMENT: Literal['development', 'production'] = 'development'

    DATABASE_URL: str = 'sqlite+aiosqlite:///database.db'
    SQLITE_BUSY_TIMEOUT_MS: int = 5_000
    SQLITE_POOL_SIZE: int = 2
    # Connection pool of a client-server database (not used for SQLite).
    DATABASE_POOL_SIZE: int = 5
    DATABASE_MAX_OVERFLOW: int = 10
    DATABASE_POOL_PRE_PING: bool = True
    DATABASE_POOL_RECYCLE_SECONDS: int = 1_800
    DATABASE_CONNECT_TIMEOUT_SECONDS: int = 5
    HEALTH_CHECK_TIMEOUT_SECONDS: float = 3.0

    SECRET_KEY: str = DEVELOPMENT_SECRET_KEY
    ALGORITHM: str = 'HS256'
    ACCESS_TOKEN_EXPIRE_MINUTES: int = 30
    # No token, however refreshed, outlives its password login by more.
    SESSION_MAX_AGE: timedelta = timedelta(days=7)
    # A session's last_used_at is written at most this often (coarse, so
    # authenticated requests do not each write).
    SESSION_TOUCH_MINUTES: Annotated[int, Field(ge=0)] = 5
    # Live sessions per user; a login past it ends the least recently used.
    MAX_SESSIONS_PER_USER: Annotated[int, Field(ge=1)] = 50
    # A spent refresh token presented again this soon after its rotation
    # is a client's concurrent refresh (400), not theft (session ended).
    REFRESH_REUSE_GRACE_SECONDS: Annotated[int, Field(ge=0, le=10)] = 5

    # Argon2id cost; the defaults are pwdlib's (argon2-cffi's) recommendation.
    ARGON2_TIME_COST: int = 3
    ARGON2_MEMORY_COST: int = 65_536
    ARGON2_PARALLELISM: int = 4
    # The hashing pool (fast_zero/hashing.py): threads hashing at once,
    # and jobs let wait for one; past both, 503 with Retry-After.
    HASHING_THREADS: Annotated[int, Field(ge=1)] = Field(
        default_factory=lambda: os.cpu_count() or 1
    )
    # None: 32 per thread. Only running hashes hold Argon2's memory
    # (ARGON2_MEMORY_COST KiB, 64 MiB by default, each); a waiting one costs
    # latency only: the last admitted waits for 32 rounds of hashes (about
    # 3 s at the default cost), a burst of 50 sign-ups fits on two cores.
    HASHING_QUEUE_SIZE: Annotated[int, Field(ge=0)] | None = None
    HASHING_BUSY_RETRY_AFTER_SECONDS: Annotated[int, Field(ge=1)] = 1

    # Failed logins allowed per moving window, in the `limits` library's
    # notation ('5/minute'); empty: no limit. The address is the socket
    # peer (uvicorn's --forwarded-allow-ips makes it the proxied client).
    LOGIN_RATE_LIMIT_PER_EMAIL: str = '5/minute'
    LOGIN_RATE_LIMIT_PER_ADDRESS: str = '30/minute'
    # One process: memory. Several workers share async+redis://host:6379.
    LOGIN_RATE_LIMIT_STORAGE_URI: str = 'async+memory://'

    # Larger request bodies are refused (413) before being read whole.
    MAX_REQUEST_BODY_BYTES: Annotated[int, Field(ge=0)] = 64 * 1024

    USERNAME_MAX_LENGTH: int = 64
    EMAIL_MAX_LENGTH: int = 254
    PASSWORD_MIN_LENGTH: int = 6
    PASSWORD_MAX_LENGTH: int = 128
    TODO_TITLE_MAX_LENGTH: int = 200
    TODO_DESCRIPTION_MAX_LENGTH: int = 2_000
    TODO_FILTER_MIN_LENGTH: int = 3
    TODO_FILTER_MAX_LENGTH: int = 20

    # None: public in development, behind a token in production.
    USERS_DIRECTORY_PUBLIC: bool | None = None
    CORS_ORIGINS: Annotated[list[str], NoDecode] = []

    # Observability (fast_zero/logs.py, fast_zero/observability.py).
    # None: one JSON object per line in production, readable in development.
    LOG_FORMAT: Literal['json', 'console'] | None = None
    LOG_LEVEL: Literal['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] = (
        'INFO'
    )
    # One record per request from the app (uvicorn's access log then off).
    ACCESS_LOG: bool = True
    METRICS_ENABLED: bool = True
    # Production serves /metrics only to `Authorization: Bearer <this>`.
    METRICS_TOKEN: SecretStr | None = None

    @field_validator('CORS_ORIGINS', mode='before')
    @classmethod
    def split_cors_origins(cls, origins: object) -> object:
        """Read `CORS_ORIGINS` from the environment as a comma list."""
        if isinstance(origins, str):
            return [o.strip() for o in origins.split(',') if o.strip()]
        return origins

    @field_validator('SECRET_KEY')
    @classmethod
    def refuse_weak_secret_in_production(
        cls, secret_key: str, info: ValidationInfo
    ) -> str:
        if info.data.get('ENVIRONMENT') != 'production':
            return secret_key
        if secret_key == DEVELOPMENT_SECRET_KEY:
            raise PydanticCustomError(
                'weak_secret_key',
                'the development default is refused with '
                'ENVIRONMENT=production; set a random one: {command}',
                {'command': NEW_SECRET_KEY_COMMAND},
            )
        if len(secret_key) < MIN_SECRET_KEY_LENGTH:
            raise PydanticCustomError(
                'weak_secret_key',
                'shorter than {length} characters is refused with '
                'ENVIRONMENT=production; set a random one: {command}',
                {
                    'length': MIN_SECRET_KEY_LENGTH,
                    'command': NEW_SECRET_KEY_COMMAND,
                },
            )
        return secret_key

    @property
    def users_directory_public(self) -> bool:
        if self.USERS_DIRECTORY_PUBLIC is not None:
            return self.USERS_DIRECTORY_PUBLIC
        return self.ENVIRONMENT == 'development'

    @property
    def log_format(self) -> str:
        if self.LOG_FORMAT is not None:
            return self.LOG_FORMAT
        return 'json' if self.ENVIRONMENT == 'production' else 'console'

    @property
    def hashing_queue_size(self) -> int:
        if self.HASHING_QUEUE_SIZE is not None:
            return self.HASHING_QUEUE_SIZE
        return 32 * self.HASHING_THREADS


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        # `from None`: the ValidationError would show the values given.
        raise InvalidSettings(error) from None


settings = load_settings()
