"""Google Cloud Storage's XML API in front of moto's S3, for Haul's tests of gs:// addresses.

No GCS emulator on the package registries takes the XML API that object_store speaks (multipart uploads
included); GCS's XML API is S3's with Google's sign-in and headers. This front adds what differs, and
moto keeps the objects:
- sign-in: every request must carry a self-signed JWT (RS256, signed with the service account's key, the
  `kid` its key id, the issuer its email, a scope storage takes, not expired), as GCS takes from service
  accounts; anything else is 401. The key is made here, and the service account's JSON key file (with
  `gcs_base_url` pointing here) written to `service-account.json` in the working folder;
- names: the path is percent-decoded as GCS does (object_store encodes every `-`, `=` and `.`);
- `x-goog-if-generation-match: 0` (create only): 412 when the object exists; any other `x-goog-` header is
  answered 501, as is a chunked body (object_store sends neither).

Usage: python gcs_front.py MOTO_PORT   (prints http://127.0.0.1:PORT once listening)
"""

import base64
import http.client
import http.server
import json
import sys
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MOTO_PORT = int(sys.argv[1])
KEY_ID = "haul-test-key-1"
EMAIL = "haul-test@haul-test.iam.gserviceaccount.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = KEY.public_key()
# Create-only writes are checked and made one at a time.
CREATE_ONLY = threading.Lock()
MOTO_SIGN_IN = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def b64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def signed_in(authorization):
    """Whether the header holds a JWT this service account signed for storage, still valid."""
    if not authorization or not authorization.startswith("Bearer "):
        return False
    try:
        header, claims, signature = authorization[len("Bearer "):].split(".")
        PUBLIC.verify(b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        header, claims = json.loads(b64(header)), json.loads(b64(claims))
    except Exception:
        return False
    return (
        header.get("alg") == "RS256"
        and header.get("kid") == KEY_ID
        and claims.get("iss") == EMAIL
        and any(s in claims.get("scope", "") for s in ("auth/devstorage", "auth/cloud-platform"))
        and claims.get("exp", 0) > time.time()
    )


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=(), length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        # A HEAD's length is the object's, its body empty.
        self.send_header("Content-Length", length if length is not None else str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code):
        body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code></Error>".encode()
        self.answer(status, body, [("Content-Type", "application/xml")])

    def moto(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", MOTO_PORT, timeout=60)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def forward(self):
        if self.headers.get("Transfer-Encoding"):
            # object_store gives every body its length; a chunked one would leave this connection out of step.
            self.close_connection = True
            return self.error(411, "MissingContentLength")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if not signed_in(self.headers.get("Authorization")):
            return self.error(401, "AuthenticationRequired")
        # What GCS would do with any other x-goog- header (a copy, a write only over a given generation) is
        # not done here: refused, so no test passes on a request that meant more.
        unknown = [k for k in self.headers if k.lower().startswith("x-goog-") and k.lower() != "x-goog-if-generation-match"]
        if unknown or self.headers.get("x-goog-if-generation-match", "0") != "0":
            return self.error(501, "NotImplemented")
        raw_path, _, query = self.path.partition("?")
        path = urllib.parse.quote(urllib.parse.unquote(raw_path), safe="/")
        target = path + ("?" + query if query else "")
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("authorization", "host", "content-length") and not k.lower().startswith("x-goog-")
        }
        if body is not None:
            headers["Content-Length"] = str(len(body))
        # moto takes the account from an S3 signature's scope (it checks none); unsigned, it is anonymous and
        # may not read or replace an existing object.
        headers["Authorization"] = MOTO_SIGN_IN
        if self.headers.get("x-goog-if-generation-match") == "0":
            with CREATE_ONLY:
                existing, _ = self.moto("HEAD", path, headers={"Authorization": MOTO_SIGN_IN})
                if existing.status == 200:
                    return self.error(412, "PreconditionFailed")
                response, data = self.moto(self.command, target, body, headers)
        else:
            response, data = self.moto(self.command, target, body, headers)
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        length = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.answer(response.status, data, kept, length)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = forward


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
    port = server.server_address[1]
    pem = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {
        "type": "service_account",
        "project_id": "haul-test",
        "private_key_id": KEY_ID,
        "private_key": pem,
        "client_email": EMAIL,
        "gcs_base_url": f"http://127.0.0.1:{port}",
    }
    with open("service-account.json", "w") as f:
        json.dump(account, f)
    print(f"http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


main()
