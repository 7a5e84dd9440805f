"""``myna-mock``: command line of the mock platform.

``myna-mock serve [--host 127.0.0.1] [--port 8700]`` runs the FastAPI app under uvicorn, with settings
from the ``MYNA_MOCK_*`` environment. The admin API is unauthenticated, so a non-loopback ``--host`` is
refused unless ``--allow-non-loopback`` is given.

Unless the environment sets them, the public URLs follow ``--host``/``--port``:
``MYNA_MOCK_PUBLIC_BASE_URL`` defaults to ``http://{host}:{port}`` (the platform API's token endpoint
audience) and with it ``MYNA_MOCK_OIDC_ISSUER`` to ``http://{host}:{port}/oidc``. Behind a reverse proxy,
or bound to ``0.0.0.0``, set ``MYNA_MOCK_PUBLIC_BASE_URL`` to the URL clients actually use.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only the loopback interface (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_base_url(host: str, port: int) -> str:
    """``http://{host}:{port}`` (IPv6 literals bracketed, RFC 3986 §3.2.2)."""
    bare = host.strip("[]")
    try:
        literal = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    shown = f"[{bare}]" if literal is not None and literal.version == 6 else host
    return f"http://{shown}:{port}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myna-mock", description="Mock J-LIS JPKI platform (synthetic data only)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8700, help="TCP port (default: 8700)")
    serve.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="permit a non-loopback --host (the admin API has no authentication)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``myna-mock`` console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        if not is_loopback(args.host) and not args.allow_non_loopback:
            print(
                f"myna-mock: refusing to bind {args.host}: the admin API is unauthenticated "
                "(use --allow-non-loopback to override)",
                file=sys.stderr,
            )
            return 2
        if not 0 < args.port < 65536:
            print("myna-mock: --port must be 1–65535", file=sys.stderr)
            return 2
        import uvicorn

        # The app factory reads MYNA_MOCK_* (pydantic-settings): explicit settings win.
        os.environ.setdefault("MYNA_MOCK_PUBLIC_BASE_URL", public_base_url(args.host, args.port))
        uvicorn.run(
            "mock_platform.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
        )
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
