"""/docs and /redoc in a real browser, with no other host reachable.

Debian's chromium, driven by Playwright (DESIGN L). Every request to a
host other than the service is aborted and recorded; none may be tried.
Without the browser these tests skip, unless REQUIRE_BROWSER=1 (.ci/run),
where they fail.
"""

import json
import os
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright

from tests.live_server import LiveServer, migrate
from tests.test_docs import OPERATION_IDS

CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
]
UI_TIMEOUT_MS = 30_000
ALICE = {
    'username': 'alice',
    'email': 'alice@example.com',
    'password': 'alice-secret-password',
}


@pytest.fixture(scope='module')
def chromium_path():
    if not CHROMIUM.exists():
        reason = f'no browser at {CHROMIUM} (apt-get install chromium)'
        if os.environ.get('REQUIRE_BROWSER') == '1':
            pytest.fail(f'REQUIRE_BROWSER=1 and {reason}')
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def server(tmp_path, fresh_database_url):
    migrate(fresh_database_url)
    server = LiveServer(
        fresh_database_url, tmp_path / 'server.log', settings={}
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def alice(server):
    request = urllib.request.Request(
        f'{server.base_url}/users/',
        data=json.dumps(ALICE).encode(),
        headers={'Content-Type': 'application/json'},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


@pytest.fixture
def browser_page(chromium_path, server):
    """A page that reaches the service only; `page.external` lists every
    request to another host (each one aborted)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        context.set_default_timeout(UI_TIMEOUT_MS)
        external = []

        def only_the_service(route: Route) -> None:
            url = route.request.url
            if url.startswith(f'{server.base_url}/'):
                route.continue_()
            else:
                external.append(url)
                route.abort()

        context.route('**/*', only_the_service)
        page = context.new_page()
        page.external = external
        yield page
        browser.close()


def test_swagger_ui_logs_in_and_tries_out_users_me(
    browser_page: Page, server, alice
):
    page = browser_page
    page.goto(f'{server.base_url}/docs')

    expect(page.locator('.opblock')).to_have_count(len(OPERATION_IDS))

    page.click('.auth-wrapper button.authorize')
    page.fill('#oauth_username', ALICE['email'])
    page.fill('#oauth_password', ALICE['password'])
    page.click('.auth-btn-wrapper button.authorize')
    expect(page.locator('.auth-btn-wrapper button.authorize')).to_have_text(
        'Logout'
    )
    page.click('.auth-btn-wrapper button.btn-done')

    operation = page.locator('#operations-users-users-read_own_profile')
    operation.locator('.opblock-summary').click()
    operation.locator('button.try-out__btn').click()
    operation.locator('button.execute').click()
    answer = operation.locator('.live-responses-table tbody tr.response')
    expect(answer.locator('.response-col_status')).to_have_text('200')
    body = answer.locator('.microlight').first
    expect(body).to_contain_text('alice@example.com')

    assert json.loads(body.inner_text()) == alice
    assert page.external == []


def test_redoc_renders_every_operation(browser_page: Page, server):
    page = browser_page
    page.goto(f'{server.base_url}/redoc')

    expect(page.locator('h1').first).to_contain_text('fast_zero')
    operation = page.locator('[data-section-id="operation/users-create_user"]')
    expect(operation.first).to_be_visible()
    sections = page.locator('[data-section-id^="operation/"]').evaluate_all(
        'nodes => nodes.map(node => node.dataset.sectionId)'
    )

    assert set(sections) == {
        f'operation/{operation_id}' for operation_id in OPERATION_IDS.values()
    }
    assert page.external == []
