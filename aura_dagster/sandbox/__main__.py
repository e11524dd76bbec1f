"""`python -m aura_dagster.sandbox --port 8787`: run the vendor sandbox in the foreground."""

from __future__ import annotations

import argparse

from aura_dagster.sandbox.businesses import SANDBOX_BUSINESSES
from aura_dagster.sandbox.server import SandboxServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aura_dagster.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--api-key", default=None, help="require this X-API-Key header")
    parser.add_argument("--slow-seconds", type=float, default=3.0,
                        help="delay of the SLOW sample business")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    server = SandboxServer(args.host, args.port, api_key=args.api_key,
                           slow_seconds=args.slow_seconds, verbose=not args.quiet)
    server.start()
    print(f"vendor sandbox on {server.base_url} (Ctrl-C to stop)", flush=True)
    for business in SANDBOX_BUSINESSES:
        print(f"  {business.name:<32} {business.state}  {business.behaviour:<13} "
              f"{business.description}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
