"""The container image, built by scripts/build-image and run as it ships.

No container runtime can start a container on these machines (the sandbox
refuses its setrlimit), so the image's own entrypoint and command run in a
chroot of the mounted image (`buildah mount`), as the image's user, in its
working directory, with its environment, as process 1 of a PID namespace
of their own (signals reach them as in a container), with a private mount
namespace holding /dev, /proc and the volume, on the host's loopback
network. What a runtime adds beyond that (its own network, cgroups,
capabilities dropped) is not tested here.
"""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path
from uuid import uuid4

import httpx2
import pytest
import yaml
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from fast_zero.settings import Settings
from tests.conftest import TEST_DATABASE_URL
from tests.live_server import free_port

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGE = 'localhost/fast_zero:latest'
# A first build makes the Debian base (minutes); later ones reuse it and
# every unchanged layer.
BUILD_TIMEOUT_SECONDS = 1_800
PORT = 8000
STARTUP_TIMEOUT_SECONDS = 60
# `docker stop` sends SIGTERM, then SIGKILL after this grace period.
DOCKER_STOP_GRACE_SECONDS = 10
POLL_INTERVAL_SECONDS = 0.1

# Mounts what a runtime would (devices, /proc, the volume), then runs the
# command as the image's user from its working directory. Each `sh` execs,
# so the command is process 1 of the new PID namespace.
ENTER_IMAGE = """
root=$1 volume=$2 mount_point=$3 user=$4 workdir=$5; shift 5
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount --bind "$volume" "$root$mount_point"
exec chroot --userspec="$user" "$root" \
  /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
"""

# Building and mounting images, and chroot, need root; CI runs as root.
if os.geteuid() != 0 and not os.environ.get('CI'):
    pytest.skip('building images needs root', allow_module_level=True)


