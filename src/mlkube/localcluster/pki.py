"""The local cluster's certificates: one CA signs the API server's serving cert, the
admin client cert (``system:masters``), the webhooks' serving cert, and the client cert
the API server's aggregator presents to extension API servers (``front-proxy-client``,
as kubeadm names it; the prometheus-adapter trusts it for who the caller is); one key pair
signs service-account tokens. RSA keys in PKCS#1, because the controllers' certificate
rotator (cert-controller) parses the CA key it is given only in that form."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mlkube.errors import MlkubeError
from mlkube.fileio import create_directory, write_atomic

_VALID = datetime.timedelta(days=365)
_SERVICE_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
# The controllers' own certificate rotators keep a certificate only if it is valid for
# their Service's DNS name; ours also names 127.0.0.1, where the API server calls them.
WEBHOOK_SERVICES = (
    "training-operator.kubeflow.svc",
    "kueue-webhook-service.kueue-system.svc",
    "jobset-webhook-service.jobset-system.svc",
    "kubeflow-trainer-controller-manager.kubeflow-system.svc",
)
# The rotator also checks the CA certificate as if it were served under the CA's name.
CA_NAMES = ("training-operator-ca", "kueue-ca", "jobset-ca", "kubeflow-trainer-ca")


@dataclass(frozen=True)
class Pki:
    root: Path

    def path(self, name: str) -> Path:
        return self.root / name

    @property
    def ca(self) -> Path:
        return self.path("ca.crt")


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _name(common: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _sign(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    ca: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    server: bool = False,
    client: bool = False,
    ips: tuple[str, ...] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer, signer = (ca[0].subject, ca[1]) if ca else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [ExtendedKeyUsageOID.CLIENT_AUTH] * client
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server:
        dns = (*_SERVICE_NAMES, *WEBHOOK_SERVICES)
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", *ips)]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    elif ca is None:
        ca_names: list[x509.GeneralName] = [x509.DNSName(n) for n in CA_NAMES]
        builder = builder.add_extension(x509.SubjectAlternativeName(ca_names), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


FRONT_PROXY_CLIENT = "front-proxy-client"  # --requestheader-allowed-names
FRONT_PROXY_PEM = "front-proxy-client.pem"  # its certificate and key
SERVICE_IP = "10.0.0.1"  # the first address of the service range every local cluster uses


def ensure(root: Path) -> Pki:
    """The machine's local-cluster PKI, made once and shared by every local cluster.

    Shared: made once (RSA keys take seconds), and every cluster's webhook servers
    read their certificate from the cluster's own directory
    (`controllers.webhook_cert_dir`), so nothing needs a PKI of each cluster's own.
    """
    pki = Pki(root)
    if pki.path("sa.pub").is_file():
        return _with_front_proxy(pki)
    # Staged in a directory of its own: two `cluster up` at once each make a PKI, the
    # first to publish wins and the other uses it.
    create_directory(root, lambda staging: create(staging, SERVICE_IP))
    if not pki.path("sa.pub").is_file():
        raise MlkubeError(f"{root}: an incomplete local-cluster PKI; remove it and retry")
    return _with_front_proxy(pki)


def _with_front_proxy(pki: Pki) -> Pki:
    """Add the aggregator's client certificate to a PKI made before it was part of one.

    Added in place rather than by a new PKI: clusters running on the old one keep
    working. Key and
    certificate go into one PEM file written in one rename (the API server reads each
    from it), so two `up`s at once never pair one's key with the other's certificate."""
    path = pki.path(FRONT_PROXY_PEM)
    if path.is_file():
        return pki
    ca_cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.path("ca.key").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = _key()
    cert = _sign(_name(FRONT_PROXY_CLIENT), key, (ca_cert, ca_key), client=True)
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    write_atomic(path, pem, mode=0o600)
    return pki


def create(root: Path, service_ip: str) -> Pki:
    """Make every key and certificate under ``root`` (which must exist)."""
    pki = Pki(root)
    ca_key = _key()
    ca_cert = _sign(_name("mlkube-local-ca"), ca_key, None)
    _write_key(ca_key, pki.path("ca.key"))
    _write_cert(ca_cert, pki.ca)
    ca = (ca_cert, ca_key)
    for name, subject, server, client in (
        ("apiserver", _name("kube-apiserver"), True, False),
        ("admin", _name("mlkube-admin", "system:masters"), False, True),
        ("webhook", _name("mlkube-webhooks"), True, False),
    ):
        key = _key()
        _write_key(key, pki.path(f"{name}.key"))
        ips = (service_ip,) if name == "apiserver" else ()
        _write_cert(
            _sign(subject, key, ca, server=server, client=client, ips=ips), pki.path(f"{name}.crt")
        )
    sa = _key()
    _write_key(sa, pki.path("sa.key"))
    pki.path("sa.pub").write_bytes(
        sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki
