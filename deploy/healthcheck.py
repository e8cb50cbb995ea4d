"""Container health check: exit 0 when the bot's ``GET /healthz`` answers 200, 1 otherwise.

Used by the Dockerfile's HEALTHCHECK and by compose.yaml (python:3.11-slim has no curl). It asks
the bot on loopback inside the container: ``WEBHOOK_PORT`` in webhook mode (``WEBHOOK_URL``
set), ``HEALTH_PORT`` in polling mode, 8080 when neither is set. It prints one short line and
never anything the bot returned beyond the status code.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping


def health_url(env: Mapping[str, str]) -> str:
    if env.get("WEBHOOK_URL", "").strip():
        port = env.get("WEBHOOK_PORT", "").strip()
    else:
        port = env.get("HEALTH_PORT", "").strip()
    return f"http://127.0.0.1:{port or '8080'}/healthz"


def main() -> int:
    url = health_url(os.environ)
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url} unreachable ({type(exc).__name__})")
        return 1
    print(f"healthcheck: {url} {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
