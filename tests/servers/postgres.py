"""A real, throwaway PostgreSQL server for the tests: Debian's binaries, no Docker.

`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` user through
`runuser` (CI runs as root). The cluster lives in a temporary directory, listens on 127.0.0.1 on
a free port (password auth, so a refused password can be tested) and on a unix socket there,
and runs without fsync: it is thrown away at exit.

Standard library only, so `.ci/run` can use it before the virtualenv exists:

    eval "$(python3 tests/servers/postgres.py start DIR)"   # exports VIGIL_TEST_DATABASE_URL
    python3 tests/servers/postgres.py stop DIR
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ENV = "VIGIL_TEST_DATABASE_URL"
PASSWORD = "vigil-test-password"


def bindir() -> Path | None:
    """Where initdb and pg_ctl are: Debian's versioned folder (newest), else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> int:
    try:
        return int(Path(path).parent.parent.name)
    except ValueError:
        return 0


def _as_owner(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(directory: Path, *, durable: bool = False) -> str:
    """Creates and starts a cluster under `directory`; returns its superuser URL.

    Tests run it without fsync (it is thrown away); `durable` keeps PostgreSQL's defaults (fsync,
    full pages, synchronous commit) for the benchmark.
    """
    bin_dir = bindir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb) on this machine")
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    pwfile = directory / "pwfile"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        shutil.chown(pwfile, "postgres")
        directory.chmod(0o700)
    subprocess.run(
        _as_owner(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{directory}'",
        "max_connections": "300",
        "shared_buffers": "'64MB'",
    }
    if not durable:
        settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    _pg_ctl(data, "start", "-l", str(directory / "server.log"), "-t", "60")
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
    (directory / "url").write_text(url, encoding="utf-8")
    return url


def _pg_ctl(data: Path, action: str, *args: str) -> None:
    bin_dir = bindir()
    assert bin_dir is not None
    subprocess.run(
        _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", *args, action]),
        check=action != "stop",
        capture_output=True,
    )


def stop(directory: Path, mode: str = "fast") -> None:
    """Stops the cluster (`immediate` is a crash: the database gone mid-run)."""
    if bindir() is not None and (directory / "data").exists():
        _pg_ctl(directory / "data", "stop", "-m", mode)


def restart(directory: Path) -> None:
    """Starts a stopped cluster again (the database came back)."""
    _pg_ctl(directory / "data", "start", "-l", str(directory / "server.log"), "-t", "60")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(f"usage: {argv[0]} start|stop DIR", file=sys.stderr)
        return 2
    directory = Path(argv[2])
    if argv[1] == "stop":
        stop(directory)
        return 0
    try:
        url = start(directory)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"PostgreSQL not started: {exc} {detail.decode(errors='replace')}", file=sys.stderr)
        return 1
    print(f"export {ENV}='{url}'")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
