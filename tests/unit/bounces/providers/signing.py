"""Keys made in the test, and each provider's way of signing with them."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from syndicator.bounces.providers.sns import signing_string


@dataclass(frozen=True)
class SigningCert:
    key: rsa.RSAPrivateKey
    pem: bytes


def self_signed(common_name: str = "sns.amazonaws.com", hosts: tuple[str, ...] = ()) -> SigningCert:
    """An RSA key and a self-signed certificate for it (a server's, with ``hosts``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_alt_name(h) for h in hosts]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    return SigningCert(key, cert.public_bytes(serialization.Encoding.PEM))


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def sign_sns(
    message: dict[str, Any], key: rsa.RSAPrivateKey, cert_url: str, version: str = "1"
) -> dict[str, Any]:
    signed = {**message, "SignatureVersion": version, "SigningCertURL": cert_url}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(signing_string(signed), padding.PKCS1v15(), algorithm)
    return {**signed, "Signature": base64.b64encode(signature).decode("ascii")}


def sign_mailgun(
    payload: dict[str, Any],
    key: str,
    timestamp: int,
    token: str = "1234567890abcdef1234567890abcdef",
) -> dict[str, Any]:
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    block = {"timestamp": str(timestamp), "token": token, "signature": digest.hexdigest()}
    return {**payload, "signature": block}


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key and its public half as SendGrid shows one: base64 DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(der).decode("ascii")


def sign_sendgrid(key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")
