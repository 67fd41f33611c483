"""A stand-in for the Kubernetes TokenReview API, for Vault's Kubernetes login.

OpenBao's Kubernetes auth method sends the service-account JWT to
``POST /apis/authentication.k8s.io/v1/tokenreviews`` on the configured Kubernetes
host. No cluster runs here, so this loopback server serves that one call and reports
the token as authenticated for one service account. The JWT is signed with
a throwaway RSA key because the auth method parses it before the review.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["TokenReviewServer", "service_account_jwt"]

REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def service_account_jwt(namespace: str, name: str, uid: str) -> str:
    """Return an RS256 JWT shaped like a Kubernetes service-account token.

    The auth method compares ``uid`` with the one the TokenReview returns.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {"alg": "RS256", "typ": "JWT", "kid": "prizm-test"}
    now = int(time.time())
    claims = {
        "iss": "kubernetes/serviceaccount",
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "iat": now,
        "exp": now + 3600,
    }
    signing_input = (
        _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    )
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


class TokenReviewServer:
    """Serves TokenReview on loopback, authenticating every token as one account."""

    def __init__(self, namespace: str, name: str) -> None:
        self.username = f"system:serviceaccount:{namespace}:{name}"
        self.uid = str(uuid.uuid4())
        """The service account's UID, for ``service_account_jwt``."""
        self.reviews = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _review(self, request: dict[str, Any]) -> dict[str, Any]:
        self.reviews += 1
        return {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "status": {
                "authenticated": True,
                "user": {
                    "username": self.username,
                    "uid": self.uid,
                    "groups": ["system:serviceaccounts"],
                },
                "audiences": request.get("spec", {}).get("audiences") or [],
            },
        }

    def __enter__(self) -> TokenReviewServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.split("?")[0] != REVIEW_PATH:
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = json.dumps(server._review(body)).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
