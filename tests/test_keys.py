"""Key sources against real key stores: a SoftHSM2 token, PKCS#12 files, the dev PKI.

No mocks: keys are generated ON the token (pkcs11-tool), certificates for them are issued by
the dev PKI's intermediate CA and written back to the token, real e-copies are signed through
``signing.sign.sign_ecopy`` and verified by ``signing.verify.verify_pdf``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from PIL import Image

from pipeline.steps.assemble import AssembledCopy, build_ecopy
from pipeline.types import Certification, Certifier, OcrPage, PageScan, RegisterEntry
from signing.devpki import DevPki, ensure_dev_pki
from signing.keys import (
    DevKeySource,
    KeySourceError,
    Pkcs11KeySource,
    Pkcs12KeySource,
    SecretRef,
    WeakKey,
    identity_warnings,
    key_source_for,
)
from signing.ltv import extend_to_level
from signing.revocation import RevocationAuthority
from signing.sign import SigningIdentity, agency_stamp_lines, sign_ecopy
from signing.trust import (
    GOV_ROOT_SHA256,
    describe_certificate,
    expiry_warnings,
    gov_root,
    parse_certificates,
    trust_anchors,
)
from signing.tsa import local_timestamper
from signing.verify import verify_pdf
from tests.conftest import REAL_CERTIFIER, run_cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "birth_cert.jpg"
FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "ecopy-test"
PIN = "pin-7c41e9"  # distinctive, so a leak into a repr or output is easy to spot
SO_PIN = "so-pin-55aa17"
P12_PASSWORD = "p12-pw-9d03f2"
AGENCY = "Ủy ban nhân dân xã Hòa Vang"

@pytest.fixture(autouse=True, scope="module")
def _softhsm_installed() -> None:
    """SoftHSM2 and OpenSC are required (scripts/setup.sh installs them): missing, the
    tests fail rather than skip."""
    assert MODULE.is_file() and shutil.which("softhsm2-util") and shutil.which("pkcs11-tool"), \
        "SoftHSM2 / OpenSC not installed (scripts/setup.sh)"


# --- fixtures: dev PKI, a SoftHSM2 token with two keys, an unsigned e-copy -------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), agency_name=AGENCY,
                          certifier_name="Trần Thị Bích", certifier_title="Phó Chủ tịch")


def _intermediate(pki: DevPki) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = serialization.load_pem_private_key(pki.key_path("intermediate").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key, x509.load_pem_x509_certificate(pki.cert_path("intermediate").read_bytes())


def _issue(pki: DevPki, public_key, cn: str, *, days: float = 365) -> x509.Certificate:
    """A document-signing certificate from the dev intermediate for any public key."""
    ca_key, ca_cert = _intermediate(pki)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, AGENCY),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject)
        .public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                     False), True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       False)
        .sign(ca_key, hashes.SHA256())
    )


def _tool(*args: str) -> bytes:
    return subprocess.run(["pkcs11-tool", "--module", str(MODULE), "--token-label", TOKEN,
                           *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory, pki: DevPki) -> dict[str, str]:
    """A fresh SoftHSM2 token; keys generated on it; certificates written next to them.

    SOFTHSM2_CONF must be set before this process first loads the module (it is read at
    C_Initialize), hence module scope and os.environ.
    """
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
                    "--so-pin", SO_PIN, "--pin", PIN], check=True, capture_output=True)
    labels = {"rsa": ("certifier-rsa", "01", "rsa:2048"), "ec": ("signer-p256", "02",
                                                               "EC:secp256r1")}
    for label, key_id, key_type in labels.values():
        _tool("--login", "--pin", PIN, "--keypairgen", "--key-type", key_type,
              "--label", label, "--id", key_id)
        pub = serialization.load_der_public_key(
            _tool("--read-object", "--type", "pubkey", "--id", key_id, "-o", "/dev/stdout"))
        cert = _issue(pki, pub, f"Token signer {label}")
        der = base / f"{label}.der"
        der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        _tool("--login", "--pin", PIN, "--write-object", str(der), "--type", "cert",
              "--label", label, "--id", key_id)
    yield {"rsa": labels["rsa"][0], "ec": labels["ec"][0]}
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> AssembledCopy:
    """A real one-page e-copy (PDF/A-3b, statement page, manifest) from the bundled sample."""
    with Image.open(SAMPLE) as img:
        w, h = img.size
    scan = PageScan(0, str(SAMPLE), "jpeg", w, h, 300.0)
    entry = RegisterEntry(agency_code="20333", agency_name=AGENCY, year=2026, book="01/2026",
                          number=1, date="2026-11-23", requester_name="Nguyễn Văn An",
                          document_name="Giấy khai sinh", signer="Trần Thị Bích, Phó Chủ tịch",
                          copies=1, fee_vnd=2000, electronic=True, notes="", copy_id="k-1",
                          prev_hash="")
    cert = Certification(entry, Certifier("Trần Thị Bích", "Phó Chủ tịch"),
                         "https://xacthuc.example.vn/v/k-1", False)
    out = tmp_path_factory.mktemp("ecopy") / "unsigned.pdf"
    return build_ecopy([(scan, OcrPage(0, w, h, 0, (), 0.0, "test"))], cert,
                       {"doc_type": "giay_khai_sinh"}, out, font_path=FONT,
                       agency_stamp=agency_stamp_lines(AGENCY))


@pytest.fixture(scope="module")
def timestamper(pki: DevPki):
    return local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain())


def _sign_and_verify(pki: DevPki, copy: AssembledCopy, out: Path, timestamper,
                     certifier: SigningIdentity, agency: SigningIdentity) -> bytes:
    sign_ecopy(copy.path, out, certifier=certifier, agency=agency, timestamper=timestamper,
               certifier_box=copy.certifier_box, agency_box=copy.agency_box, font_path=FONT)
    # B-LT, as ecopy issues it: the dev CAs' CRLs go into the DSS, so the default policy can
    # establish every certificate's revocation status offline
    extend_to_level(out, out, "B-LT", roots=[pki.root_cert()],
                    crls=RevocationAuthority(pki.directory).crls(), fetching=False)
    data = out.read_bytes()
    report = verify_pdf(data, trust_roots=[pki.root_cert()])
    assert report.indication == "TOTAL-PASSED", report.to_dict()
    return data


def _no_secret(*texts: object) -> None:
    for text in texts:
        for secret in (PIN, SO_PIN, P12_PASSWORD):
            assert secret not in str(text), f"secret leaked into {text!r}"


# --- PKCS#11 --------------------------------------------------------------------------------


def test_pkcs11_rsa_certifier_signs_real_ecopy(pki, token, unsigned, timestamper, tmp_path):
    source = Pkcs11KeySource(MODULE, TOKEN, token["rsa"], SecretRef(env="ECOPY_TEST_PIN"),
                             extra_chain=pki.chain())
    certifier = source.load({"ECOPY_TEST_PIN": PIN})
    agency = DevKeySource(pki, "agency").load()
    assert not certifier.is_test and certifier.display_name == "Token signer certifier-rsa"
    data = _sign_and_verify(pki, unsigned, tmp_path / "p11.pdf", timestamper, certifier, agency)
    with pikepdf.open(tmp_path / "p11.pdf") as pdf:  # RSA keeps PDF 1.7, so PDF/A-3 holds
        assert pdf.pdf_version == "1.7" and "/Version" not in pdf.Root
    assert data.count(b"/ByteRange") >= 2
    _no_secret(repr(source), source.describe(), repr(certifier), identity_warnings(certifier))


def test_pkcs11_p256_signs_and_output_is_pdf_2_0(pki, token, unsigned, timestamper, tmp_path):
    """ECDSA works, but pyHanko declares ISO 32002 and raises the file to PDF 2.0, which is
    not PDF/A-3: allowed, and reported by identity_warnings."""
    source = Pkcs11KeySource(MODULE, TOKEN, token["ec"], SecretRef(env="ECOPY_TEST_PIN"),
                             extra_chain=pki.chain())
    certifier = source.load({"ECOPY_TEST_PIN": PIN})
    agency = DevKeySource(pki, "agency").load()
    _sign_and_verify(pki, unsigned, tmp_path / "ec.pdf", timestamper, certifier, agency)
    with pikepdf.open(tmp_path / "ec.pdf") as pdf:
        # An incremental update cannot rewrite the header (still %PDF-1.7): the catalog's
        # /Version overrides it, and /Extensions declares ISO 32002.
        assert pdf.Root.Version == "/2.0"
        assert int(pdf.Root.Extensions.ISO_[0].ExtensionLevel) == 32002
    assert [w["code"] for w in identity_warnings(certifier)] == ["ecdsa_pdf20"]


def test_pkcs11_wrong_label_and_missing_pin_are_clear(pki, token):
    with pytest.raises(KeySourceError) as err:
        Pkcs11KeySource(MODULE, TOKEN, "no-such-key", SecretRef(env="ECOPY_TEST_PIN"),
                        extra_chain=pki.chain()).load({"ECOPY_TEST_PIN": PIN})
    assert "no-such-key" in err.value.message("en")
    unset = Pkcs11KeySource(MODULE, "other-token", "x", SecretRef(env="ECOPY_UNSET_PIN"))
    with pytest.raises(KeySourceError, match=r"\$ECOPY_UNSET_PIN"):
        unset.load({})


# --- PKCS#12 --------------------------------------------------------------------------------


def _p12(pki: DevPki, path: Path, key, cn: str, *, days: float = 365) -> Path:
    cert = _issue(pki, key.public_key(), cn, days=days)
    _, ca_cert = _intermediate(pki)
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        cn.encode(), key, cert, [ca_cert],
        serialization.BestAvailableEncryption(P12_PASSWORD.encode())))
    return path


@pytest.fixture(scope="module")
def p12_files(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("p12")
    (d / "password.txt").write_text(P12_PASSWORD + "\n")
    rsa2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "certifier": _p12(pki, d / "certifier.p12", rsa2048, "Trần Thị Bích"),
        "agency": _p12(pki, d / "agency.p12",
                       rsa.generate_private_key(public_exponent=65537, key_size=2048), AGENCY),
        "expiring": _p12(pki, d / "expiring.p12", rsa2048, "Sắp hết hạn", days=10.5),
        "password_file": d / "password.txt",
    }


def test_pkcs12_password_from_env_and_from_file(pki, p12_files, unsigned, timestamper,
                                                tmp_path):
    by_env = Pkcs12KeySource(p12_files["certifier"], SecretRef(env="ECOPY_TEST_P12_PW"))
    by_file = Pkcs12KeySource(p12_files["agency"], SecretRef(file=p12_files["password_file"]),
                              role="agency", extra_chain=(pki.root_cert(),))
    certifier = by_env.load({"ECOPY_TEST_P12_PW": P12_PASSWORD})
    agency = by_file.load()
    assert not certifier.is_test and agency.organisation == AGENCY
    _sign_and_verify(pki, unsigned, tmp_path / "p12.pdf", timestamper, certifier, agency)
    _no_secret(repr(by_env), repr(by_file), by_env.describe(), repr(certifier), repr(agency),
               repr(certifier.signer.__dict__.keys()))


def test_pkcs12_wrong_password_does_not_echo_it(p12_files):
    source = Pkcs12KeySource(p12_files["certifier"], SecretRef(env="PW"))
    with pytest.raises(KeySourceError) as err:
        source.load({"PW": "wrong-" + P12_PASSWORD})
    assert "wrong password" in str(err.value) and P12_PASSWORD not in str(err.value)
    assert "sai mật khẩu" in err.value.message("vi")


def test_rsa_1024_pkcs12_is_refused_as_weak(pki, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = _p12(pki, tmp_path / "weak.p12", key, "Weak")
    with pytest.raises(WeakKey) as err:
        Pkcs12KeySource(path, SecretRef(env="PW")).load({"PW": P12_PASSWORD})
    assert "RSA-1024" in err.value.message("en") and "RSA 1024" in err.value.message("vi")
    assert err.value.code == "weak_key"


@pytest.mark.parametrize("curve", [ec.SECP192R1(), ec.SECP256K1()], ids=["P-192", "secp256k1"])
def test_curves_other_than_nist_p256_up_are_refused(pki, tmp_path, curve):
    try:
        key = ec.generate_private_key(curve)
        path = _p12(pki, tmp_path / "curve.p12", key, "Curve")
    except Exception as exc:  # this OpenSSL build cannot create the curve at all
        pytest.skip(f"{curve.name} not creatable here: {exc}")
    with pytest.raises(WeakKey, match=curve.name):
        Pkcs12KeySource(path, SecretRef(env="PW")).load({"PW": P12_PASSWORD})


def test_key_source_for_reads_the_settings_shape(pki, p12_files):
    from ecopy.settings import load_settings

    s = load_settings({**REAL_CERTIFIER, "ECOPY_KEY_SOURCE": "pkcs12",
                       "ECOPY_CERTIFIER_P12": str(p12_files["certifier"]),
                       "ECOPY_CERTIFIER_P12_PASSWORD_ENV": "ECOPY_TEST_P12_PW",
                       "ECOPY_AGENCY_PKCS11_PIN_FILE": "/run/secrets/pin",
                       "ECOPY_INCLUDE_GOV_ROOT": "false"})
    assert s.include_gov_root is False and s.agency_pkcs11_pin_file == Path("/run/secrets/pin")
    source = key_source_for(s, "certifier")
    assert isinstance(source, Pkcs12KeySource)
    assert source.describe()["password"] == "env $ECOPY_TEST_P12_PW"
    with pytest.raises(KeySourceError, match="ECOPY_AGENCY_P12"):
        key_source_for(s, "agency")
    dev = key_source_for(load_settings({}), "agency", dev_pki=lambda: pki)
    assert dev.load().is_test


# --- trust ----------------------------------------------------------------------------------


def test_trust_roots_parse_and_describe(pki, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.cert_path("root").read_bytes() +
                       pki.cert_path("intermediate").read_bytes())
    certs = parse_certificates(bundle.read_bytes())
    assert len(certs) == 2
    (tmp_path / "root.der").write_bytes(certs[0].dump())
    anchors = trust_anchors([bundle, tmp_path / "root.der"])
    assert len(anchors) == 3 and anchors[-1].sha256.hex() == GOV_ROOT_SHA256
    d = describe_certificate(gov_root())
    assert d["serial"] == "ff303ae4e90ac1ed" and d["key_type"] == "RSA" and d["key_size"] == 2048
    assert d["not_after"].startswith("2030-03-05")
    soon = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert [w["status"] for w in expiry_warnings([gov_root()], soon)] == ["expiring"]
    assert expiry_warnings([gov_root()], dt.datetime(2026, 11, 23, tzinfo=dt.UTC)) == []
    assert isinstance(certs[0], asn1_x509.Certificate)


# --- ecopy pki ------------------------------------------------------------------------------


def test_cli_pki_show_lists_the_government_root(env):
    result = run_cli(["pki", "show"], env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Government Cipher Committee root" in result.stdout
    assert "Ban Co yeu Chinh phu" in result.stdout and "Chứng thư gốc tin cậy" in result.stdout
    english = run_cli(["pki", "show", "--lang", "en"], env, timeout=120)
    assert "Trust roots" in english.stdout and GOV_ROOT_SHA256 in english.stdout


def test_cli_pki_check_flags_certificate_expiring_in_10_days(pki, p12_files, env):
    env = {**env, **REAL_CERTIFIER, "ECOPY_KEY_SOURCE": "pkcs12",
           "ECOPY_CERTIFIER_P12": str(p12_files["expiring"]),
           "ECOPY_CERTIFIER_P12_PASSWORD_ENV": "ECOPY_TEST_P12_PW",
           "ECOPY_AGENCY_P12": str(p12_files["agency"]),
           "ECOPY_AGENCY_P12_PASSWORD_FILE": str(p12_files["password_file"]),
           "ECOPY_TEST_P12_PW": P12_PASSWORD,
           "ECOPY_TRUST_ROOTS": str(pki.cert_path("root")),
           "ECOPY_INTERMEDIATES": str(pki.cert_path("intermediate"))}
    result = run_cli(["pki", "check"], env, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Sắp hết hạn" in result.stdout and "sắp hết hạn" in result.stdout
    assert "(10 ngày)" in result.stdout
    _no_secret(result.stdout, result.stderr)
    fine = run_cli(["pki", "check", "--lang", "en"],
                   {**env, "ECOPY_CERTIFIER_P12": str(p12_files["certifier"])}, timeout=120)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "No problems found." in fine.stdout
    shown = run_cli(["pki", "show"], env, timeout=120)
    assert "file=" in shown.stdout and "env $ECOPY_TEST_P12_PW" in shown.stdout
    _no_secret(shown.stdout, shown.stderr)


def _real_key_env(env: dict[str, str], pki: DevPki, p12_files: dict[str, Path]) -> dict:
    return {**env, **REAL_CERTIFIER, "ECOPY_KEY_SOURCE": "pkcs12",
            "ECOPY_CERTIFIER_P12": str(p12_files["certifier"]),
            "ECOPY_CERTIFIER_P12_PASSWORD_FILE": str(p12_files["password_file"]),
            "ECOPY_AGENCY_P12": str(p12_files["agency"]),
            "ECOPY_AGENCY_P12_PASSWORD_FILE": str(p12_files["password_file"]),
            "ECOPY_TRUST_ROOTS": str(pki.cert_path("root")),
            "ECOPY_INTERMEDIATES": str(pki.cert_path("intermediate"))}


def test_real_keys_sign_only_with_a_public_https_verify_address(pki, p12_files, env,
                                                                 tmp_path) -> None:
    """A legally valid copy's QR code leads the public to its verification: with real keys
    and the default http://127.0.0.1 address, nothing starts signing (issue 16 point 8)."""
    from ecopy.keys import build_certify_context
    from ecopy.settings import SettingsProblem, load_settings
    from storage.backends import LocalStore
    from tests.conftest import PERSON, ROOT, open_state

    real = _real_key_env(env, pki, p12_files)
    store = tmp_path / "store"
    done = run_cli(["process", "--certify-as", REAL_CERTIFIER["ECOPY_CERTIFIER_NAME"],
                    str(ROOT / "samples" / "birth_cert.jpg"), "--person-id", PERSON,
                    "--out", str(store), "--json"], real, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ECOPY_VERIFY_BASE_URL" in done.stderr and "Traceback" not in done.stderr
    assert not list(store.glob("warehouse/**/*.pdf"))
    state = open_state(LocalStore(tmp_path / "other"))
    for url in ("http://chungthuc.example.gov.vn/verify", "https://10.0.0.5/verify",
                "https://localhost/verify"):
        with pytest.raises(SettingsProblem):
            build_certify_context(load_settings({**real, "ECOPY_VERIFY_BASE_URL": url}), state)
    public = load_settings({**real, "ECOPY_VERIFY_BASE_URL":
                            "https://chungthuc.example.gov.vn/verify"})
    assert not build_certify_context(public, state).test_mode


def test_the_signing_certificate_must_be_the_certifiers(pki, p12_files, env, tmp_path) -> None:
    """The key is bound to its certifier: a certificate issued to someone else, or another
    certificate than the one pinned, signs nothing (issue 16 point 1)."""
    import hashlib

    from ecopy.keys import build_certify_context
    from ecopy.settings import SettingsProblem, load_settings
    from storage.backends import LocalStore
    from tests.conftest import open_state

    public = {**_real_key_env(env, pki, p12_files),
              "ECOPY_VERIFY_BASE_URL": "https://chungthuc.example.gov.vn/verify"}
    state = open_state(LocalStore(tmp_path / "store"))
    with pytest.raises(SettingsProblem, match="Trần Thị Bích"):
        build_certify_context(load_settings({**public, "ECOPY_CERTIFIER_NAME": "Lê Văn Khác"}),
                              state)
    with pytest.raises(SettingsProblem, match="certificate_sha256"):
        build_certify_context(load_settings({**public, "ECOPY_CERTIFIER_CERTIFICATE_SHA256":
                                             "0" * 64}), state)
    _key, cert, _more = pkcs12.load_key_and_certificates(
        p12_files["certifier"].read_bytes(), P12_PASSWORD.encode())
    pin = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    ctx = build_certify_context(load_settings({**public,
                                               "ECOPY_CERTIFIER_CERTIFICATE_SHA256": pin}), state)
    assert ctx.certifier.full_name == "Trần Thị Bích"
    assert ctx.certifier.form[-1] == "PHÓ CHỦ TỊCH" and not ctx.test_mode


def test_each_certifier_signs_with_their_own_key(pki, p12_files, env, tmp_path) -> None:
    """Several certifiers of one commune, each bound to their own key ([certifier.key] in the
    certifiers file): the one who acts signs with theirs; one without a key of their own
    cannot sign with the deployment's, which is someone else's (issue 16 point 1)."""
    from ecopy.actions import settings_for_signer
    from ecopy.keys import build_certify_context
    from ecopy.settings import SettingsProblem, load_settings
    from storage.backends import LocalStore
    from tests.conftest import open_state

    chairman_p12 = _p12(pki, tmp_path / "chairman.p12",
                        rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        "Lê Văn Hai")
    people = tmp_path / "certifiers.toml"
    people.write_text(f"""
[[certifier]]
name = "Trần Thị Bích"
position = "Phó Chủ tịch Ủy ban nhân dân xã"
basis = "vice_chairman"
decision = "15/QĐ-UBND"
decision_date = "2026-01-05"
specimen_notice = "20/TB-UBND"

[[certifier]]
name = "Lê Văn Hai"
position = "Chủ tịch Ủy ban nhân dân xã"
basis = "chairman"
specimen_notice = "21/TB-UBND"
[certifier.key]
p12 = "{chairman_p12}"
p12_password_file = "{p12_files['password_file']}"

[[certifier]]
name = "Đỗ Văn Ba"
position = "Công chức Tư pháp - Hộ tịch"
basis = "assigned"
decision = "16/QĐ-UBND"
decision_date = "2026-01-05"
specimen_notice = "22/TB-UBND"
""", encoding="utf-8")
    settings = load_settings({**_real_key_env(env, pki, p12_files),
                              "ECOPY_VERIFY_BASE_URL": "https://chungthuc.example.gov.vn/verify",
                              "ECOPY_CERTIFIERS_FILE": str(people)})
    state = open_state(LocalStore(tmp_path / "store"))
    for name, form in (("Lê Văn Hai", "CHỦ TỊCH ỦY BAN"), ("Trần Thị Bích", "PHÓ CHỦ TỊCH")):
        ctx = build_certify_context(settings_for_signer(settings, name, ""), state)
        assert ctx.certifier.full_name == name and ctx.certifier.form[-1].startswith(form)
    with pytest.raises(SettingsProblem, match="Đỗ Văn Ba"):  # Bích's key is not his
        build_certify_context(settings_for_signer(settings, "Đỗ Văn Ba", ""), state)
    people.write_text(people.read_text(encoding="utf-8").replace(
        "[certifier.key]", "[certifier.key]\nlabel = \"x\""), encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[certifier\.key\]"):
        load_settings({**_real_key_env(env, pki, p12_files),
                       "ECOPY_CERTIFIERS_FILE": str(people)})
