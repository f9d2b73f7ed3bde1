"""A real PostgreSQL server for tests (Debian `postgresql`): its own cluster made with initdb in
a temporary directory, listening on a unix socket only, password authentication, stopped at
the end. As root (CI) the server runs as the `postgres` user, since it refuses to run as root.

With ``tls=(certificate, key)`` it also listens on 127.0.0.1 (a free TCP port) with TLS, as a
deployment's server does: pg_hba.conf accepts TCP connections over TLS only (``hostssl``),
the unix socket stays for the harness's own administration.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: install Debian's postgresql "
                           "(scripts/setup.sh --dev does)")
    return str(found[-1])


class PostgresServer:
    """``url`` (without the password) and ``password_file`` are what ecopy is configured
    with, as a deployment would be (ECOPY_DATABASE_URL, ECOPY_DATABASE_PASSWORD_FILE).
    With ``tls``, ``url`` is the TLS address on 127.0.0.1:``port`` (the client chooses how
    it verifies: ECOPY_DATABASE_CA_FILE)."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ecopy-pg-"))
        self.data = self.dir / "data"
        self.socket_dir = self.dir / "socket"
        self.password = secrets.token_urlsafe(18)
        self.password_file = self.dir / "password"
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)
        self._user = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        self.databases = 0
        self.tls = tls
        self.port = _free_port() if tls else 5432  # without TLS: the socket's name only

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid} if self._user else {}
        return subprocess.run(list(args), capture_output=True, text=True, check=check,
                              timeout=120, cwd=self.dir, **kwargs)

    def start(self) -> PostgresServer:
        if not self.data.exists():
            pwfile = self.dir / "initdb-password"
            pwfile.write_text(self.password + "\n")
            if self._user:
                os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
            self._run(_bin("initdb"), "-D", str(self.data), "-U", "ecopy", "-E", "UTF8",
                      "--locale=C.UTF-8", "--auth=scram-sha-256", f"--pwfile={pwfile}")
            pwfile.unlink()
            self.socket_dir.mkdir()
            if self._user:
                os.chown(self.socket_dir, self._user.pw_uid, self._user.pw_gid)
            if self.tls:
                self._install_tls()
        listen = "127.0.0.1" if self.tls else "''"
        options = (f"-k {self.socket_dir} -c listen_addresses={listen} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        if self.tls:
            options += (f" -p {self.port} -c ssl=on -c ssl_cert_file={self.data / 'server.crt'}"
                        f" -c ssl_key_file={self.data / 'server.key'}")
        done = self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                         "-o", options, "-w", "-t", "60", "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{self.log_tail()}")
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.connect("postgres"):
                    return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _install_tls(self) -> None:
        """The certificate and key in the data directory (the key owned by the server's user,
        mode 0600, or PostgreSQL refuses it); TCP clients over TLS only."""
        cert, key = self.tls  # type: ignore[misc]
        for src, name in ((cert, "server.crt"), (key, "server.key")):
            dest = self.data / name
            shutil.copyfile(src, dest)
            dest.chmod(0o600)
            if self._user:
                os.chown(dest, self._user.pw_uid, self._user.pw_gid)
        (self.data / "pg_hba.conf").write_text(
            "local all all scram-sha-256\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n")

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(host=str(self.socket_dir), port=self.port, user="ecopy",
                               dbname=database, password=self.password, autocommit=True)

    def url(self, database: str) -> str:
        if self.tls:
            return f"postgresql+psycopg://ecopy@127.0.0.1:{self.port}/{database}"
        return f"postgresql+psycopg://ecopy@/{database}?host={self.socket_dir}"

    def new_database(self) -> str:
        """A fresh, empty database of this server; its URL (no password in it)."""
        self.databases += 1
        name = f"t{self.databases}_{secrets.token_hex(3)}"
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                      check=False)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self) -> str:
        log = self.dir / "log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
