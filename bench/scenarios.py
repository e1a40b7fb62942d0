"""The scenarios of `task bench`, each with its own targets."""

from dataclasses import dataclass, field

SUCCESS = frozenset(range(200, 300))


@dataclass(frozen=True)
class RatioTarget:
    """req/s at least `minimum` times GET /'s (or scenario `of`'s), in
    the same run."""

    label: str
    minimum: float
    of: str = ''  # the key of the reference scenario; '' for GET /


@dataclass(frozen=True)
class Scenario:
    """One wrk run: what to send, how hard, and which answers are right."""

    key: str
    name: str
    path: str
    method: str = 'GET'
    connections: int = 64
    threads: int = 2
    token: bool = False
    form: dict = field(default_factory=dict)
    spread_ids: bool = False  # path + a random id in the seeded range
    bare: bool = False  # against the bare FastAPI app
    # Against the server with ACCESS_LOG and METRICS_ENABLED on (every
    # other scenario runs with both off).
    observed: bool = False
    expected: frozenset = SUCCESS
    target: RatioTarget | None = None


@dataclass(frozen=True)
class Plan:
    """Every scenario, in the order they run, and the ones that targets
    relate to one another."""

    bare: Scenario  # 0: the framework's floor
    root: Scenario  # 1: GET /, the reference of every ratio
    routes: tuple  # 2-6
    login: Scenario  # 7
    idle: Scenario  # 8a: GET / at 4 connections, alone
    during: Scenario  # 8b: the same beside...
    storm: Scenario  # 8c: ...a login storm, run at the same time
    # 9a, 9b: GET / and GET /users/me with the access log and metrics on,
    # each right after its counterpart with both off.
    observed_root: Scenario
    observed_me: Scenario

    # GET / p99 during the login storm / idle, at most; GET / req/s over
    # the bare app's, at least.
    storm_p99_max_ratio: float = 10
    bare_min_ratio: float = 0.9

    def groups(self) -> list:
        """The scenarios in running order, each group run at once."""
        alone = [
            self.bare,
            self.root,
            self.observed_root,
            *self.routes,
            self.observed_me,
            self.login,
            self.idle,
        ]
        return [*([s] for s in alone), [self.during, self.storm]]

    def all(self) -> list:
        return [scenario for group in self.groups() for scenario in group]


def plan(other_id: int, login_form: dict) -> Plan:
    """Scenarios 0-8: `other_id` is the user of the 403 scenario,
    `login_form` the login of scenarios 7 and 8c."""
    login = {
        'path': '/auth/token',
        'method': 'POST',
        'connections': 4,
        'threads': 1,
        'form': login_form,
    }
    quiet_root = {'path': '/', 'connections': 4, 'threads': 1}
    return Plan(
        bare=Scenario('0', 'bare GET /', '/', bare=True),
        root=Scenario('1', 'GET /', '/'),
        routes=(
            Scenario(
                '2',
                'GET /users/?limit=100',
                '/users/?limit=100',
                target=RatioTarget('GET /users/?limit=100', 0.10),
            ),
            Scenario(
                '3',
                'GET /users/?offset=900&limit=10',
                '/users/?offset=900&limit=10',
                target=RatioTarget('GET /users/?offset=900', 0.12),
            ),
            Scenario(
                '4',
                'GET /users/{id}',
                '/users/',
                spread_ids=True,
                target=RatioTarget('GET /users/{id}', 0.12),
            ),
            Scenario(
                '5a',
                f'DELETE /users/{other_id} (403)',
                f'/users/{other_id}',
                method='DELETE',
                token=True,
                expected=frozenset({403}),
                target=RatioTarget('authenticated 403', 0.15),
            ),
            Scenario('5b', 'GET /users/me', '/users/me', token=True),
            Scenario(
                '6',
                'GET /todos/?limit=100',
                '/todos/?limit=100',
                token=True,
                target=RatioTarget('GET /todos/?limit=100', 0.10),
            ),
        ),
        login=Scenario('7', 'POST /auth/token', **login),
        idle=Scenario('8a', 'GET / 4c idle', **quiet_root),
        during=Scenario('8b', 'GET / 4c during login storm', **quiet_root),
        storm=Scenario('8c', 'POST /auth/token (storm, with 8b)', **login),
        observed_root=Scenario(
            '9a',
            'GET / (access log, metrics)',
            '/',
            observed=True,
            target=RatioTarget('GET / logged and measured', 0.85, of='1'),
        ),
        observed_me=Scenario(
            '9b',
            'GET /users/me (access log, metrics)',
            '/users/me',
            token=True,
            observed=True,
            target=RatioTarget(
                'GET /users/me logged and measured', 0.92, of='5b'
            ),
        ),
    )
