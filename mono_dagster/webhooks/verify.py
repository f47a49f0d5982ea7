"""Is a webhook delivery Mono's? The `mono-webhook-secret` header, checked in constant time.

Two schemes, each switched on by `MONO_WEBHOOK_SCHEMES`:
- `secret`: the header equals the webhook secret (Mono's documented scheme, mono_api.md §4);
- `hmac-sha512`: the header is the hex HMAC-SHA512 of the raw body under the secret (the RFC's scheme).

Every enabled scheme is always computed and compared (no early exit), with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from typing import Final

HEADER: Final = "mono-webhook-secret"
SECRET_SCHEME: Final = "secret"  # noqa: S105 - a scheme name
HMAC_SCHEME: Final = "hmac-sha512"


def hmac_sha512_hex(body: bytes, secret: bytes) -> str:
    """The RFC scheme's header value for `body`."""
    return hmac.new(secret, body, hashlib.sha512).hexdigest()


def is_authentic(header: str | None, body: bytes, secret: bytes, schemes: Collection[str]) -> bool:
    """True when the header proves the delivery under at least one enabled scheme."""
    if not header or not secret:
        return False
    presented = header.encode("utf-8", "surrogateescape")
    accepted = False
    if SECRET_SCHEME in schemes:
        accepted |= hmac.compare_digest(presented, secret)
    if HMAC_SCHEME in schemes:
        # Hex digests are compared case-insensitively: some senders upper-case them.
        accepted |= hmac.compare_digest(presented.lower(), hmac_sha512_hex(body, secret).encode("ascii"))
    return accepted
