import secrets
from pathlib import Path

import argon2
import pytest
from pydantic import ValidationError

from fast_zero.settings import (
    DEVELOPMENT_SECRET_KEY,
    MIN_SECRET_KEY_LENGTH,
    Settings,
)

PROJECT_ROOT = Path(__file__).parent.parent


@pytest.fixture
def environment(monkeypatch):
    """No `.env`, no inherited variables: only what the test sets."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_refuses_the_development_secret_key(environment):
    with pytest.raises(ValidationError, match='SECRET_KEY') as error:
        Settings(
            _env_file=None,
            ENVIRONMENT='production',
            SECRET_KEY=DEVELOPMENT_SECRET_KEY,
        )

    assert 'development default' in str(error.value)


def test_production_refuses_the_default_secret_key(environment):
    environment.setenv('ENVIRONMENT', 'production')

    with pytest.raises(ValidationError, match='SECRET_KEY'):
        Settings(_env_file=None)


def test_production_refuses_a_secret_key_of_31_characters(environment):
    with pytest.raises(ValidationError, match='SECRET_KEY') as error:
        Settings(
            _env_file=None,
            ENVIRONMENT='production',
            SECRET_KEY='k' * (MIN_SECRET_KEY_LENGTH - 1),
        )

    assert f'shorter than {MIN_SECRET_KEY_LENGTH}' in str(error.value)


@pytest.mark.parametrize(
    'secret_key',
    ['k' * MIN_SECRET_KEY_LENGTH, secrets.token_urlsafe(36)],
    ids=['32-characters', '48-random-characters'],
)
def test_production_accepts_a_long_secret_key(environment, secret_key):
    settings = Settings(
        _env_file=None, ENVIRONMENT='production', SECRET_KEY=secret_key
    )

    assert settings.SECRET_KEY == secret_key


def test_production_reads_its_secret_key_from_the_environment(environment):
    secret_key = secrets.token_urlsafe(36)
    environment.setenv('ENVIRONMENT', 'production')
    environment.setenv('SECRET_KEY', secret_key)

    settings = Settings(_env_file=None)

    assert (settings.ENVIRONMENT, settings.SECRET_KEY) == (
        'production',
        secret_key,
    )


@pytest.mark.parametrize('secret_key', [DEVELOPMENT_SECRET_KEY, 'short'])
def test_development_accepts_any_secret_key(environment, secret_key):
    settings = Settings(_env_file=None, SECRET_KEY=secret_key)

    assert (settings.ENVIRONMENT, settings.SECRET_KEY) == (
        'development',
        secret_key,
    )


def test_unknown_environment_is_refused(environment):
    with pytest.raises(ValidationError, match='ENVIRONMENT'):
        Settings(_env_file=None, ENVIRONMENT='staging')


def test_defaults(environment):
    settings = Settings(_env_file=None)

    assert settings.ENVIRONMENT == 'development'
    assert settings.DATABASE_URL == 'sqlite+aiosqlite:///database.db'
    assert settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY
    assert settings.ALGORITHM == 'HS256'
    assert settings.ACCESS_TOKEN_EXPIRE_MINUTES == 30  # noqa: PLR2004
    assert (
        settings.USERNAME_MAX_LENGTH,
        settings.EMAIL_MAX_LENGTH,
        settings.PASSWORD_MIN_LENGTH,
        settings.PASSWORD_MAX_LENGTH,
    ) == (64, 254, 6, 128)
    assert settings.USERS_DIRECTORY_PUBLIC is None
    assert settings.CORS_ORIGINS == []


def test_argon2_defaults_are_the_recommended_strength(environment):
    settings = Settings(_env_file=None)

    assert (
        settings.ARGON2_TIME_COST,
        settings.ARGON2_MEMORY_COST,
        settings.ARGON2_PARALLELISM,
    ) == (
        argon2.DEFAULT_TIME_COST,
        argon2.DEFAULT_MEMORY_COST,
        argon2.DEFAULT_PARALLELISM,
    )


def test_cors_origins_are_read_as_a_comma_separated_list(environment):
    environment.setenv(
        'CORS_ORIGINS', 'https://app.example.com, http://localhost:3000,'
    )

    settings = Settings(_env_file=None)

    assert settings.CORS_ORIGINS == [
        'https://app.example.com',
        'http://localhost:3000',
    ]


def test_cors_origins_single_origin(environment):
    environment.setenv('CORS_ORIGINS', 'https://app.example.com')

    settings = Settings(_env_file=None)

    assert settings.CORS_ORIGINS == ['https://app.example.com']


def test_cors_origins_empty_variable_allows_none(environment):
    environment.setenv('CORS_ORIGINS', '')

    settings = Settings(_env_file=None)

    assert settings.CORS_ORIGINS == []


def test_cors_origins_given_as_a_list_are_kept(environment):
    settings = Settings(_env_file=None, CORS_ORIGINS=['https://a.example'])

    assert settings.CORS_ORIGINS == ['https://a.example']


@pytest.mark.parametrize(
    ('environment_name', 'directory_public', 'expected'),
    [
        ('development', None, True),
        ('production', None, False),
        ('development', False, False),
        ('production', True, True),
        ('development', True, True),
        ('production', False, False),
    ],
)
def test_users_directory_public(
    environment, environment_name, directory_public, expected
):
    settings = Settings(
        _env_file=None,
        ENVIRONMENT=environment_name,
        SECRET_KEY=secrets.token_urlsafe(36),
        USERS_DIRECTORY_PUBLIC=directory_public,
    )

    assert settings.users_directory_public is expected


def test_env_file_values_are_read(environment, tmp_path):
    env_file = tmp_path / '.env'
    env_file.write_text(
        'ACCESS_TOKEN_EXPIRE_MINUTES=15\nUNKNOWN_SETTING=ignored\n',
        encoding='utf-8',
    )

    settings = Settings(_env_file=env_file)

    assert settings.ACCESS_TOKEN_EXPIRE_MINUTES == 15  # noqa: PLR2004


def test_checked_in_env_file_holds_development_values(environment):
    settings = Settings(_env_file=PROJECT_ROOT / '.env')

    assert settings.ENVIRONMENT == 'development'
    assert settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY
