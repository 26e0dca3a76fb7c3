"""``PYTHONPATH=tests python -m emulator``: run the Enterprise Manager, VB365 and VBR emulator.

Environment variables are the contract (``EMULATOR_EM_PORT``, ``EMULATOR_M365_PORT``, ``EMULATOR_VBR_PORT``,
``EMULATOR_HOST``, ``EMULATOR_SCENARIO``, ``EMULATOR_DIR``, ``EMULATOR_TLS``, ``EMULATOR_KEEP_STATE``); the flags
below mirror them and win when both are given.
"""

from __future__ import annotations

import argparse
import sys

from .server import Settings, main


def parse_args(argv: list[str] | None = None) -> Settings:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=settings.host, help="listen address (EMULATOR_HOST)")
    parser.add_argument("--em-port", type=int, default=settings.em_port, help="EM port, 0 = any free (EMULATOR_EM_PORT)")
    parser.add_argument("--m365-port", type=int, default=settings.m365_port,
                        help="VB365 port, 0 = any free (EMULATOR_M365_PORT)")
    parser.add_argument("--vbr-port", type=int, default=None,
                        help="VBR port, 0 = any free (EMULATOR_VBR_PORT; default 9419)")
    parser.add_argument("--scenario", default=settings.scenario, help="scenario file, YAML or JSON (EMULATOR_SCENARIO)")
    parser.add_argument("--dir", default=settings.directory, help="state directory (EMULATOR_DIR)")
    parser.add_argument("--http", action="store_true", default=not settings.tls, help="plain HTTP (EMULATOR_TLS=0)")
    parser.add_argument("--keep-state", action="store_true", default=settings.keep_state,
                        help="load and keep state.json (EMULATOR_KEEP_STATE=1)")
    args = parser.parse_args(argv)
    vbr_port = settings.vbr_port if args.vbr_port is None else args.vbr_port
    return Settings(host=args.host, em_port=args.em_port, m365_port=args.m365_port, vbr_port=vbr_port,
                    vbr_port_explicit=settings.vbr_port_explicit or args.vbr_port is not None, scenario=args.scenario,
                    directory=args.dir, tls=not args.http, keep_state=args.keep_state)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
