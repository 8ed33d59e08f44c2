"""Run the simulator: ``python -m simulator --host 127.0.0.1 --port 8001``.

Served by uvicorn (one worker, httptools, uvloop), as the gateway is. One line is printed once
the socket is listening: ``simulator listening on http://HOST:PORT``.
"""

import argparse
import os

import uvicorn

from simulator.app import ENV_LISTEN_URL

TARGET = "simulator.app:create_app"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="warning", help="server log level")
    args = parser.parse_args(argv)
    os.environ[ENV_LISTEN_URL] = f"http://{args.host}:{args.port}"
    uvicorn.run(
        TARGET,
        host=args.host,
        port=args.port,
        factory=True,
        http="httptools",
        loop="uvloop",
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
