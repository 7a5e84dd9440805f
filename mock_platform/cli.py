"""``myna-mock``: command line of the mock platform.

``myna-mock serve [--host 127.0.0.1] [--port 8700]`` runs the FastAPI app under uvicorn, with settings
from the ``MYNA_MOCK_*`` environment. The admin API is unauthenticated, so a non-loopback ``--host`` is
refused unless ``--allow-non-loopback`` is given.
"""

from __future__ import annotations

import argparse
import ipaddress
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
