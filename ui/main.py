"""Entry point and composition root.

``patchdesk COMMAND …`` runs the command-line face without importing Qt; plain ``patchdesk``
builds the QApplication, opens the database, creates the services and shows the main window.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Sequence

#: Qt-free modules the window needs at start-up, imported before PySide6, whose ``__feature__``
#: import hook reads the source of every module imported after it (looking for the word "PySide6")
#: and so slows start-up. Only an order: each is imported where it is used as well.
CORE_BEFORE_QT = (
    "app.jobs.worker",
    "app.logsetup",
    "app.services.audit",
    "app.secrets",
    "app.domain.compliance",
    "db.database",
    "db.hosts",
    "db.jobs",
    "db.joblogs",
)


def import_core_before_qt() -> None:
    """The first step of the GUI's start: pauses the cyclic garbage collector (see
    pause_gc_for_start_up), imports CORE_BEFORE_QT, then PySide6 with its import hook quickened
    (see quicken_pyside_import_hook)."""
    pause_gc_for_start_up()
    for name in CORE_BEFORE_QT:
        importlib.import_module(name)
    importlib.import_module("PySide6.QtCore")
    quicken_pyside_import_hook()


def quicken_pyside_import_hook() -> None:
    """PySide6's ``__feature__`` import hook asks, of every module name first imported after PySide6
    (``logging``, ``db.tiles``, ``ui.theme``: 90 at start-up), whether its source holds the word
    "PySide6", through ``inspect.getsource``, which also splits the source into lines, caches them
    and walks ``sys.modules``. This asks the same question of the source file's bytes (about 8 ms
    less of the GUI's start, by callgrind's count); modules without a ``.py`` file, or a PySide6
    without this hook, are left as they are."""
    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or getattr(original, "quickened", False):
        return

    def uses_pyside(module: object) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                pass
        return bool(original(module))

    uses_pyside.quickened = True  # type: ignore[attr-defined]
    uses_pyside.original = original  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[union-attr]


def pause_gc_for_start_up() -> None:
    """No cyclic garbage collection until the window is shown (ui/app.py run_gui resumes it, then
    freezes what start-up built). Start-up creates objects by the hundred thousand (modules, classes,
    5,000 hosts and their rows) and almost none of them is garbage: the collector's passes over
    them are work for nothing (8 M instructions up to the first paint at 5,000 hosts, by
    callgrind's count: about 2 ms)."""
    gc.disable()


def main(argv: Sequence[str] | None = None) -> int:
    if getattr(sys, "frozen", False):
        # A packaged build starts the GUI's job worker (app/jobs/worker.py) by running itself;
        # this turns that start into the worker instead of a second window.
        import multiprocessing

        multiprocessing.freeze_support()
    args_list = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in args_list:
        # Checked before the CLI parser: the smoke test of a packaged build (see ui/selftest.py).
        extra = [a for a in args_list if a != "--self-test"]
        if extra:
            print(f"patchdesk: --self-test takes no other arguments (got {' '.join(extra)})", file=sys.stderr)
            return 2
        from ui.selftest import run_self_test

        return run_self_test()
    if argv is None:
        # The process's own command line: no cyclic collection while the command's modules load
        # (tens of thousands of objects, none of them garbage; a one-shot scan's imports took 7 %
        # more CPU with it). A job command resumes it once its machinery is in (app/cli/jobs.py
        # _runner), anything else below; the GUI when its window is shown (pause_gc_for_start_up).
        gc.disable()
    from app.cli import main as cli

    args = cli.parse(argv)
    if args.command is not None:
        _register_pdf_renderer()
        # The process's own command line (the installed script): it ends when the command does,
        # without the teardown a process that lives on (a test calling main([...])) would need.
        one_shot = argv is None and cli.one_shot(args)
        if not one_shot:
            gc.enable()
        code = cli.run(args)
        return cli.end_process(code) if one_shot else code
    import_core_before_qt()
    from ui.app import run_gui

    return run_gui(args)


def _register_pdf_renderer() -> None:
    """`patchdesk report --format pdf` renders with Qt (ui/report_pdf.py); app/ only sees a hook.
    Qt is imported only when a PDF is really written, so other commands stay Qt-free."""
    from app.reports import pdf

    def render(report, path):  # type: ignore[no-untyped-def]
        from ui.report_pdf import write_pdf_offscreen

        write_pdf_offscreen(report, path)

    pdf.register(render)


if __name__ == "__main__":
    sys.exit(main())
