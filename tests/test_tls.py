"""TLS inside the deployment (docs/encryption.md, "TLS inside the deployment"): ecopy reaches
PostgreSQL and the object store over TLS and verifies each server against a private CA, as
docker-compose.yml configures it (ECOPY_DATABASE_CA_FILE, ECOPY_S3_SECURE + ECOPY_S3_CA_FILE).

Real servers: a PostgreSQL cluster with ssl=on that accepts TCP clients over TLS only
(pg_hba `hostssl`), and SeaweedFS `weed mini` serving S3 over HTTPS only. The certificates
name 127.0.0.1 only, so dialling "localhost" shows that the name is checked as well as the CA.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from ecopy.settings import load_settings
from ecopy.wiring import open_database, open_store
from storage.backends.s3 import StoreUnavailable
from tests.conftest import ROOT, run_cli
from tests.support.privateca import PrivateCA
from tests.support.s3server import REGION

STAT_SSL = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[PrivateCA, PrivateCA]:
    """The deployment's private CA, and another one that signed nothing of ours."""
    where = tmp_path_factory.mktemp("private-ca")
    return PrivateCA(where, "ca"), PrivateCA(where, "other-ca")


@pytest.fixture(scope="module")
def tls_pg(cas):
    from tests.support.pgserver import PostgresServer

    cert = cas[0].issue("postgres", ("127.0.0.1",))
    server = PostgresServer(tls=(cert.cert, cert.key))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def tls_s3(cas):
    from tests.support.s3server import S3Server

    cert = cas[0].issue("s3", ("127.0.0.1",))
    server = S3Server(tls=(cert.cert, cert.key), ca_file=cas[0].cert_file)
    try:
        server.start()
        yield server
    finally:
        server.close()


# --- PostgreSQL ----------------------------------------------------------------------------


def _db_env(env: dict[str, str], server, tmp_path: Path, ca: Path | None,
            url: str | None = None) -> dict[str, str]:
    # the URL as compose writes it: plain postgresql://, no password, no TLS parameters
    url = url or server.new_database().replace("postgresql+psycopg://", "postgresql://")
    out = {**env, "ECOPY_DATABASE_URL": url,
           "ECOPY_DATABASE_PASSWORD_FILE": str(server.password_file),
           "ECOPY_STORE": str(tmp_path / "store")}
    if ca is not None:
        out["ECOPY_DATABASE_CA_FILE"] = str(ca)
    return out


