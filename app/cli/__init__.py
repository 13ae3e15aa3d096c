"""The command-line face: the same services as the GUI, for scripts, cron and CI.

:mod:`app.cli.main` parses and dispatches; each command group has its module, which adds its parsers
and points each at its handler (``set_defaults(func=...)``). Exit status: 0 when everything
succeeded, 1 when a host failed or was unreachable (or a known error stopped the command), 2 on usage
errors (bad options, unknown host names, unreadable input).
"""
