"""The results of `task bench`: the table, the targets and
bench/results/latest.json."""

import contextlib
import json
import os
import platform
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path

from environment import REPO_ROOT
from scenarios import Plan
from sqlalchemy.engine import make_url

RESULTS_DIR = REPO_ROOT / 'bench' / 'results'
PACKAGES = ('fastapi', 'starlette', 'pydantic', 'uvicorn', 'sqlalchemy')


def add_ratios(rows: dict, plan: Plan) -> None:
    """The ratios of one run, computed within it: machine-wide slowdowns
    cancel out."""
    for row in rows.values():
        row['ratio'] = row['rps'] / rows[plan.root.key]['rps']
    for scenario in plan.all():
        if scenario.target is not None:
            reference = rows[scenario.target.of or plan.root.key]
            rows[scenario.key]['target_ratio'] = (
                rows[scenario.key]['rps'] / reference['rps']
            )
    during, idle = rows[plan.during.key], rows[plan.idle.key]
    during['p99_vs_idle'] = during['p99_ms'] / idle['p99_ms']
    root = rows[plan.root.key]
    root['vs_bare'] = root['rps'] / rows[plan.bare.key]['rps']


def summarize(runs: list, plan: Plan) -> list:
    """Per scenario: medians of the runs; errors and non-2xx summed."""
    summary = []
    for scenario in plan.all():
        per_run = [run[scenario.key] for run in runs]
        row = {
            'key': scenario.key,
            'name': scenario.name,
            'method': scenario.method,
            'path': scenario.path + ('{id}' if scenario.spread_ids else ''),
            'connections': scenario.connections,
            'threads': scenario.threads,
        }
        for name in ('rps', 'ratio', 'p50_ms', 'p99_ms'):
            row[name] = statistics.median(r[name] for r in per_run)
        for name in ('errors', 'unexpected'):
            row[name] = sum(r[name] for r in per_run)
        row['socket_errors'] = {
            kind: sum(r['socket_errors'][kind] for r in per_run)
            for kind in per_run[0]['socket_errors']
        }
        statuses = {}
        for r in per_run:
            for code, count in r['statuses'].items():
                statuses[code] = statuses.get(code, 0) + count
        row['statuses'] = {str(k): v for k, v in sorted(statuses.items())}
        row['runs'] = [
            {k: r[k] for k in ('rps', 'p50_ms', 'p99_ms', 'errors')}
            for r in per_run
        ]
        summary.append(row)
    return summary


def run_median(runs: list, key: str, name: str) -> float:
    return statistics.median(run[key][name] for run in runs)


def login_storm(runs: list, summary: list, plan: Plan) -> dict:
    """Scenario 8: GET / p99 idle and during the storm (medians), and the
    median of the per-run ratios."""
    rows = {row['key']: row for row in summary}
    return {
        'idle_p99_ms': rows[plan.idle.key]['p99_ms'],
        'storm_p99_ms': rows[plan.during.key]['p99_ms'],
        'ratio': run_median(runs, plan.during.key, 'p99_vs_idle'),
        'login_rps_alone': rows[plan.login.key]['rps'],
        'login_rps_during_storm': rows[plan.storm.key]['rps'],
    }


def check_targets(runs: list, summary: list, plan: Plan) -> list:
    """The performance issue's targets, on medians of per-run ratios."""
    checks = []
    for scenario in plan.all():
        if scenario.target is not None:
            value = run_median(runs, scenario.key, 'target_ratio')
            reference = scenario.target.of or 'GET /'
            checks.append({
                'target': f'{scenario.target.label} >= '
                f'{scenario.target.minimum:.2f}x {reference}',
                'value': value,
                'passed': value >= scenario.target.minimum,
            })
    storm = run_median(runs, plan.during.key, 'p99_vs_idle')
    checks.append({
        'target': 'GET / p99 during login storm <= '
        f'{plan.storm_p99_max_ratio:g}x idle',
        'value': storm,
        'passed': storm <= plan.storm_p99_max_ratio,
    })
    bare = run_median(runs, plan.root.key, 'vs_bare')
    checks.append({
        'target': f'GET / within {1 - plan.bare_min_ratio:.0%} of the '
        'bare app',
        'value': bare,
        'passed': bare >= plan.bare_min_ratio,
    })
    bad = [row['key'] for row in summary if row['errors'] or row['unexpected']]
    checks.append({
        'target': 'no errors, no unexpected status in any scenario',
        'value': ' '.join(bad) or 'none',
        'passed': not bad,
    })
    return checks


