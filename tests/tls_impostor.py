"""A TLS server with a certificate nobody trusts, for man-in-the-middle tests: it records whatever a
client sends after the handshake (nothing, when the client verifies the certificate as it must)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path


def certificate(directory: Path, name: str) -> Path:
    """A self-signed certificate for 127.0.0.1 (``<name>.pem``, key ``<name>.key``)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(directory / f"{name}.key"),
         "-out", str(directory / f"{name}.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return directory / f"{name}.pem"


class Impostor:
    """Listens on 127.0.0.1 (``port``) with ``<name>.pem``; ``received`` is what came after the handshake."""

    def __init__(self, directory: Path, name: str = "impostor"):
        pem = certificate(directory, name)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pem, directory / f"{name}.key")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.listener.settimeout(20)
        try:
            raw, _ = self.listener.accept()
        except TimeoutError:
            return
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                tls.settimeout(5)
                self.received.append(tls.recv(4096))
        except (ssl.SSLError, OSError):
            pass  # the client hung up during the handshake: what verification must do

    def __enter__(self) -> Impostor:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(timeout=30)
        self.listener.close()