def test_database_over_tls_verified_against_private_ca(tls_pg, cas, env: dict[str, str],
                                                       tmp_path: Path) -> None:
    dbenv = _db_env(env, tls_pg, tmp_path, cas[0].cert_file)
    upgrade = run_cli(["db", "upgrade", "--json"], dbenv, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert json.loads(upgrade.stdout)["after"]
    status = run_cli(["db", "status", "--json"], dbenv, timeout=120)
    assert status.returncode == 0, status.stderr

    # both of the Database's engines (writes; autocommit read-only reads) are encrypted
    db = open_database(load_settings(dbenv), None)  # type: ignore[arg-type]
    try:
        with db.read() as s:
            read_ssl, _ = s.execute(text(STAT_SSL)).one()
        with db.write() as s:
            ssl, version = s.execute(text(STAT_SSL)).one()
        assert read_ssl is True and ssl is True and version.startswith("TLS"), version
    finally:
        db.close()


def test_database_refuses_a_server_the_ca_did_not_sign(tls_pg, cas, env: dict[str, str],
                                                      tmp_path: Path) -> None:
    wrong = run_cli(["db", "status"], _db_env(env, tls_pg, tmp_path, cas[1].cert_file),
                    timeout=120)
    assert wrong.returncode == 2
    assert "certificate verify failed" in wrong.stderr, wrong.stderr

    # the right CA, but a name the certificate does not carry: verify-full, not verify-ca
    url = tls_pg.url("postgres").replace("127.0.0.1", "localhost")
    db = open_database(load_settings(_db_env(env, tls_pg, tmp_path, cas[0].cert_file, url)),
                       None, check=False)  # type: ignore[arg-type]
    try:
        with pytest.raises(Exception, match="does not match host name"), db.read() as s:
            s.execute(text("SELECT 1"))
    finally:
        db.close()


def test_database_server_refuses_plain_connections(tls_pg, env: dict[str, str],
                                                   tmp_path: Path) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(host="127.0.0.1", port=tls_pg.port, user="ecopy", dbname="postgres",
                        password=tls_pg.password, sslmode="disable")
    plain = run_cli(["db", "status"], _db_env(
        env, tls_pg, tmp_path, None, f"postgresql://ecopy@127.0.0.1:{tls_pg.port}/postgres"
                                     "?sslmode=disable"), timeout=120)
    assert plain.returncode == 2
    assert "no pg_hba.conf entry" in plain.stderr and "no encryption" in plain.stderr


def test_database_ca_file_leaves_no_weaker_mode(tmp_path: Path) -> None:
    base = {"ECOPY_DATABASE_CA_FILE": str(tmp_path / "ca.pem")}
    for query in ("?sslmode=require", "?sslmode=verify-ca", "?sslrootcert=/etc/other.pem"):
        with pytest.raises(ValueError, match="ECOPY_DATABASE_CA_FILE"):
            load_settings({**base, "ECOPY_DATABASE_URL": f"postgresql://ecopy@db/ecopy{query}"})
    with pytest.raises(ValueError, match="ECOPY_DATABASE_CA_FILE"):
        load_settings({**base, "ECOPY_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    settings = load_settings({**base, "ECOPY_DATABASE_URL":
                              "postgresql://ecopy@db/ecopy?sslmode=verify-full&connect_timeout=5"})
    from ecopy.wiring import database_url

    assert dict(database_url(settings).query) == {  # type: ignore[union-attr]
        "sslmode": "verify-full", "sslrootcert": str(tmp_path / "ca.pem"), "connect_timeout": "5"}


# --- the object store ----------------------------------------------------------------------


def _s3_env(env: dict[str, str], server, tmp_path: Path, bucket: str, ca: Path | None,
            endpoint: str | None = None) -> dict[str, str]:
    """As compose configures every ecopy service: TLS on, the CA and the keys from files."""
    access, secret = tmp_path / "s3_access_key", tmp_path / "s3_secret_key"
    access.write_text(server.access_key)
    secret.write_text(server.secret_key)
    out = {**env, "ECOPY_S3_ENDPOINT": endpoint or server.endpoint, "ECOPY_S3_BUCKET": bucket,
           "ECOPY_S3_SECURE": "true", "ECOPY_S3_REGION": REGION,
           "ECOPY_S3_ACCESS_KEY_FILE": str(access), "ECOPY_S3_SECRET_KEY_FILE": str(secret)}
    if ca is not None:
        out["ECOPY_S3_CA_FILE"] = str(ca)
    return out


def test_store_over_tls_verified_against_private_ca(tls_s3, cas, env: dict[str, str],
                                                    tmp_path: Path) -> None:
    bucket = f"tls-{uuid.uuid4().hex[:12]}"
    s3env = _s3_env(env, tls_s3, tmp_path, bucket, cas[0].cert_file)
    init = run_cli(["storage", "init", "--retention-days", "1", "--mode", "GOVERNANCE",
                    "--json"], s3env, timeout=120)  # the compose `storage-init` service
    assert init.returncode == 0, init.stdout + init.stderr
    assert json.loads(init.stdout)["object_lock"] is True

    store = open_store(None, load_settings(s3env))
    store.put("documents/tls/probe.json", b'{"over": "tls"}')
    assert store.get("documents/tls/probe.json") == b'{"over": "tls"}'
    assert store.inner.secure  # type: ignore[attr-defined]

    # the port speaks HTTPS only: what went through it was encrypted
    from storage.backends.s3 import S3Store

    plain = S3Store(**{**tls_s3.store_args(bucket), "secure": False, "ca_file": None})
    with pytest.raises(Exception, match="HTTP request to an HTTPS server"):
        plain.get("documents/tls/probe.json")


def test_store_refuses_a_server_the_ca_did_not_sign(tls_s3, cas, env: dict[str, str],
                                                    tmp_path: Path) -> None:
    bucket = tls_s3.new_store().bucket
    wrong = run_cli(["storage", "init", "--json"],
                    _s3_env(env, tls_s3, tmp_path, bucket, cas[1].cert_file), timeout=120)
    assert wrong.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in json.loads(wrong.stdout)["error"]

    for ca, endpoint, reason in (
            (None, None, "CERTIFICATE_VERIFY_FAILED"),  # the public CAs (certifi) only
            (cas[1].cert_file, None, "CERTIFICATE_VERIFY_FAILED"),
            (cas[0].cert_file, f"localhost:{tls_s3.ports['s3']}", "Hostname mismatch")):
        store = open_store(None, load_settings(
            _s3_env(env, tls_s3, tmp_path, bucket, ca, endpoint)))
        with pytest.raises(StoreUnavailable, match=reason):
            store.put("documents/tls/never.json", b"{}")


# --- the compose header's recipe ------------------------------------------------------------


def _compose_recipe() -> str:
    """The OpenSSL commands of docker-compose.yml's header, as an operator pastes them."""
    lines = (ROOT / "docker-compose.yml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "TLS inside the deployment" in line)
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("#   ") or "docker compose" in line:
            break
        if not line[4:].startswith("#"):
            recipe.append(line[4:])
    return "\n".join(recipe)


def test_the_compose_recipe_makes_certificates_the_clients_accept(
        env: dict[str, str], tmp_path: Path) -> None:
    """The CA and the `minio` and `postgres` certificates made as the compose header says,
    served by the real servers under the names compose gives them."""
    from tests.support.pgserver import PostgresServer
    from tests.support.s3server import S3Server

    recipe = _compose_recipe()
    assert recipe.count("openssl req") == 2, recipe
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    made = subprocess.run(["bash", "-euc", recipe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    ca = secrets / "ca.crt"

    pg = PostgresServer(tls=(secrets / "postgres.crt", secrets / "postgres.key"))
    try:
        pg.start()
        # compose's URL, the name `postgres` pointed at 127.0.0.1 (libpq's hostaddr)
        url = f"postgresql://ecopy@postgres:{pg.port}/postgres?hostaddr=127.0.0.1"
        db = open_database(load_settings(_db_env(env, pg, tmp_path, ca, url)), None,
                           check=False)  # type: ignore[arg-type]
        try:
            with db.write() as s:
                assert s.execute(text(STAT_SSL)).one()[0] is True
        finally:
            db.close()
    finally:
        pg.close()

    s3 = S3Server(tls=(secrets / "minio.crt", secrets / "minio.key"), ca_file=ca)
    s3.host = "localhost"  # the name the MinIO healthcheck dials (`minio` needs compose's DNS)
    try:
        s3.start()
        bucket = s3.new_store().bucket
        store = open_store(None, load_settings(_s3_env(env, s3, tmp_path, bucket, ca)))
        store.put("documents/tls/recipe.json", b"{}")
        assert store.get("documents/tls/recipe.json") == b"{}"
    finally:
        s3.close()