def peak_rss_kib(pid: int) -> int:
    """VmHWM of the process and its children (the workers), in KiB."""
    pids = [pid]
    for stat in Path('/proc').glob('[0-9]*/stat'):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces: fields follow its ')'.
            if int(stat.read_text().rsplit(')', 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
    total = 0
    for each in pids:
        with contextlib.suppress(OSError):
            for line in (
                Path(f'/proc/{each}/status')
                .read_text(encoding='ascii')
                .splitlines()
            ):
                if line.startswith('VmHWM:'):
                    total += int(line.split()[1])
    return total


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = 'unknown'
    with contextlib.suppress(OSError):
        for line in (
            Path('/proc/cpuinfo').read_text(encoding='utf-8').splitlines()
        ):
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    wrk = subprocess.run(
        ['wrk', '--version'], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    versions = {}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        'cpu': cpu,
        'cores': os.cpu_count(),
        'kernel': platform.release(),
        'python': platform.python_version(),
        'wrk': wrk[0].split(' [')[0] if wrk else 'unknown',
        'packages': versions,
    }


def print_table(summary: list) -> None:
    header = (
        f'{"scenario":<42} {"conns":>5} {"req/s":>9} {"x GET /":>8} '
        f'{"p50 ms":>8} {"p99 ms":>8} {"errors":>6} {"non-2xx":>7}'
    )
    print(header)
    print('-' * len(header))
    for row in summary:
        print(
            f'{row["key"] + " " + row["name"]:<42} {row["connections"]:>5} '
            f'{row["rps"]:>9.1f} {row["ratio"]:>8.3f} {row["p50_ms"]:>8.2f} '
            f'{row["p99_ms"]:>8.2f} {row["errors"]:>6} {row["unexpected"]:>7}'
        )


def print_checks(checks: list) -> None:
    for check in checks:
        value = check['value']
        shown = f'{value:.3f}' if isinstance(value, float) else value
        print(
            f'{"PASS" if check["passed"] else "FAIL"}  {check["target"]}'
            f' ({shown})'
        )


def report(args, seed, runs: list, plan: Plan, rss: int) -> None:
    """Print the table and the targets; write bench/results/latest.json."""
    summary = summarize(runs, plan)
    checks = check_targets(runs, summary, plan)
    info = machine()
    database = make_url(seed.database_url)
    print()
    print(
        f'{info["cpu"]}, {info["cores"]} cores; {args.runs} run(s) of '
        f'{args.duration} s per scenario; {args.workers} worker(s); '
        f'{database.get_backend_name()}; argon2 {seed.argon2}'
    )
    print(
        f'median of {args.runs} run(s); errors (socket) and non-2xx '
        '(unexpected statuses) are totals over all runs'
    )
    print_table(summary)
    print(f'\nserver peak RSS (VmHWM): {rss / 1024:.1f} MiB')
    storm = login_storm(runs, summary, plan)
    print(
        f'GET / p99 at 4 connections: idle {storm["idle_p99_ms"]:.2f} ms, '
        f'during login storm {storm["storm_p99_ms"]:.2f} ms '
        f'(x{storm["ratio"]:.2f})'
    )
    print()
    print_checks(checks)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = {
        'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        'machine': info,
        'settings': {
            'runs': args.runs,
            'duration_s': args.duration,
            'workers': args.workers,
            'database': database.render_as_string(hide_password=True),
            'argon2': seed.argon2,
        },
        'scenarios': summary,
        'login_storm': storm,
        'peak_rss_kib': rss,
        'targets': checks,
    }
    path = RESULTS_DIR / 'latest.json'
    path.write_text(json.dumps(result, indent=2) + '\n')
    print(f'\nwrote {path.relative_to(REPO_ROOT)}')
