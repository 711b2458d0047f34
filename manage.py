#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import sys


def main() -> None:
    # A bad setting or an unreachable database stops the command with one line, not a traceback.
    from config.startup import run_management_command

    run_management_command(sys.argv)


if __name__ == "__main__":
    main()
