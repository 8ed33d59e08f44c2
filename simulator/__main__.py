"""Run the simulator: ``python -m simulator --host 127.0.0.1 --port 8001``.

Served by granian (ASGI interface, one worker, uvloop). When granian cannot be imported the
simulator falls back to uvicorn with httptools and uvloop. Either way one line is printed once
the socket is listening: ``simulator listening on http://HOST:PORT``.
"""

import argparse
import os

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
    try:
        from granian.constants import Interfaces, Loops
        from granian.server import Server
    except ImportError:
        _serve_uvicorn(args.host, args.port, args.log_level)
        return
    server = Server(
        TARGET,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=1,
        loop=Loops.uvloop,
        websockets=False,
        factory=True,
        log_level=args.log_level,
    )
    server.serve()


def _serve_uvicorn(host: str, port: int, log_level: str) -> None:
    """The fallback server: uvicorn with httptools and uvloop."""
    import uvicorn

    uvicorn.run(
        TARGET,
        host=host,
        port=port,
        factory=True,
        http="httptools",
        loop="uvloop",
        log_level=log_level,
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
