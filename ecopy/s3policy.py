"""One S3 identity per service: the ONE matrix of which keys each ecopy service may read,
write, lock, delete or list, and what is generated from it (docs/security.md, "One S3
identity per service"):

- MinIO IAM policies in the AWS policy grammar, one per service (``minio_policy``), and the
  ``mc`` script that creates the users and attaches them (``minio_setup_script``);
- the identities file of a SeaweedFS server (``seaweedfs_config``), which carries the very
  same policy documents: the tests enforce the matrix on a real S3 server with it.

The key layout it is written against: storage/evidence/*.py, storage/backends/keyspace.py
(what is evidence, what may be deleted), storage/outbox.py, pipeline/flow.py and
certify.py, workers/*.py, ecopy/web and ecopy/commands. Only ``storage-init`` (it creates
the bucket and its object lock) and the one-shot ``minio-users`` hold the root credentials;
so does a merger migration (`ecopy migrate`), which writes every prefix.

Verbs, and the S3 actions they stand for:

- ``read``: GET and HEAD (``get``, ``get_to_file``, ``exists``, a sealed header's ranged GET).
- ``write``: PUT, create-if-absent PUT (``If-None-Match: *``), multipart upload. On an
  evidence key the PUT carries the object-lock retention `storage init` recorded, which
  MinIO and AWS only accept with s3:PutObjectRetention.
- ``lock``: ``retain`` (an original and its OCR become evidence): read and extend the
  retention of an existing object. Never s3:BypassGovernanceRetention: nobody can shorten it.
- ``delete``: every version of an upload (``delete`` lists them, then removes each). Only
  ``originals/`` and ``documents/`` (keyspace.DELETABLE_PREFIXES), only by ``retention``.
- ``list``: a prefix listing (s3:ListBucket with an s3:prefix condition). Request paths never
  list; what does is named in each grant (a fallback when a head hint is missing, the
  maintenance commands).

Patterns: ``"originals/"`` is everything under that prefix, ``"storage/object-lock.json"``
one key, ``*`` any characters (``/`` too, as in AWS policies), ``""`` the whole bucket.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.backends.keyspace import DELETABLE_PREFIXES, LOCK_POLICY_KEY

READ, WRITE, LOCK, DELETE, LIST = "read", "write", "lock", "delete", "list"
VERBS = (READ, WRITE, LOCK, DELETE, LIST)
POLICY_PREFIX = "ecopy-"  # MinIO policy (and SeaweedFS identity) name: ecopy-<service>
SETUP_SCRIPT = "setup-minio-users.sh"


@dataclass(frozen=True)
class Grant:
    pattern: str
    verbs: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Service:
    name: str  # the identity: policy ecopy-<name>, secrets s3_<name>_access_key / _secret_key
    runs: str  # what runs under it
    compose: tuple[str, ...]  # docker-compose services that use it
    grants: tuple[Grant, ...]

    @property
    def policy_name(self) -> str:
        return POLICY_PREFIX + self.name

    @property
    def access_key_secret(self) -> str:
        return f"s3_{self.name}_access_key"

    @property
    def secret_key_secret(self) -> str:
        return f"s3_{self.name}_secret_key"


def _common() -> tuple[Grant, ...]:
    """What every service needs: the lock policy (read by every store before it writes
    evidence), the health probe (`ecopy health`), and appending to the audit chain."""
    return (
        Grant(LOCK_POLICY_KEY, (READ,), "the evidence retention `storage init` recorded"),
        Grant("health/probe", (READ,), "`ecopy health` (a HEAD of a key nobody writes)"),
        Grant("audit/", (READ, WRITE, LIST),
              "append events (create-if-absent audit/<yyyy>/<seq>.json, then "
              "audit/HEAD.json); list only when HEAD.json is missing"),
    )


SERVICES: tuple[Service, ...] = (
    Service("web", "`ecopy serve`; `ecopy submit` from a scan station; account and cancel "
                   "commands", ("web",), (
        Grant("originals/", (READ, WRITE, LOCK),
              "uploads (multipart when large), page images; a clerk's refusal locks it"),
        Grant("documents/", (READ, WRITE, LOCK),
              "OCR shown for review; written only when Redis is down and the web app "
              "processes uploads itself; locked with its original on a refusal"),
        Grant("models/", (READ,), "classifying, in that same fallback"),
        Grant("warehouse/", (READ,), "downloads, a stored copy's verification, metadata"),
        Grant("register/", (READ,), "a verification looks the entry up"),
        Grant("cancellations/", (READ, WRITE), "cancellation decisions (create-if-absent)"),
        Grant("refusals/", (WRITE,), "Art 22 refusal records"),
        Grant("register-notes/*/refusal-*", (WRITE,), "the refusal note beside the register"),
        *_common(),
    )),
    Service("ocr", "`ecopy worker --queues ocr`", ("worker-ocr",), (
        Grant("originals/", (READ,), "the scan to OCR"),
        Grant("documents/", (READ, WRITE), "the OCR result, shared by the bytes"),
        *_common(),
    )),
    Service("signer", "`ecopy worker --queues understand,sign` (and a certifier's approval "
                      "queued by the web app); holds the signing keys", ("worker-sign",), (
        Grant("originals/", (READ, LOCK), "re-rendered for the e-copy; locked once issued"),
        Grant("documents/", (READ, LOCK), "the stored OCR; locked with its original"),
        Grant("models/", (READ,), "the active document-type model"),
        Grant("register/", (READ, WRITE, LIST),
              "entries (create-if-absent) and the year's HEAD.json; list only when "
              "HEAD.json is missing (a year's first number)"),
        Grant("register-notes/", (WRITE,), "void numbers and refusal notes"),
        Grant("refusals/", (WRITE,), "refusals on reading (classified, illegible)"),
        Grant("warehouse/", (READ, WRITE), "the signed copy (multipart) and its metadata"),
        *_common(),
    )),
    Service("sync", "`ecopy sync run` (and `sync retry|backfill`)", ("sync",), (
        Grant("warehouse/", (READ,), "the copy and metadata sent to the portal"),
        Grant("outbox/receipts/", (READ, WRITE), "the portal's receipts (create-if-absent)"),
        *_common(),
    )),
    Service("retention", "`ecopy retention run`", ("retention",), (
        Grant("originals/", (READ, DELETE), "rejected uploads past their date, every version"),
        Grant("documents/", (READ, LIST, DELETE),
              "their OCR; list documents/<sha256>/ for what else was derived"),
        Grant("refusals/", (READ,), "a refusal record keeps the bytes (exists)"),
        *_common(),
    )),
    Service("ops", "maintenance: `ecopy db upgrade|import|check`, `storage keys`, `audit "
                   "verify`, `register check`, `access seal|verify`, `model retrain|activate`",
            ("db-upgrade", "ops"), (
        Grant("", (READ, LIST), "the catalogue against the evidence, by listing it"),
        Grant("models/", (WRITE,), "a retrained model (create-if-absent)"),
        *_common(),
    )),
)
ROOT_SERVICES = ("minio", "storage-init", "minio-users")  # hold the root credentials


def service(name: str) -> Service:
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(name)


# --------------------------------------------------------------------------- evaluation


def _regex(pattern: str) -> re.Pattern[str]:
    body = pattern + "*" if pattern == "" or pattern.endswith("/") else pattern
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in body) + r"\Z")


def is_evidence_pattern(pattern: str) -> bool:
    """Writes under it carry the object lock: every key that is not an upload."""
    return not pattern.startswith(DELETABLE_PREFIXES)


def allows(svc: Service | str, verb: str, key: str) -> bool:
    """What the policy of ``svc`` allows: ``verb`` on ``key`` (for ``list``, ``key`` is the
    listing's prefix). The tests ask the server the same question."""
    svc = service(svc) if isinstance(svc, str) else svc
    return any(verb in g.verbs and _regex(g.pattern).match(key) for g in svc.grants)


# --------------------------------------------------------------------------- MinIO / AWS


def _object_arn(bucket: str, pattern: str) -> str:
    body = pattern + "*" if pattern == "" or pattern.endswith("/") else pattern
    return f"arn:aws:s3:::{bucket}/{body}"


def _prefix_condition(pattern: str) -> str:
    return pattern + "*" if pattern == "" or pattern.endswith("/") else pattern


def _object_actions(grant: Grant) -> set[str]:
    actions: set[str] = set()
    if READ in grant.verbs:
        actions.add("s3:GetObject")
    if WRITE in grant.verbs:
        actions |= {"s3:PutObject", "s3:AbortMultipartUpload"}
        if is_evidence_pattern(grant.pattern):
            actions.add("s3:PutObjectRetention")  # the PUT carries the evidence lock
    if LOCK in grant.verbs:
        actions |= {"s3:GetObjectRetention", "s3:PutObjectRetention"}
    if DELETE in grant.verbs:
        actions |= {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    return actions


def minio_policy(svc: Service | str, bucket: str) -> dict[str, Any]:
    """The IAM policy of one service (AWS grammar; MinIO `mc admin policy create`)."""
    svc = service(svc) if isinstance(svc, str) else svc
    bucket_arn = f"arn:aws:s3:::{bucket}"
    statements: list[dict[str, Any]] = [
        # minio-py asks a bucket's region when none is configured
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [bucket_arn]}]
    for action, verb in (("s3:ListBucket", LIST), ("s3:ListBucketVersions", DELETE)):
        patterns = [g.pattern for g in svc.grants if verb in g.verbs]
        if not patterns:
            continue
        stmt: dict[str, Any] = {"Effect": "Allow", "Action": [action], "Resource": [bucket_arn]}
        if "" not in patterns:  # the whole bucket: no condition
            stmt["Condition"] = {"StringLike": {"s3:prefix": sorted(
                _prefix_condition(p) for p in patterns)}}
        statements.append(stmt)
    by_actions: dict[tuple[str, ...], list[str]] = {}
    for grant in svc.grants:
        actions = tuple(sorted(_object_actions(grant)))
        if actions:
            by_actions.setdefault(actions, []).append(_object_arn(bucket, grant.pattern))
    for actions, resources in sorted(by_actions.items()):
        statements.append({"Effect": "Allow", "Action": list(actions),
                           "Resource": sorted(resources)})
    return {"Version": "2012-10-17", "Statement": statements}


def policy_json(svc: Service | str, bucket: str) -> str:
    return json.dumps(minio_policy(svc, bucket), indent=2) + "\n"


def minio_setup_script(bucket: str) -> str:
    """Creates (or updates) every service's policy and user, and attaches them. Runs in the
    minio/mc image with the root credentials; every key is read from a secret file."""
    lines = [
        "#!/bin/sh",
        "# Generated by `ecopy storage users --print-minio-policies DIR` from ecopy/s3policy.py",
        f"# for the bucket {bucket!r}: do not edit, generate again (docs/security.md,",
        '# "One S3 identity per service"). One MinIO user per ecopy service, holding only its',
        "# policy (the JSON files beside this script). Runs in the minio/mc image with the ROOT",
        "# credentials: MINIO_URL (https://minio:9000) and the secret files in SECRETS_DIR",
        "# (/run/secrets): s3_access_key, s3_secret_key (root), s3_<service>_access_key and",
        "# s3_<service>_secret_key, and s3_ca (the CA of MinIO's TLS certificate), if any.",
        "# Running it again updates the policies and the secrets.",
        "set -eu",
        'secrets="${SECRETS_DIR:-/run/secrets}"',
        'policies="$(cd "$(dirname "$0")" && pwd)"',
        'url="${MINIO_URL:-https://minio:9000}"',
        'export MC_CONFIG_DIR="${MC_CONFIG_DIR:-/tmp/.mc}"',
        'if [ -f "$secrets/s3_ca" ]; then  # mc trusts the CAs in its certs/CAs folder',
        '  mkdir -p "$MC_CONFIG_DIR/certs/CAs"',
        '  cp "$secrets/s3_ca" "$MC_CONFIG_DIR/certs/CAs/ecopy-ca.crt"',
        "fi",
        "# the root credentials go to mc in its environment, never on a command line",
        'MC_HOST_ecopy="${url%%://*}://$(cat "$secrets/s3_access_key"):'
        '$(cat "$secrets/s3_secret_key")@${url#*://}"',
        "export MC_HOST_ecopy",
        "",
        "identity() {  # policy name, access key file, secret key file",
        '  access="$(cat "$secrets/$2")"',
        '  mc admin policy create ecopy "$1" "$policies/$1.json"',
        '  mc admin user add ecopy "$access" "$(cat "$secrets/$3")"',
        "  # older mc answers an attachment already in place with an error",
        '  mc admin policy attach ecopy "$1" --user "$access" || '
        'echo "$1: already attached to $access"',
        "}",
        "",
    ]
    for svc in SERVICES:
        lines.append(f"identity {shlex.quote(svc.policy_name)} "
                     f"{svc.access_key_secret} {svc.secret_key_secret}")
    lines.append('echo "ecopy: one S3 identity per service on $url"')
    return "\n".join(lines) + "\n"


def minio_files(bucket: str) -> dict[str, str]:
    """File name → text: every policy and the set-up script."""
    files = {f"{svc.policy_name}.json": policy_json(svc, bucket) for svc in SERVICES}
    files[SETUP_SCRIPT] = minio_setup_script(bucket)
    return files


# --------------------------------------------------------------------------- SeaweedFS


def seaweedfs_config(buckets: str | Sequence[str], credentials: dict[str, tuple[str, str]], *,
                     admin: tuple[str, str] | None = None) -> dict[str, Any]:
    """A ``weed -s3.config`` identities file: one identity per service in ``credentials``
    (name → (access key, secret key)) with the service's MinIO policy attached (SeaweedFS
    4.x evaluates attached IAM policies: actions, object ARNs, s3:prefix conditions), on
    each of ``buckets``; ``admin``, when given, is the root (SeaweedFS's ``Admin`` action)."""
    buckets = [buckets] if isinstance(buckets, str) else list(buckets)
    identities: list[dict[str, Any]] = []
    policies: list[dict[str, str]] = []
    if admin is not None:
        identities.append({"name": "root", "credentials": [
            {"accessKey": admin[0], "secretKey": admin[1]}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]})
    for name, (access, secret) in credentials.items():
        svc = service(name)
        identities.append({"name": svc.policy_name, "credentials": [
            {"accessKey": access, "secretKey": secret}], "policyNames": [svc.policy_name]})
        document = {"Version": "2012-10-17", "Statement": [
            stmt for bucket in buckets for stmt in minio_policy(svc, bucket)["Statement"]]}
        policies.append({"name": svc.policy_name, "content": json.dumps(document)})
    return {"identities": identities, "policies": policies}


# --------------------------------------------------------------------------- the table


def matrix() -> list[dict[str, Any]]:
    """The matrix as data: one row per service and pattern."""
    return [{"service": s.name, "policy": s.policy_name, "compose": list(s.compose),
             "pattern": g.pattern or "(every key)", "verbs": list(g.verbs), "why": g.why}
            for s in SERVICES for g in s.grants]


def markdown_table() -> str:
    """The matrix as docs/security.md shows it: prefixes down, services across."""
    patterns = sorted({g.pattern for s in SERVICES for g in s.grants},
                      key=lambda p: (p == "", p.replace("*", "~")))
    head = "| key | " + " | ".join(s.name for s in SERVICES) + " |"
    rows = [head, "|---|" + "---|" * len(SERVICES)]
    for p in patterns:
        cells = []
        for s in SERVICES:
            verbs = [v for g in s.grants if g.pattern == p for v in g.verbs]
            cells.append(", ".join(v for v in VERBS if v in verbs) or "—")
        rows.append(f"| `{p}` | " + " | ".join(cells) + " |" if p else
                    "| every key | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
