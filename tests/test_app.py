import importlib.util
import inspect
from http import HTTPStatus

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from fast_zero.app import app, read_root
from fast_zero.database import get_session
from fast_zero.settings import settings
from tests.helpers import auth


def test_root_deve_retornar_ok_e_ola_mundo(client):
    response = client.get('/')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {'message': 'Olá Mundo!'}


def test_exercicio_html_returns_an_html_page(client):
    response = client.get('/exercicio-html')

    assert response.status_code == HTTPStatus.OK
    assert response.headers['content-type'].startswith('text/html')
    assert '<h1> Olá Mundo </h1>' in response.text


def test_root_is_an_async_route():
    assert inspect.iscoroutinefunction(read_root)


def test_docs_page_is_served(client):
    response = client.get('/docs')

    assert response.status_code == HTTPStatus.OK
    assert response.headers['content-type'].startswith('text/html')


def test_openapi_documents_every_route(client):
    paths = client.get('/openapi.json').json()['paths']
    routes = [
        (route.path, method.lower())
        for route in iter_route_contexts(app.routes)
        # Not the docs' static assets (a Mount): no operation.
        if getattr(route, 'include_in_schema', False)
        for method in route.methods
    ]

    # Included routers' routes too: as many routes as documented operations.
    assert len(routes) == sum(len(methods) for methods in paths.values())
    for path, method in routes:
        assert method in paths[path], (path, method)


@pytest.mark.parametrize(
    ('path', 'method', 'statuses'),
    [
        ('/users/', 'post', {'201', '409', '413', '422', '503'}),
        ('/users/', 'get', {'200', '401', '422'}),
        ('/users/{user_id}', 'get', {'200', '401', '404', '422'}),
        (
            '/users/{user_id}',
            'put',
            {'200', '401', '403', '404', '409', '413', '422', '503'},
        ),
        (
            '/users/{user_id}',
            'delete',
            {'200', '401', '403', '404', '409', '422'},
        ),
        ('/users/me', 'delete', {'200', '401', '409'}),
        (
            '/auth/token',
            'post',
            {'200', '400', '401', '403', '413', '422', '429', '503'},
        ),
        ('/admin/users', 'get', {'200', '401', '403', '422'}),
        (
            '/admin/users/{user_id}',
            'patch',
            {'200', '401', '403', '404', '409', '413', '422'},
        ),
        (
            '/admin/users/{user_id}',
            'delete',
            {'200', '401', '403', '404', '409', '422'},
        ),
        ('/users/me/sessions', 'get', {'200', '401'}),
        ('/users/me/sessions', 'delete', {'200', '401'}),
        (
            '/users/me/sessions/{session_id}',
            'delete',
            {'200', '401', '404', '422'},
        ),
    ],
)
def test_openapi_documents_error_responses(client, path, method, statuses):
    operation = client.get('/openapi.json').json()['paths'][path][method]

    assert set(operation['responses']) == statuses
    for status in statuses - {'200', '201', '422'}:
        schema = operation['responses'][status]['content']['application/json'][
            'schema'
        ]
        expected = 'InvalidGrant' if status == '400' else 'ErrorMessage'
        assert schema == {'$ref': f'#/components/schemas/{expected}'}


def test_openapi_documents_both_grants_of_the_token_route(client):
    schema = client.get('/openapi.json').json()
    body = schema['paths']['/auth/token']['post']['requestBody']['content'][
        'application/x-www-form-urlencoded'
    ]
    form = schema['components']['schemas'][
        body['schema']['$ref'].split('/')[-1]
    ]

    assert form['properties']['grant_type']['enum'] == [
        'password',
        'refresh_token',
    ]
    assert set(form['properties']) == {
        'grant_type',
        'username',
        'password',
        'refresh_token',
    }
    assert {
        name: example['value']['grant_type']
        for name, example in body['examples'].items()
    } == {'password': 'password', 'refresh_token': 'refresh_token'}
    assert schema['components']['schemas']['InvalidGrant']['properties'] == {
        'error': {
            'const': 'invalid_grant',
            'title': 'Error',
            'type': 'string',
        },
        'detail': {'title': 'Detail', 'type': 'string'},
    }


def test_cors_is_off_by_default(client):
    response = client.get('/', headers={'Origin': 'https://app.example.com'})

    assert response.status_code == HTTPStatus.OK
    assert 'access-control-allow-origin' not in response.headers


def build_app_module():
    """A fresh copy of fast_zero.app, built with the current settings."""
    spec = importlib.util.find_spec('fast_zero.app')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cors_client(monkeypatch):
    monkeypatch.setattr(settings, 'CORS_ORIGINS', ['https://app.example.com'])
    with TestClient(build_app_module().app) as client:
        yield client


def test_cors_allows_a_configured_origin(cors_client):
    response = cors_client.options(
        '/users/',
        headers={
            'Origin': 'https://app.example.com',
            'Access-Control-Request-Method': 'POST',
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.headers['access-control-allow-origin'] == (
        'https://app.example.com'
    )


def test_cors_refuses_another_origin(cors_client):
    response = cors_client.options(
        '/users/',
        headers={
            'Origin': 'https://evil.example.com',
            'Access-Control-Request-Method': 'POST',
        },
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.text == 'Disallowed CORS origin'
    assert 'access-control-allow-origin' not in response.headers


# Routing: each router skips paths outside its prefix at once


@pytest.mark.parametrize(
    ('method', 'path'),
    [
        ('GET', '/todos/'),
        ('GET', '/users/me'),
        ('POST', '/auth/refresh_token'),
        ('GET', '/health'),
    ],
)
def test_routes_answer_under_a_root_path(
    monkeypatch, session, token, method, path
):
    """Behind a proxy that serves the app under /api (ASGI root_path),
    request paths carry the root path; each router's prefix check must
    look past it."""
    monkeypatch.setitem(app.dependency_overrides, get_session, lambda: session)
    with TestClient(app, root_path='/api') as client:
        response = client.request(method, f'/api{path}', headers=auth(token))

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    'path', ['/todosx', '/todo/', '/userss/1', '/authx/token', '/x/todos/']
)
def test_paths_that_only_resemble_a_prefix_are_not_found(client, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {'detail': 'Not Found'}
