"""Fixtures of the reliability suite: emulators, the ansible runner, batches of cases run in the background.

- ``emulator``: one emulator per test module (TLS, ephemeral ports, its own directory), reset before each test.
  After each test, its request log and access log are scanned for secrets.
- ``http_emulator``: the same, serving plain HTTP (``EMULATOR_TLS=0``).
- ``ansible``: an :class:`harness.Ansible` runner with HOME and caches under the test's tmp directory.
- ``fresh_emulator``: a factory for emulators a test stops and restarts itself (stopped at teardown).

Batches (``harness.Batch``) registered by the test modules run in one background thread, the selected ones
only, while the tests that run ansible themselves go first in the main thread: two streams for two cores.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import harness as H

_POOL: dict[str, Any] = {"thread": None, "selected": []}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "batch(name): the test judges a case of the named batch")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,  # pylint: disable=unused-argument
                                  items: list[pytest.Item]) -> None:
    """Tests that run ansible themselves first, batch judges last (their batches run in the background)."""
    selected = []
    for item in items:
        for marker in item.iter_markers("batch"):
            if marker.args[0] not in selected:
                selected.append(marker.args[0])
    _POOL["selected"] = selected
    items.sort(key=lambda item: 1 if item.get_closest_marker("batch") else 0)


#: Background threads running batches (besides the main thread, which runs the other tests).
WORKERS = 3


@pytest.fixture(scope="session", autouse=True)
def batch_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run the selected batches in background threads, the longest first."""
    todo = sorted((H.BATCHES[name] for name in _POOL["selected"]), key=lambda b: -len(b.cases))
    root = tmp_path_factory.mktemp("batches")
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                batch = todo.pop(0)
            batch.execute(root / batch.name)

    threads = [threading.Thread(target=work, name=f"batches-{i}", daemon=True) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    yield
    for thread in threads:
        thread.join(timeout=900)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How long each batch took (its cases ran as one ansible-playbook); the report file when asked for."""
    ran = [batch for batch in H.BATCHES.values() if batch.seconds]
    target = os.environ.get("RELIABILITY_REPORT")
    if target:
        Path(target).write_text(json.dumps(H.report(), indent=1, ensure_ascii=False), encoding="utf-8")
    if ran:
        terminalreporter.write_line("batches: " + ", ".join(f"{b.name} {len(b.cases)} cases {b.seconds:.0f} s" for b in ran))


def _scan_emulator(emu: H.Emulator, since: int = 0) -> list[str]:
    emu.collect_tokens()
    texts = {"emulator access log": emu.stderr_text()[since:]}
    if emu.running:
        texts["emulator request log"] = json.dumps(emu.log())
    return H.scan(texts)


@pytest.fixture(scope="module")
def _module_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H.Emulator]:
    emu = H.Emulator(tmp_path_factory.mktemp("emu") / "state").start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def _module_http_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H.Emulator]:
    emu = H.Emulator(tmp_path_factory.mktemp("emu-http") / "state", tls=False).start()
    yield emu
    emu.stop()


def _per_test(emu: H.Emulator) -> Iterator[H.Emulator]:
    emu.reset()
    mark = len(emu.stderr_text())
    yield emu
    findings = _scan_emulator(emu, mark)
    assert not findings, "\n".join(findings)


@pytest.fixture()
def emulator(_module_emulator: H.Emulator) -> Iterator[H.Emulator]:
    """The module's TLS emulator, reset to the default scenario; its logs are scanned for secrets afterwards."""
    yield from _per_test(_module_emulator)


@pytest.fixture()
def http_emulator(_module_http_emulator: H.Emulator) -> Iterator[H.Emulator]:
    """The module's plain-HTTP emulator, reset; its logs are scanned for secrets afterwards."""
    yield from _per_test(_module_http_emulator)


@pytest.fixture()
def fresh_emulator(tmp_path: Path) -> Iterator[Callable[..., H.Emulator]]:
    """Start emulators of one's own (to stop, kill or restart them); all are stopped and scanned at teardown."""
    started: list[H.Emulator] = []

    def make(name: str = "emu", **kwargs: Any) -> H.Emulator:
        emu = H.Emulator(tmp_path / name, **kwargs).start()
        started.append(emu)
        return emu

    yield make
    findings = []
    for emu in started:
        findings += _scan_emulator(emu)
        emu.stop()
    assert not findings, "\n".join(findings)


@pytest.fixture()
def ansible(tmp_path: Path) -> Iterator[H.Ansible]:
    """Runs ansible; every run's output is scanned for secrets and tracebacks at teardown (again, with every token
    known by then)."""
    runner = H.Ansible(tmp_path / "ansible")
    yield runner
    findings = [f"run {i} ({' '.join(run.argv[:6])}...): {finding}" for i, run in enumerate(runner.runs)
                for finding in H.scan(run.texts())]
    assert not findings, "\n".join(findings)
