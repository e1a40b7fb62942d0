"""The API's documentation: offline /docs and /redoc, and a schema that
generated clients can name (tests/test_browser.py drives them for real)."""

import re
from http import HTTPStatus

import pytest

# Every operation, by its declared id (a client's method names).
OPERATION_IDS = {
    ('get', '/'): 'root-read_root',
    ('get', '/health'): 'health-read_health',
    ('post', '/auth/token'): 'auth-login_for_access_token',
    ('post', '/auth/refresh_token'): 'auth-refresh_access_token',
    ('post', '/auth/logout'): 'auth-logout',
    ('post', '/users/'): 'users-create_user',
    ('get', '/users/'): 'users-read_users',
    ('get', '/users/me'): 'users-read_own_profile',
    ('patch', '/users/me'): 'users-update_own_profile',
    ('delete', '/users/me'): 'users-delete_own_account',
    ('put', '/users/me/password'): 'users-change_password',
    ('get', '/users/me/sessions'): 'users-list_own_sessions',
    ('delete', '/users/me/sessions'): 'users-end_own_sessions',
    ('delete', '/users/me/sessions/{session_id}'): 'users-end_own_session',
    ('get', '/users/{user_id}'): 'users-read_user',
    ('put', '/users/{user_id}'): 'users-update_user',
    ('delete', '/users/{user_id}'): 'users-delete_user',
    ('post', '/todos/'): 'todos-create_todo',
    ('get', '/todos/'): 'todos-list_todos',
    ('patch', '/todos/{todo_id}'): 'todos-patch_todo',
    ('delete', '/todos/{todo_id}'): 'todos-delete_todo',
    ('get', '/admin/users'): 'admin-list_users',
    ('patch', '/admin/users/{user_id}'): 'admin-update_account_flags',
    ('delete', '/admin/users/{user_id}'): 'admin-delete_user',
}
# Any address a page could load from another host.
EXTERNAL_URL = re.compile(r'(https?:)?//[a-z0-9]', re.IGNORECASE)
STATIC = '/static-offline-docs'


@pytest.fixture
def openapi(client):
    return client.get('/openapi.json').json()


def test_every_operation_has_its_declared_id(openapi):
    operation_ids = {
        (method, path): operation['operationId']
        for path, operations in openapi['paths'].items()
        for method, operation in operations.items()
    }

    assert operation_ids == OPERATION_IDS


def test_pages_that_are_not_operations_stay_out_of_the_schema(openapi):
    assert '/exercicio-html' not in openapi['paths']
    assert '/docs' not in openapi['paths']


def test_the_api_has_a_description(openapi):
    assert 'log in\nwith your **email**' in openapi['info']['description']


def test_login_form_says_username_takes_the_email(openapi):
    schemes = openapi['components']['securitySchemes']
    form = openapi['components']['schemas']['Body_auth-login_for_access_token']

    assert schemes['OAuth2PasswordBearer']['description'] == (
        'Log in with your email in the `username` field.'
    )
    assert form['properties']['username']['description'] == (
        'Your email address (the login is by email; password grant).'
    )
    # Which fields are required depends on the grant (422 without them).
    assert 'required' not in form


@pytest.mark.parametrize(
    ('page', 'assets'),
    [
        (
            '/docs',
            [
                f'{STATIC}/swagger-ui-bundle.js',
                f'{STATIC}/swagger-ui.css',
                f'{STATIC}/favicon.png',
            ],
        ),
        ('/redoc', [f'{STATIC}/redoc.standalone.js', f'{STATIC}/favicon.png']),
    ],
)
def test_docs_pages_load_assets_from_the_app_only(client, page, assets):
    response = client.get(page)

    assert response.status_code == HTTPStatus.OK
    assert EXTERNAL_URL.findall(response.text) == []
    for asset in assets:
        assert f'"{asset}"' in response.text
        served = client.get(asset)
        assert served.status_code == HTTPStatus.OK
        assert len(served.content) > 0


def test_swagger_ui_does_not_call_its_online_validator(client):
    response = client.get('/docs')

    assert '"validatorUrl": null' in response.text


def test_oauth2_redirect_page_is_served(client):
    response = client.get('/docs/oauth2-redirect')

    assert response.status_code == HTTPStatus.OK
    assert 'window.opener.swaggerUIRedirectOauth2' in response.text
    assert EXTERNAL_URL.findall(response.text) == []


def test_redoc_page_fetches_images_from_the_app_only(client):
    response = client.get('/redoc')

    assert response.headers['Content-Security-Policy'] == (
        "img-src 'self' data:"
    )
