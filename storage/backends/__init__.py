"""Object-store back-ends: the protocol, the local directory, S3 (imported on demand:
``storage.backends.s3``) and a read-only prefixed view."""

from storage.backends.base import InvalidKey, ObjectStore, check_key
from storage.backends.local import LocalStore

__all__ = ["InvalidKey", "LocalStore", "ObjectStore", "check_key"]
