"""A TLS listener with a self-signed certificate on loopback (``ssl_error`` tests).

Nothing trusts the certificate, so a client that verifies certificates fails on
it the way it does on a server with a self-signed or stale certificate. The
listener does the handshake itself (``start_tls`` in its own handler), so a client
that gives up mid-handshake is caught here instead of reaching the loop's
exception handler (which Home Assistant's test harness treats as a failure).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime, timedelta
import ipaddress
from pathlib import Path
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def tls_server_context(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "server.crt"
    key_file = directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


class TLSListener:
    """Accepts TLS on a loopback port with the self-signed certificate, then hangs up.

    Enough to tell certificate failures apart; it serves nothing.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._server: asyncio.Server | None = None
        self.handshakes = 0
        self.url = ""

    async def start(self) -> str:
        """Listen on a free port; returns ``https://127.0.0.1:<port>``."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"
        return self.url

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await writer.start_tls(self._context)
            self.handshakes += 1
        except ssl.SSLError, OSError:
            pass
        finally:
            writer.close()
            with suppress(ssl.SSLError, OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