@pytest.fixture(scope='module')
def image_config():
    """The image's configuration, after building it (or reusing layers)."""
    build = subprocess.run(
        [REPO_ROOT / 'scripts' / 'build-image', IMAGE],
        check=False,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    assert build.returncode == 0, build.stderr[-5_000:]
    inspect = subprocess.run(
        ['buildah', 'inspect', '--type', 'image', IMAGE],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(inspect.stdout)['Docker']['config']


@pytest.fixture(scope='module')
def image_root(image_config):
    """The image's file system, mounted on a throw-away working copy."""
    container = f'fast_zero-test-{uuid4().hex[:12]}'
    subprocess.run(
        ['buildah', 'from', '--pull-never', '--name', container, IMAGE],
        check=True,
        capture_output=True,
    )
    try:
        mount = subprocess.run(
            ['buildah', 'mount', container],
            check=True,
            capture_output=True,
            text=True,
        )
        yield Path(mount.stdout.strip())
    finally:
        subprocess.run(
            ['buildah', 'rm', container], check=True, capture_output=True
        )


def image_environment(config):
    return dict(line.split('=', 1) for line in config['Env'])


def run_in_image(root, config, volume, command, *, env, **popen_args):
    """Start `command` inside the image as a container runtime would."""
    (mount_point,) = config['Volumes']
    return subprocess.Popen(
        [
            'unshare', '--mount', '--propagation', 'private',
            '--pid', '--fork', '--kill-child', '--',
            'sh', '-ec', ENTER_IMAGE, 'sh',
            root, volume, mount_point, config['User'], config['WorkingDir'],
            *command,
        ],
        env={**image_environment(config), **env},
        **popen_args,
    )  # fmt: skip


def run_to_the_end(root, config, volume, command, *, env):
    """Run `command` in the image: its exit status and output."""
    process = run_in_image(
        root,
        config,
        volume,
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output, _ = process.communicate(timeout=STARTUP_TIMEOUT_SECONDS)
    return process.returncode, output


def on_port(command, port):
    """`command` with the value of its `--port` option replaced."""
    at = command.index('--port') + 1
    return [*command[:at], str(port), *command[at + 1 :]]


def health_check_on_port(config, port):
    kind, *command = config['Healthcheck']['Test']
    assert kind == 'CMD'
    address = f'127.0.0.1:{PORT}/health'
    assert any(address in argument for argument in command)
    return [a.replace(f':{PORT}/', f':{port}/') for a in command]


def process_ids(status_path):
    fields = dict(
        line.split(':', 1)
        for line in status_path.read_text(encoding='utf-8').splitlines()
    )
    return {
        name: {int(value) for value in fields[name].split()}
        for name in ('Uid', 'Gid')
    }


class Service:
    """The image's entrypoint and command, on a free port of the loopback
    (the host's network is shared: 8000 may be taken)."""

    def __init__(self, root, config, volume, log_path, *, settings):
        self.root = root
        self.config = config
        self.volume = volume
        self.log_path = log_path
        self.settings = settings
        self.port = free_port()
        self.base_url = f'http://127.0.0.1:{self.port}'
        self.process = None

    def start(self):
        command = self.config['Entrypoint'] + self.config['Cmd']
        with self.log_path.open('ab') as log:
            self.process = run_in_image(
                self.root,
                self.config,
                self.volume,
                on_port(command, self.port),
                env=self.settings,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                with urllib.request.urlopen(
                    f'{self.base_url}/health', timeout=1
                ):
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(POLL_INTERVAL_SECONDS)
        pytest.fail(f'no answer in {STARTUP_TIMEOUT_SECONDS} s:\n{self.log()}')

    def run(self, command):
        """Another command in the image (as `docker exec` would run it):
        its exit status."""
        status, _ = run_to_the_end(
            self.root, self.config, self.volume, command, env=self.settings
        )
        return status

    @property
    def pid(self):
        """The host's id of the service (process 1 of its namespace)."""
        unshare = self.process.pid
        children = Path(f'/proc/{unshare}/task/{unshare}/children')
        (child,) = children.read_text(encoding='ascii').split()
        return int(child)

    def stop(self):
        """Kill the service itself first: it dropped to the image's user,
        which clears the parent-death signal, so killing `unshare` alone
        would leave it serving."""
        if self.process.poll() is None:
            with contextlib.suppress(
                ValueError, ProcessLookupError, FileNotFoundError
            ):
                os.kill(self.pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()

    def log(self):
        return self.log_path.read_text(encoding='utf-8', errors='replace')


def stored_usernames(service):
    """Read from the service's database itself: the image's SQLite file
    on the volume, or the PostgreSQL database it was given."""
    url = make_url(
        service.settings.get('DATABASE_URL')
        or image_environment(service.config)['DATABASE_URL']
    )
    if url.get_backend_name() == 'sqlite':
        (mount_point,) = service.config['Volumes']
        path = Path(url.database).relative_to(mount_point)
        url = url.set(drivername='sqlite', database=str(service.volume / path))
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        usernames = connection.scalars(text('SELECT username FROM users'))
        result = list(usernames)
    engine.dispose()
    return result


@pytest.fixture
def database_settings(request):
    """The image's own default (SQLite on its volume), or a fresh database
    on the throw-away PostgreSQL server when TEST_DATABASE_URL is set."""
    if not TEST_DATABASE_URL:
        return {}
    return {'DATABASE_URL': request.getfixturevalue('fresh_database_url')}


@pytest.fixture
def volume(image_config, tmp_path):
    """A throw-away volume, owned by the image's user as Docker's are."""
    volume = tmp_path / 'volume'
    volume.mkdir()
    uid, gid = image_config['User'].split(':')
    os.chown(volume, int(uid), int(gid))
    return volume


@pytest.fixture
def service(image_root, image_config, database_settings, volume, tmp_path):
    service = Service(
        image_root,
        image_config,
        volume,
        tmp_path / 'service.log',
        settings={
            'SECRET_KEY': secrets.token_urlsafe(48),
            **database_settings,
        },
    )
    service.start()
    yield service
    service.stop()


def test_image_runs_the_launcher_as_a_non_root_user(image_config):
    uid, gid = image_config['User'].split(':')
    assert int(uid) != 0
    assert int(gid) != 0
    assert image_config['ExposedPorts'] == {f'{PORT}/tcp': {}}
    assert image_config['Entrypoint'] == ['fast-zero']
    assert image_config['Cmd'] == [
        'serve', '--host', '0.0.0.0', '--port', str(PORT),
    ]  # fmt: skip
    assert image_config['WorkingDir'] == '/app'
    assert image_config['StopSignal'] == 'SIGTERM'
    assert image_environment(image_config)['ENVIRONMENT'] == 'production'


def test_image_holds_the_service_and_nothing_else(image_root, image_config):
    # A checkout's layout (DESIGN G), without tests or development files.
    assert sorted(p.name for p in (image_root / 'app').iterdir()) == [
        'alembic.ini',
        'fast_zero',
        'migrations',
    ]
    site_packages = next((image_root / 'opt/venv/lib').glob('python3*'))
    installed = {
        p.name.split('-')[0].lower()
        for p in (site_packages / 'site-packages').glob('*.dist-info')
    }
    assert {'fast_zero', 'asyncpg', 'psycopg', 'uvicorn'} <= installed
    assert not installed & {'pytest', 'ruff', 'schemathesis', 'pip'}
    # The build secret was mounted for two steps and is stored nowhere.
    assert not (image_root / 'run/secrets/pip_ca').exists()
    assert 'PIP_CERT' not in image_environment(image_config)


def test_image_refuses_to_start_without_a_secret_key(
    image_root, image_config, volume
):
    command = image_config['Entrypoint'] + image_config['Cmd']

    status, output = run_to_the_end(
        image_root, image_config, volume, command, env={}
    )

    assert status == 1
    assert 'SECRET_KEY' in output
    assert 'Traceback' not in output
    assert not any(volume.iterdir())


def test_health_and_the_images_health_check(service, image_config):
    with httpx2.Client(base_url=service.base_url) as client:
        response = client.get('/health')

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        'status': 'ok',
        'database': 'ok',
        'migrations': 'ok',
    }
    assert service.run(health_check_on_port(image_config, service.port)) == 0
    # Nothing answering: the check fails.
    assert service.run(health_check_on_port(image_config, free_port())) != 0


def test_service_runs_as_the_images_user(service, image_config):
    uid, gid = (int(i) for i in image_config['User'].split(':'))

    ids = process_ids(Path(f'/proc/{service.pid}/status'))

    assert ids == {'Uid': {uid}, 'Gid': {gid}}


def test_sign_up_login_and_todo_round_trip(service):
    with httpx2.Client(base_url=service.base_url) as client:
        sign_up = client.post(
            '/users/',
            json={
                'username': 'alice',
                'email': 'alice@example.com',
                'password': 's3cret-pass',
            },
        )
        login = client.post(
            '/auth/token',
            data={'username': 'alice@example.com', 'password': 's3cret-pass'},
        )
        auth = {'Authorization': f'Bearer {login.json()["access_token"]}'}
        created = client.post(
            '/todos/',
            headers=auth,
            json={'title': 'Ship it', 'description': 'image', 'state': 'todo'},
        )
        listed = client.get('/todos/', headers=auth)
        deleted = client.delete(f'/todos/{created.json()["id"]}', headers=auth)
        after = client.get('/todos/', headers=auth)

    assert sign_up.status_code == HTTPStatus.CREATED
    assert sign_up.json() == {
        'id': 1,
        'username': 'alice',
        'email': 'alice@example.com',
    }
    assert login.status_code == HTTPStatus.OK
    assert login.json()['token_type'] == 'bearer'
    assert created.status_code == HTTPStatus.CREATED
    todo = {'id': 1, 'title': 'Ship it', 'description': 'image'}
    assert created.json() == {**todo, 'state': 'todo'}
    assert listed.status_code == HTTPStatus.OK
    assert listed.json() == {'todos': [{**todo, 'state': 'todo'}]}
    assert deleted.json() == {'message': 'Task has been deleted successfully.'}
    assert after.json() == {'todos': []}
    assert stored_usernames(service) == ['alice']
    assert 'Traceback' not in service.log()


def test_sigterm_ends_the_service_with_0_within_docker_stops_grace(service):
    with httpx2.Client(base_url=service.base_url) as client:
        # An open keep-alive connection, as a proxy in front would hold.
        assert client.get('/health').status_code == HTTPStatus.OK

        os.kill(service.pid, signal.SIGTERM)
        status = service.process.wait(timeout=DOCKER_STOP_GRACE_SECONDS)

    assert status == 0, service.log()


def test_compose_file_matches_the_image(image_config):
    compose = yaml.safe_load(
        (REPO_ROOT / 'compose.yaml').read_text(encoding='utf-8')
    )
    services = compose['services']
    app, database = services['app'], services['database']

    assert set(services) == {'app', 'database'}
    assert app['build'] == '.'
    assert app['ports'] == [f'{PORT}:{PORT}']
    assert set(app['environment']) <= set(Settings.model_fields)
    assert app['depends_on'] == {'database': {'condition': 'service_healthy'}}
    # No override: the image's own health check applies.
    assert 'healthcheck' not in app
    assert image_config['Healthcheck']['Test'][0] == 'CMD'
    # Secrets are read from the environment, never written here.
    assert app['environment']['SECRET_KEY'].startswith('${SECRET_KEY:?')
    password = '${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}'
    assert database['environment']['POSTGRES_PASSWORD'] == password
    user = database['environment']['POSTGRES_USER']
    name = database['environment']['POSTGRES_DB']
    assert app['environment']['DATABASE_URL'] == (
        f'postgresql+psycopg://{user}:{password}@database:5432/{name}'
    )
    assert database['healthcheck']['test'] == [
        'CMD',
        'pg_isready',
        f'--username={user}',
        f'--dbname={name}',
    ]
    (volume,) = database['volumes']
    assert volume.split(':')[0] in compose['volumes']
