"""Entry point and composition root.

``patchdesk COMMAND …`` runs the command-line face without importing Qt; plain ``patchdesk``
builds the QApplication, opens the database, creates the services and shows the main window.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from app import cli

    args = cli.parse(argv)
    if args.command is not None:
        return cli.run(args)
    from ui.app import run_gui

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
