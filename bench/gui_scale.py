"""The GUI at scale: the real app, offscreen, over 5,000 hosts and 1,000,000 pending-update rows.

Generates (once, cached under ~/.cache/patchdesk-bench/, keyed by schema version, generator version
and parameters) a database with tests/support/fleet.py's ``populate_scale``, then measures, each
round in a fresh GUI process started the way ``patchdesk`` starts (ui.main.main, QT_QPA_PLATFORM=
offscreen, on a fresh copy of the cached file):

  (a) cold start: process start -> main window painted with the inventory model populated, and
      -> the inventory tab painted (the number held against the target)
  (b) dashboard: one refresh as the app runs it (query on a pool thread with its own connection,
      tiles and charts set, the widget repainted), plus the query and the drawing on their own
  (c) filter-as-you-type on the inventory: "web-01" typed and erased key by key; each keystroke
      timed until the model has refiltered and the table viewport has painted the result once
  (d) peak RSS (ru_maxrss) of the GUI process at the end of the session
  (e) with real test hosts (tests/hosts, like bench/fanout.py; run as root): the longest main-thread
      stall while the GUI scans 50 of them (--scan-hosts: up to 1,000 and more, over consecutive
      /24s from the subnet), from a 5 ms QTimer that records its own lateness; and the time from the
      last host's result reaching the GUI process to the dashboard showing figures that include it
      (the bench hosts' last scans are aged before each round; the dashboard is current once its
      "not scanned recently" count no longer holds any of them)

(e) runs twice: with everything sharing the cores, then with the GUI and its job worker alone on one
CPU -- the workstation -- and the test hosts and every other task on the others (cgroup-v1 cpusets
when the machine has them; PD_BENCH_WORKER_ALONE=1 moves the worker to the hosts' CPUs too. Without
cpusets, the GUI is pinned by affinity and its worker moved to the hosts' CPUs, which leaves other
tasks free to use the GUI's CPU. In a real shop the hosts' sshd and apt run on the hosts).
Each stall > 20 ms is split into main-thread CPU, time waiting for a core (schedstat) and the rest
(asleep: GIL, locks).

Prints per-round figures, medians and spreads, and a summary table against the targets.
Run: `make bench-gui` or `python -m bench.gui_scale [--hosts 5000 --rows 1000000 --rounds 5]`;
`--quick` for a smoke run (small fleet, one round, 5 scan hosts); `--rounds 0 --scan-hosts 1000
--scan-rounds 1 --no-pin` for the 1,000-host scan alone. Diagnostics in the GUI process:
PD_BENCH_PROFILE=1 (cProfile of the main thread during the scans), PD_BENCH_STACKS=1 (main-thread
stacks, and which of the process's threads were runnable, sampled during stalls), PD_BENCH_APP_NICE=N
(the job threads' nice value, for A/B runs), PD_BENCH_SWITCH=S (the GUI's thread switch interval),
PD_BENCH_SCHED_IDLE=1 (job threads under SCHED_IDLE too), PD_BENCH_GC_FREEZE=0 (no gc.freeze()
after start-up), PD_BENCH_KEEP=S (seconds the runner keeps connections), PD_BENCH_KEY_REPAINT=always
(part (c) forces a repaint after every key even when the key's events painted already: the method
before 2026-11-29, for comparisons).
Part (e) also prints the reference counts of True and False around each scan: a PySide6 release that
loses a reference at every emit (6.12.0, ui/qtcompat.py) shows there, and aborted the process at exit.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE_DIR = Path.home() / ".cache" / "patchdesk-bench"
FILTER_TEXT = "web-01"
#: Part (c) types from this long after the process started (see _scenario).
TYPING_SETTLE_S = 4.0
TARGETS = {  # name -> (limit, unit); #25 raised the start-up and added the click and the list
    "startup": (0.6, "s"),
    "select_host": (50.0, "ms"),
    "update_list": (200.0, "ms"),
    "dashboard": (150.0, "ms"),
    "keystroke": (50.0, "ms"),
    "rss": (300.0, "MB"),
    "stall": (50.0, "ms"),
    "dashboard_current": (1.0, "s"),
}

# ------------------------------------------------------------------------------------ database


def cached_db(hosts: int, rows: int, seed: int) -> Path:
    """The generated database for these parameters, made once (a minute at full size)."""
    from db.database import open_database
    from db.schema import SCHEMA_VERSION
    from tests.support.fleet import SCALE_VERSION, populate_scale

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"gui-s{SCHEMA_VERSION}-f{SCALE_VERSION}-h{hosts}-r{rows}-seed{seed}.sqlite3"
    if path.exists():
        return path
    tmp = path.with_name(path.name + ".tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    print(f"generating {hosts} hosts / {rows} pending rows into {path} …", flush=True)
    t0 = time.perf_counter()
    db = open_database(tmp)
    populate_scale(db, hosts=hosts, rows=rows, seed=seed)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    tmp.rename(path)
    print(f"generated in {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
    return path


def fresh_copy(src: Path, work: Path, name: str) -> Path:
    """Each GUI process gets its own copy: start-up writes (today's snapshot) never touch the cache."""
    dst = work / name
    for p in (dst, Path(f"{dst}-wal"), Path(f"{dst}-shm")):
        p.unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    return dst


# ------------------------------------------------------------------------------------ child side


def _child(mode: str, db_path: str, out: str, inner: int) -> int:
    """Run the real GUI (ui.main.main) with a scenario hooked in after the window's first paint."""
    t0 = float(os.environ["PD_BENCH_T0"])  # time.monotonic() in the parent just before spawning
    from ui.main import import_core_before_qt

    import_core_before_qt()  # as ui.main.main does, before this hook's own PySide6 import
    from PySide6.QtCore import QEvent, QObject, QTimer

    from ui.main_window import MainWindow

    orig_show = MainWindow.show
    result: dict[str, Any] = {"mode": mode}

    class FirstPaint(QObject):
        def __init__(self, window: Any) -> None:
            super().__init__()
            self.window = window
            self.seen = False

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if not self.seen and event.type() == QEvent.Type.Paint:
                self.seen = True
                QTimer.singleShot(0, self.painted)  # after this paint pass has finished
            return False

        def painted(self) -> None:
            result["startup_window_s"] = time.monotonic() - t0
            result["startup_window_cpu_s"] = time.process_time()  # this process's CPU (all threads)
            result["model_rows"] = self.window.inventory.model.rowCount()
            app = _qapp()
            app.removeEventFilter(self)
            try:
                _scenario(mode, self.window, result, t0, inner)
            except BaseException as exc:  # reported to the parent, never a hang
                import traceback

                result["error"] = f"{exc!r}\n{traceback.format_exc()}"
            finally:
                Path(out).write_text(json.dumps(result))
                self.window.close()
                app.quit()

    def show(self: Any) -> None:
        MainWindow.show = orig_show  # type: ignore[method-assign]
        self._bench_filter = FirstPaint(self)
        _qapp().installEventFilter(self._bench_filter)
        orig_show(self)

    MainWindow.show = show  # type: ignore[method-assign]
    if os.environ.get("PD_BENCH_APP_NICE"):  # experiments: the job threads' nice value
        import ui.app

        ui.app.JOB_THREAD_NICE = int(os.environ["PD_BENCH_APP_NICE"])
    if os.environ.get("PD_BENCH_SCHED_IDLE"):  # experiments: job threads under SCHED_IDLE
        import threading

        import app.jobs.engine as engine_mod

        lower = engine_mod.lower_thread_priority

        def idle_too(nice: int) -> None:
            lower(nice)
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))

        engine_mod.lower_thread_priority = idle_too
    if os.environ.get("PD_BENCH_GC_FREEZE"):  # experiments: 0 leaves start-up objects to the GC
        import ui.app

        ui.app.FREEZE_STARTUP_OBJECTS = os.environ["PD_BENCH_GC_FREEZE"] != "0"
    if os.environ.get("PD_BENCH_SWITCH"):  # experiments: the GUI's thread switch interval (s)
        import ui.app

        ui.app.GUI_SWITCH_INTERVAL = float(os.environ["PD_BENCH_SWITCH"])
    from ui.main import main

    rc = main(["--db", db_path, "--no-first-run"])
    rss = _rss_mb()
    if not Path(out).exists():
        Path(out).write_text(json.dumps({**result, "error": f"the GUI exited ({rc}) before painting"}))
    else:
        Path(out).write_text(json.dumps({**json.loads(Path(out).read_text()), "rss_exit_mb": rss}))
    return 0


def _qapp() -> Any:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


def _wait(cond: Any, timeout: float = 60.0, step_ms: int = 5) -> bool:
    """Run the event loop until ``cond()`` (a QEventLoop polled by a timer: no busy spinning)."""
    from PySide6.QtCore import QEventLoop, QTimer

    if cond():
        return True
    loop = QEventLoop()
    deadline = time.monotonic() + timeout
    poll = QTimer()
    poll.setInterval(step_ms)
    poll.timeout.connect(lambda: loop.quit() if cond() or time.monotonic() > deadline else None)
    poll.start()
    loop.exec()
    poll.stop()
    return bool(cond())


def _settle(ms: int) -> None:
    end = time.monotonic() + ms / 1000
    _wait(lambda: time.monotonic() >= end, timeout=ms / 1000 + 1)


def _flush() -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()


def _rss_mb() -> float:
    """Peak RSS of this process's own memory: VmHWM. Not ru_maxrss: Linux carries that over from the
    parent across fork and exec, so a child of a bench that has just generated the database (≈ 270 MB)
    reported the parent's peak, not its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scenario(mode: str, w: Any, r: dict[str, Any], t0: float, inner: int) -> None:
    from PySide6.QtCore import Qt

    dash = w.dashboard
    refreshed = {"n": 0}
    dash.refreshed.connect(lambda: refreshed.__setitem__("n", refreshed["n"] + 1))
    r["rss_shown_mb"] = _rss_mb()

    # (a) the inventory tab, right after the first paint (the dashboard is the home tab)
    t = time.perf_counter()
    w.show_inventory()
    w.repaint()
    r["inventory_tab_s"] = time.perf_counter() - t
    r["startup_inventory_s"] = time.monotonic() - t0
    r["startup_inventory_cpu_s"] = time.process_time()
    if mode == "startup":  # for profiling the start alone
        return

    # the start-up dashboard refresh (today's snapshot + first sightings, then the queries)
    t = time.perf_counter()
    if not _wait(lambda: refreshed["n"] >= 1, timeout=120):
        raise RuntimeError("the dashboard never refreshed after start-up")
    r["first_dashboard_after_paint_s"] = time.monotonic() - t0 - r["startup_window_s"]
    r["first_dashboard_wait_s"] = time.perf_counter() - t
    if mode == "scan":
        _scan_scenario(w, r)
        return

    # (b) dashboard refresh as the app does it, minus the 150 ms debounce: pool-thread query,
    # tiles and charts set on the main thread, then the widget painted.
    w.tabs.setCurrentWidget(dash)
    w.repaint()
    r["dashboard_ms"], r["dashboard_compute_ms"], r["dashboard_draw_ms"] = [], [], []
    from db import compliance as db_compliance
    from db.database import open_database

    for _ in range(inner):
        n = refreshed["n"]
        t = time.perf_counter()
        dash._start()
        if not _wait(lambda n=n: refreshed["n"] > n, timeout=60, step_ms=1):
            raise RuntimeError("dashboard refresh timed out")
        _flush()
        dash.repaint()
        r["dashboard_ms"].append((time.perf_counter() - t) * 1000)
        # its two halves on their own: the queries (fresh connection, as the pool thread) ...
        t = time.perf_counter()
        own = open_database(dash.db_path, migrate=False)
        data = db_compliance.dashboard(own, dash.current_filter())
        own.conn.close()
        r["dashboard_compute_ms"].append((time.perf_counter() - t) * 1000)
        # ... and the drawing (tiles, three charts, side panel; then a synchronous paint)
        t = time.perf_counter()
        dash._generation += 1
        dash._show(dash._generation, data)
        _flush()
        dash.repaint()
        r["dashboard_draw_ms"].append((time.perf_counter() - t) * 1000)
    # the queries under each kind of filter (informational: a different plan each)
    from app.domain.compliance import ComplianceFilter

    r["dashboard_compute_filtered_ms"] = {}
    own = open_database(dash.db_path, migrate=False)
    for label, f in (
        ("group=web", ComplianceFilter(group="web")),
        ("os=windows", ComplianceFilter(os_family="windows")),
        ("ring=test", ComplianceFilter(ring="test")),
    ):
        t = time.perf_counter()
        db_compliance.dashboard(own, f)
        r["dashboard_compute_filtered_ms"][label] = (time.perf_counter() - t) * 1000
    own.conn.close()

    # (c) filter-as-you-type on the inventory, each key until the view has repainted: the key's
    # events processed, then the table's viewport painted unless those events already painted it
    # (forcing a second paint counted one paint twice; PD_BENCH_KEY_REPAINT=always does that, as
    # this bench did until 2026-11-29).
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtTest import QTest

    w.show_inventory()
    w.repaint()
    inv = w.inventory
    edit, view = inv.filter_edit, inv.table.viewport()
    edit.setFocus()
    always = os.environ.get("PD_BENCH_KEY_REPAINT") == "always"

    class PaintCount(QObject):
        n = 0

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint:
                PaintCount.n += 1
            return False

    painted = PaintCount()
    view.installEventFilter(painted)

    def settle() -> None:
        before = PaintCount.n
        _flush()
        if always or PaintCount.n == before:
            view.repaint()

    keys: list[float] = []
    per_key: dict[str, list[float]] = {}
    shown: list[int] = []
    # Type once start-up's background work is over (the keyring check, the first job's imports, the
    # filter's search texts: ~200 ms of CPU in the first 3-4 s, on other threads but under the same
    # GIL). Typing during it cost the first keys 60-80 ms (bench/RESULTS.md, 2026-11-29).
    import threading

    from PySide6.QtCore import QThreadPool

    def settled() -> bool:
        return (
            time.monotonic() - t0 >= TYPING_SETTLE_S
            and not any(t.name == "warm-up" for t in threading.enumerate())
            and QThreadPool.globalInstance().activeThreadCount() == 0
        )

    _wait(settled, timeout=30)
    r["typing_from_s"] = time.monotonic() - t0
    for _ in range(inner):
        typed = ""
        for ch in FILTER_TEXT:
            typed += ch
            t = time.perf_counter()
            QTest.keyClicks(edit, ch)
            settle()
            ms = (time.perf_counter() - t) * 1000
            keys.append(ms)
            per_key.setdefault(typed, []).append(ms)
        shown.append(inv.model.rowCount())
        for k in range(len(FILTER_TEXT)):
            t = time.perf_counter()
            QTest.keyClick(edit, Qt.Key.Key_Backspace)
            settle()
            ms = (time.perf_counter() - t) * 1000
            keys.append(ms)
            per_key.setdefault(f"⌫{FILTER_TEXT[: len(FILTER_TEXT) - k - 1] or '(empty)'}", []).append(ms)
    view.removeEventFilter(painted)
    r["keystroke_ms"] = keys
    r["keystroke_by_text_ms"] = {k: statistics.median(v) for k, v in per_key.items()}
    r["filter_rows_shown"] = shown[-1] if shown else None

    # extras a user does at this size (informational)
    from ui.models.hosts_model import COL_NAME, COL_URGENT

    t = time.perf_counter()
    inv.table.sortByColumn(COL_URGENT, Qt.SortOrder.DescendingOrder)
    _flush()
    view.repaint()
    r["sort_by_urgent_ms"] = (time.perf_counter() - t) * 1000
    inv.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    hosts = inv.model.hosts()
    biggest = max(hosts, key=lambda h: h.pending_total)
    cpu = time.thread_time()  # the main thread's own CPU: apart from waits for a core or the GIL
    t = time.perf_counter()
    inv.select_host(biggest.id)
    _flush()
    w.repaint()
    r["select_biggest_host_ms"] = (time.perf_counter() - t) * 1000
    r["select_biggest_host_cpu_ms"] = (time.thread_time() - cpu) * 1000
    r["biggest_host_pending"] = biggest.pending_total
    # the host detail shows its first page at once and reads the rest between events: until when
    # (informational; the measure above ends with the window painted, the list maybe partial)
    um = w.detail.updates_model
    r["biggest_host_listed_at_paint"] = um.rowCount()
    if not _wait(lambda: um.rowCount() >= biggest.pending_total, timeout=60, step_ms=1):
        raise RuntimeError("the host detail never listed all of the biggest host's updates")
    r["select_biggest_host_all_listed_ms"] = (time.perf_counter() - t) * 1000
    # a chart segment's drill-down: every non-critical update with its host count (pool thread)
    loaded = {"n": 0}
    w.updates_view.loaded.connect(lambda: loaded.__setitem__("n", loaded["n"] + 1))
    t = time.perf_counter()
    w.show_updates("noncritical", None, "Non-critical updates")
    if not _wait(lambda: loaded["n"] > 0, timeout=120):
        raise RuntimeError("the update list never loaded")
    _flush()
    w.repaint()
    r["update_list_ms"] = (time.perf_counter() - t) * 1000
    r["update_list_rows"] = w.updates_view.list_model.rowCount()
    _settle(300)
    r["rss_peak_mb"] = _rss_mb()


def _scan_scenario(w: Any, r: dict[str, Any]) -> None:
    """(e) a 5 ms PreciseTimer records how late it fires while the GUI scans the bench hosts; and how
    long after the last host's result arrived the dashboard showed figures that include it."""
    from PySide6.QtCore import Qt, QTimer

    hosts = [h for h in w.inventory.model.hosts() if h.name.startswith("bench")]
    if not hosts:
        raise RuntimeError("no bench hosts in the database")
    w.show_inventory()
    w.repaint()
    lag = _Lateness()
    watchdog = _StackSampler(lag.last) if os.environ.get("PD_BENCH_STACKS") else None

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(lag.tick)
    lag.restart(False)
    timer.start()
    _settle(2000)  # idle baseline: what the machine's noise alone does to the timer
    r["idle_late_ms"] = sorted(lag.late)[-5:]
    r["idle_max_late_ms"] = max(lag.late) if lag.late else 0.0
    rounds = int(os.environ.get("PD_BENCH_SCAN_ROUNDS", "3"))
    # Every scan simulates on every host (the console's scan would reuse the last simulation on hosts
    # where nothing changed, which loads the machine less): the stall is measured in the harder case.
    w.runner.start_scan = functools.partial(w.runner.start_scan, full=True)
    if os.environ.get("PD_BENCH_KEEP"):  # experiments: seconds the runner keeps connections
        if hasattr(w.runner, "pool"):
            w.runner.pool.idle = float(os.environ["PD_BENCH_KEEP"])
        else:  # the worker process (app/jobs/worker.py) reads it when it starts
            w.runner._config["runner"]["keep_connections"] = float(os.environ["PD_BENCH_KEEP"])
    for key in ("scan_max_late_ms", "scan_p99_late_ms", "scan_s", "scan_over_50", "dash_current_s"):
        r[key] = []
    # the worker is started 1 s after the window shows; a click before it is up starts off the main
    # thread (ui/jobs_controller.py::_start_job) and returns no handle -- not what (e) measures
    if not _wait(w.runner.ready, timeout=60):
        raise RuntimeError("the job worker did not come up")
    _move_worker(w, r)
    w.inventory.select_ids({h.id for h in hosts})
    persisted = {"n": 0, "t_in": 0.0, "t_out": 0.0}
    orig = w.job_control._job_persisted

    def persisted_hook(handle: Any, flushed: bool) -> None:
        persisted["t_in"] = time.perf_counter()
        orig(handle, flushed)
        persisted["t_out"] = time.perf_counter()
        persisted["n"] += 1

    w.job_control._job_persisted = persisted_hook
    results = _ResultClock()
    w.runner.add_listener(results)
    dash = _DashWatch(w.dashboard)
    prof = None
    if os.environ.get("PD_BENCH_PROFILE"):  # diagnostics: where the main thread's CPU goes
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    r["true_false_refs"] = [[sys.getrefcount(True), sys.getrefcount(False)]]
    for _ in range(rounds):
        # the bench hosts' last scans made old, and the dashboard shown so: once it counts them all
        # as scanned again, it holds this round's results (not merely any refresh after it)
        _age_scans(w.dashboard.db_path, [h.id for h in hosts])
        dash.arm(stale_before_round(w, dash, len(hosts)) - len(hosts))
        _settle(500)
        _scan_round(w, r, hosts, lag, persisted, results, dash)
        r.setdefault("true_false_refs", []).append([sys.getrefcount(True), sys.getrefcount(False)])
    timer.stop()
    if prof is not None:
        import io
        import pstats

        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
        r["profile"] = buf.getvalue()
    # Where a stall's time went: main-thread CPU close to the lateness means work on the main
    # thread; little CPU means it waited (for the GIL held by job threads, or for a core).
    r["stalls_late_cpu_ms"] = sorted(lag.all_stalls, reverse=True)[:12]
    if watchdog is not None:
        r["stall_stacks"] = watchdog.stop()
    r["rss_peak_mb"] = _rss_mb()


def _scan_round(
    w: Any,
    r: dict[str, Any],
    hosts: list[Any],
    lag: _Lateness,
    persisted: dict[str, Any],
    results: _ResultClock,
    dash: _DashWatch,
) -> None:
    """One scan of the bench hosts, clicked as the user does, timed until the dashboard is current."""
    n = persisted["n"]
    lag.restart(True)
    t = time.perf_counter()
    if os.environ.get("PD_BENCH_PROFILE_START"):  # diagnostics: the click's own work
        import cProfile
        import io
        import pstats

        sp = cProfile.Profile()
        handle = sp.runcall(w.start_scan, hosts)
        buf = io.StringIO()
        pstats.Stats(sp, stream=buf).sort_stats("cumulative").print_stats(40)
        r.setdefault("start_profiles", []).append(buf.getvalue())
    else:
        handle = w.start_scan(hosts)
    r.setdefault("start_call_ms", []).append(round((time.perf_counter() - t) * 1000, 1))
    if handle is None:  # a job of many hosts starts off the main thread (ui/jobs_controller.py)
        prev = w.job_control.active_job if w.job_control.active_job is not None else object()
        if not _wait(lambda: w.job_control.active_job not in (None, prev), timeout=120):
            raise RuntimeError("the scan did not start")
        handle = w.job_control.active_job
    r.setdefault("start_shown_ms", []).append(round((time.perf_counter() - t) * 1000, 1))
    results.watch(handle)
    if not _wait(lambda: persisted["n"] > n, timeout=1200):
        raise RuntimeError("the scan did not finish")
    r["scan_s"].append(time.perf_counter() - t)
    lag.phase["end"] = time.perf_counter()
    current = _wait(lambda: dash.t_current is not None, timeout=60)
    _settle(300)
    lag.in_round = False
    last = results.last.get(handle.job_id)
    if last is None:
        raise RuntimeError("no host's result reached the GUI")
    r.setdefault("results_seen", []).append(results.count.get(handle.job_id, 0))
    # None: not current within a minute of the job's end (reported as a miss, never as a figure)
    r["dash_current_s"].append(round(dash.t_current - last, 3) if current and dash.t_current else None)
    r.setdefault("persisted_after_last_s", []).append(
        [round(persisted["t_in"] - last, 3), round(persisted["t_out"] - last, 3)]
    )
    ended, done = results.ended.get(handle.job_id), results.done.get(handle.job_id)
    r.setdefault("end_done_after_last_s", []).append(
        [None if x is None else round(x - last, 3) for x in (ended, done)]
    )
    r.setdefault("dash_refreshes", []).append(dash.refreshes)
    r.setdefault("dash_stale_seen", []).append(dash.stale_seen[-6:])
    bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
    if bad:
        r.setdefault("scan_errors", []).append(bad[:3])
    s = sorted(lag.late)
    r["scan_max_late_ms"].append(s[-1] if s else 0.0)
    r["scan_p99_late_ms"].append(s[int(len(s) * 0.99)] if s else 0.0)
    r["scan_over_50"].append(sum(1 for x in s if x > 50))
    r.setdefault("scan_worst5_ms", []).append([round(x, 1) for x in s[-5:]])
    r.setdefault("stalls_by_round", []).append(sorted(lag.stalls, reverse=True)[:8])


def stale_before_round(w: Any, dash: _DashWatch, aged: int) -> int:
    """The dashboard's "not scanned recently" count once it shows the aged bench hosts (a refresh
    already under way when they were aged may show them fresh: then once more)."""
    for _ in range(3):
        dash.arm(None)
        w.dashboard.refresh()
        if not _wait(lambda: dash.data_seen and not w.dashboard.busy, timeout=120):
            raise RuntimeError("the dashboard did not refresh before the round")
        stale = int(w.dashboard.data.summary[_tile("STALE")])
        if stale >= aged:
            return stale
    raise RuntimeError(f"the dashboard counts {stale} stale hosts, fewer than the {aged} aged")


def _tile(name: str) -> Any:
    from app.domain.compliance import Tile

    return Tile[name]


def _age_scans(db_path: Any, ids: list[int]) -> None:
    """Make the bench hosts' last scans older than any stale threshold (bench-only SQL: their
    figures on the dashboard then tell this round's scan from the last)."""
    from db.database import open_database

    db = open_database(Path(db_path), migrate=False)
    try:
        with db.conn:
            db.conn.executemany(
                "UPDATE hosts SET last_scan_at = '2000-01-01T00:00:00.000+00:00' WHERE id = ?",
                [(i,) for i in ids],
            )
    finally:
        db.conn.close()


class _Lateness:
    """The 5 ms timer's lateness, and each stall > 20 ms split into main-thread CPU, time waiting for
    a core (Linux schedstat) and the rest (the main thread asleep: the GIL or a lock)."""

    def __init__(self) -> None:
        import threading

        self.late: list[float] = []
        self.last = [time.perf_counter()]
        #: (lateness, main-thread CPU, waiting for a core) in ms, s into the round, s after its end
        self.stalls: list[tuple[Any, ...]] = []
        self.all_stalls: list[tuple[Any, ...]] = []
        self.phase: dict[str, float | None] = {"t0": time.perf_counter(), "end": None}
        self.in_round = False  # the idle baseline and the set-up between rounds are not counted
        try:
            path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
            self._sched: int | None = os.open(path, os.O_RDONLY)
        except OSError:
            self._sched = None
        self._cpu = [time.thread_time(), self._waited()]

    def _waited(self) -> float:
        """ms this thread has spent runnable but waiting for a CPU."""
        if self._sched is None:
            return 0.0
        try:
            return int(os.pread(self._sched, 128, 0).split()[1]) / 1e6
        except (OSError, IndexError, ValueError):
            return 0.0

    def restart(self, in_round: bool) -> None:
        self.in_round = in_round
        self.late.clear()
        self.stalls = []
        now = time.perf_counter()
        self.last[0] = now
        self.phase["t0"], self.phase["end"] = now, None
        self._cpu = [time.thread_time(), self._waited()]

    def tick(self) -> None:
        now, now_cpu, now_wait = time.perf_counter(), time.thread_time(), self._waited()
        ms = max(0.0, (now - self.last[0]) * 1000 - 5.0)
        self.late.append(ms)
        if ms > 20:
            end = self.phase["end"]
            stall = (
                round(ms, 1),
                round((now_cpu - self._cpu[0]) * 1000, 1),
                round(now_wait - self._cpu[1], 1),
                round(now - (self.phase["t0"] or now), 2),
                None if end is None else round(now - end, 2),
            )
            self.stalls.append(stall)
            if self.in_round:
                self.all_stalls.append(stall)
        self.last[0], self._cpu[0], self._cpu[1] = now, now_cpu, now_wait


class _ResultClock:
    """A runner listener (called on the worker's reader thread in the GUI process): when each job's
    last host result -- a recorded scan or a finished host step -- arrived in this process."""

    def __init__(self) -> None:
        self.last: dict[int, float] = {}
        self.count: dict[int, int] = {}
        #: when the job's own end (JobStateChanged) arrived, and when its handle was done (the worker
        #: says so once its recorder has persisted the job)
        self.ended: dict[int, float] = {}
        self.done: dict[int, float] = {}

    def __call__(self, ev: Any) -> None:
        from app.domain.events import HostStateChanged, JobStateChanged, ScanRecorded

        if isinstance(ev, ScanRecorded) or (isinstance(ev, HostStateChanged) and ev.state.finished):
            self.last[ev.job_id] = time.perf_counter()
            self.count[ev.job_id] = self.count.get(ev.job_id, 0) + 1
        elif isinstance(ev, JobStateChanged) and str(ev.state) != "running":
            self.ended[ev.job_id] = time.perf_counter()

    def watch(self, handle: Any) -> None:
        import threading

        def wait() -> None:
            handle.done.wait()
            self.done[handle.job_id] = time.perf_counter()

        threading.Thread(target=wait, daemon=True).start()


class _DashWatch:
    """The dashboard's refreshes: the first one whose "not scanned recently" count has come down to
    ``target`` (every bench host counted as freshly scanned) is when the dashboard became current."""

    def __init__(self, dashboard: Any) -> None:
        self.dash = dashboard
        self.target: int | None = None
        self.t_current: float | None = None
        self.data_seen = False
        self.refreshes = 0
        self.stale_seen: list[int] = []
        dashboard.refreshed.connect(self._refreshed)

    def arm(self, target: int | None) -> None:
        self.target, self.t_current, self.data_seen, self.refreshes = target, None, False, 0
        self.stale_seen = []

    def _refreshed(self) -> None:
        now = time.perf_counter()
        self.refreshes += 1
        self.data_seen = True
        data = self.dash.data
        if data is None:
            return
        stale = data.summary[_tile("STALE")]
        self.stale_seen.append(stale)
        if self.target is not None and self.t_current is None and stale <= self.target:
            self.t_current = now


class _StackSampler:
    """Diagnostics (PD_BENCH_STACKS=1): while the timer is overdue by > 20 ms, sample the main
    thread's Python stack every 5 ms from a thread of our own; the most frequent stacks come back."""

    def __init__(self, last: list[float]) -> None:
        import threading

        self._last = last
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._counts: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import threading
        import traceback

        while not self._stop.wait(0.005):
            if time.perf_counter() - self._last[0] < 0.025:
                continue
            frame = sys._current_frames().get(self._main or 0)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-8:]
            key = " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(stack))
            self._counts[key] = self._counts.get(key, 0) + 1
            # and which of the process's threads are on a CPU or want one (state R), by name and nice
            me = threading.get_native_id()
            names = {t.native_id: t.name.split("_")[0].rstrip("-0123456789") for t in threading.enumerate()}
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/stat") as f:
                        comm, rest = f.read().rsplit(")", 1)
                except OSError:
                    continue
                parts = rest.split()
                if parts[0] == "R" and int(tid) != me:
                    name = names.get(int(tid)) or comm.split("(", 1)[1]
                    k = f"running: {name} nice {parts[16]}"
                    self._counts[k] = self._counts.get(k, 0) + 1

    def stop(self) -> list[tuple[int, str]]:
        self._stop.set()
        self._thread.join()
        return sorted(((n, k) for k, n in self._counts.items()), reverse=True)[:25]


# ------------------------------------------------------------------------------------ parent side


def spawn(
    mode: str,
    db: Path,
    work: Path,
    inner: int,
    extra_env: dict[str, str] | None = None,
    cpus: set[int] | None = None,
    cpuset: Path | None = None,
) -> dict[str, Any]:
    out = work / f"result-{mode}-{time.monotonic_ns()}.json"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PATCHDESK_LOG_DIR": str(work / "logs"),
        # The minute scheduler would push the fleet's urgent updates to its made-up addresses.
        "PATCHDESK_SCHEDULER": "off",
        **(extra_env or {}),
    }
    # -c and an import, not -m: a __main__ module is compiled afresh on every start, which would
    # add this file's compile time to the start-up being measured.
    cmd = [
        sys.executable,
        "-c",
        "import sys; from bench.gui_scale import main; sys.exit(main())",
        "--child",
        mode,
        "--db",
        str(db),
        "--out",
        str(out),
        "--inner",
        str(inner),
    ]
    env["PD_BENCH_T0"] = repr(time.monotonic())
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        preexec_fn=functools.partial(_confine, cpus, cpuset) if cpus or cpuset else None,
    )
    if not out.exists():
        raise RuntimeError(f"child {mode} wrote nothing (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    res: dict[str, Any] = json.loads(out.read_text())
    if proc.returncode != 0:  # the figures are in, but say so: a crash at exit is a bug too
        print(f"warning: the {mode} GUI process exited with {proc.returncode}: {proc.stderr[-500:]}")
    if "error" in res:
        raise RuntimeError(f"child {mode} failed: {res['error']}\n{proc.stderr[-2000:]}")
    return res


def _confine(cpus: set[int] | None, cpuset: Path | None) -> None:
    """In the child before exec: into ``cpuset`` (its threads and processes follow), onto ``cpus``."""
    if cpuset is not None:
        (cpuset / "tasks").write_text(str(os.getpid()))
    if cpus:
        os.sched_setaffinity(0, cpus)


class CpuIsolation:
    """For the pinned run: CPU ``gui_cpu`` for the GUI process alone. Pinning the GUI and the hosts
    leaves every other task free to run on the GUI's core -- another session's tests, the bench's own
    tools -- and those were what the main thread waited for (an ftrace of CPU 0 on 2026-12-06). With
    cgroup-v1 cpusets (root), every task on the machine moves to a cpuset of the other CPUs for the
    run (children stay there), the GUI into one of its own, and all of them move back afterwards.
    Without cpusets, ``available`` is False and the run pins by affinity alone, as before. A bench
    killed outright (SIGKILL) leaves the machine's tasks on the other CPUs: the next run moves them
    back, as does ``for t in $(cat pd_bench_*/tasks); do echo $t > tasks; done`` in the cpuset root."""

    ROOT_SET = Path("/sys/fs/cgroup/cpuset")

    def __init__(self, gui_cpu: int, rest: list[int]) -> None:
        self.gui_cpu, self.rest_cpus = gui_cpu, rest
        self.rest = self.ROOT_SET / "pd_bench_rest"
        self.gui = self.ROOT_SET / "pd_bench_gui"
        self.available = (self.ROOT_SET / "tasks").exists() and os.geteuid() == 0
        self.moved = 0

    def __enter__(self) -> CpuIsolation:
        if not self.available:
            return self
        try:
            for path, cpus in ((self.rest, self.rest_cpus), (self.gui, [self.gui_cpu])):
                path.mkdir(exist_ok=True)
                (path / "cpuset.mems").write_text((self.ROOT_SET / "cpuset.mems").read_text())
                (path / "cpuset.cpus").write_text(",".join(str(c) for c in cpus))
            self.moved = self.sweep()
        except OSError as exc:
            print(f"(e) cpusets not usable ({exc}); pinning by affinity alone", flush=True)
            self.__exit__()
            self.available = False
        return self

    def sweep(self) -> int:
        """Move every movable task left in the root cpuset to the rest (per-CPU kernel threads stay)."""
        moved = 0
        for _ in range(5):  # a task forked meanwhile by one not yet moved
            now = 0
            for tid in (self.ROOT_SET / "tasks").read_text().split():
                try:
                    (self.rest / "tasks").write_text(tid)
                    now += 1
                except OSError:
                    continue
            moved += now
            if not now:
                break
        return moved

    def __exit__(self, *exc: object) -> None:
        for path in (self.gui, self.rest):
            if not path.exists():
                continue
            for _ in range(5):
                left = (path / "tasks").read_text().split()
                for tid in left:
                    try:
                        (self.ROOT_SET / "tasks").write_text(tid)
                    except OSError:
                        continue
                if not left:
                    break
            try:
                path.rmdir()
            except OSError as err:
                print(f"warning: cpuset {path} not removed: {err}")


def cpu_index() -> float:
    """How fast this (virtual) machine runs Python right now: a fixed pure-Python loop, best of 3,
    in ms. Printed next to each start-up, whose figure moves with it (the VM here has slow and fast
    phases, ~1.4x apart)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        n = 0
        for i in range(300_000):
            n += i % 7
        best = min(best, time.perf_counter() - t)
    return best * 1000


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def spread(xs: list[float], fmt: str = "{:.1f}") -> str:
    if not xs:
        return "-"
    return (
        f"median {fmt.format(med(xs))}  min {fmt.format(min(xs))}  max {fmt.format(max(xs))}  (n={len(xs)})"
    )


def run_scan_stage(args: argparse.Namespace, src: Path, work: Path) -> dict[str, Any] | None:
    """(e) in two set-ups: everything sharing the cores, then the GUI on a core of its own."""
    from tests.hosts import HostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        print(f"(e) skipped: test hosts unavailable: {reason}")
        return None
    from app.domain.models import Host
    from app.jobs.runner import JobRunner
    from db import hosts as db_hosts
    from db.database import open_database

    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    os.environ["PATCHDESK_LOG_DIR"] = str(work / "logs")
    from bench.fanout import load_average, raise_limits, share_host_keys

    subnet = os.environ.get("PATCHDESK_TEST_SUBNET", args.subnet)
    raise_limits()  # the worker keeps a login per host: past 1,000 descriptors (inherited by the GUI)
    n = args.scan_hosts
    with HostCluster(subnet=subnet, subnets=max(1, -(-n // 254))) as cluster:
        share_host_keys(cluster, min(n, 300))  # past 300 hosts, key sets again (bench/fanout.py)
        t = time.perf_counter()
        test_hosts: list[Any] = []
        while len(test_hosts) < n:  # in batches, as bench/fanout.py: a thousand sshd at once time out
            test_hosts += cluster.start(min(100, n - len(test_hosts)), prefix="bench")
        print(
            f"(e) {len(test_hosts)} test hosts up from {subnet}.1 ({cluster.address_of(n)} the last) in "
            f"{time.perf_counter() - t:.1f} s; load average {load_average()}",
            flush=True,
        )
        path = fresh_copy(src, work, "scan.sqlite3")
        db = open_database(path)
        models = [
            db_hosts.add_host(
                db,
                Host(
                    name=h.name,
                    address=h.address,
                    user="admin",
                    key_file=str(cluster.client_key),
                    group="bench",
                ),
            )
            for h in test_hosts
        ]
        # the first contact at C=50, as bench/fanout.py (only the GUI's own scans are measured)
        runner = JobRunner(path, host_deadline=300, concurrency=50)
        handle = runner.start_scan(db, models, accept_new_keys=True)  # first contact: keys trusted here
        handle.wait()
        runner.flush(30)
        runner.close()
        db.conn.close()
        bad = [o.error for o in handle.outcomes.values() if str(o.state) != "succeeded"]
        if bad:
            raise RuntimeError(f"warm-up scan failed on {len(bad)} host(s): {bad[:2]}")
        env = {"PD_BENCH_SCAN_ROUNDS": str(args.scan_rounds)}
        shared = None
        if args.shared or not args.pin:
            print(f"(e) GUI and test hosts sharing every core (load average {load_average()}):", flush=True)
            shared = spawn("scan", fresh_copy(path, work, "scan-run.sqlite3"), work, 1, env)
            _print_scan(shared)
        pinned = None
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2 and args.pin:
            # The test hosts' sshd and apt run on this machine; a real shop's run on theirs. Pinned,
            # the GUI process (main thread, job threads, recorder) has one core and the hosts the
            # others: closer to the real case, and what is left is the app's own doing.
            moved = _pin_hosts(cluster, set(cpus[1:]))
            env_pinned = dict(env)
            with CpuIsolation(cpus[0], cpus[1:]) as iso:
                # Isolated, the workstation is CPU 0: the window and its job worker (at nice 19), as on
                # a user's machine; the hosts are the network. PD_BENCH_WORKER_ALONE=1: the worker
                # joins the hosts, leaving the window alone. Pinned by affinity, the worker always
                # leaves, since other tasks share the GUI's CPU anyway.
                worker_off = not iso.available or bool(os.environ.get("PD_BENCH_WORKER_ALONE"))
                where = "its job worker, " if worker_off else ""
                alone = (
                    f"{'the GUI' if worker_off else 'the GUI and its job worker'} alone on CPU {cpus[0]} "
                    f"(cpusets: {where}the test hosts and the machine's other {iso.moved} tasks on CPUs "
                    f"{cpus[1:]})"
                    if iso.available
                    else f"GUI pinned to CPU {cpus[0]}, its job worker and the test hosts' {moved} processes "
                    f"to CPUs {cpus[1:]} (other tasks may still run on CPU {cpus[0]}: no cpusets)"
                )
                print(f"(e) {alone} (load average {load_average()}):", flush=True)
                if worker_off:
                    env_pinned["PD_BENCH_WORKER_CPUS"] = ",".join(str(c) for c in cpus[1:])
                if worker_off and iso.available:
                    env_pinned["PD_BENCH_WORKER_CPUSET"] = str(iso.rest)
                pinned = spawn(
                    "scan",
                    fresh_copy(path, work, "scan-run.sqlite3"),
                    work,
                    1,
                    env_pinned,
                    cpus={cpus[0]},
                    cpuset=iso.gui if iso.available else None,
                )
                pinned["isolated"] = iso.available
            _print_scan(pinned)
    return {"shared": shared, "pinned": pinned}


def _move_worker(w: Any, r: dict[str, Any]) -> None:
    """Pinned runs: the job worker, which the window starts and which so inherits the GUI's CPU, joins
    the hosts' CPUs (every thread it has; later ones inherit), so that the GUI has its core to itself
    -- the loopback traffic of its SSH sessions is processed on the core that sends it."""
    cpus = os.environ.get("PD_BENCH_WORKER_CPUS")
    proc = getattr(w.runner, "_proc", None)
    if not cpus or proc is None:
        return
    target = {int(c) for c in cpus.split(",")}
    cpuset = os.environ.get("PD_BENCH_WORKER_CPUSET")
    if cpuset:  # the whole process, threads to come included
        Path(cpuset, "cgroup.procs").write_text(str(proc.pid))
        r["worker_cpus"] = sorted(target)
        return
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), target)
        except OSError:
            continue
    r["worker_cpus"] = sorted(target)


def _pin_hosts(cluster: Any, cpus: set[int]) -> int:
    """Move every process of the cluster's hosts (marked in their environment) to ``cpus``."""
    marker = f"PATCHDESK_TEST_HOST={cluster._id}_".encode()
    n = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                os.sched_setaffinity(int(entry.name), cpus)
                n += 1
        except OSError:
            continue
    return n


def _print_scan(res: dict[str, Any]) -> None:
    from bench.fanout import load_average

    for i, (mx, p99, s) in enumerate(
        zip(res["scan_max_late_ms"], res["scan_p99_late_ms"], res["scan_s"], strict=True)
    ):
        cur = res["dash_current_s"][i]
        print(
            f"(e) scan round {i + 1}: {s:.2f} s, timer max late {mx:.1f} ms, p99 {p99:.1f} ms, "
            f">50 ms: {res['scan_over_50'][i]}; worst {res['scan_worst5_ms'][i]}",
            flush=True,
        )
        print(
            f"    dashboard current {'NOT within 60 s of the end' if cur is None else f'{cur:.3f} s'} after "
            f"the last host's result reached the GUI ({res['results_seen'][i]} results); the job's end "
            f"event / its handle done (persisted) {res.get('end_done_after_last_s', [None] * (i + 1))[i]} s, "
            f"handled from/to {res['persisted_after_last_s'][i]} s after it; dashboard refreshes "
            f"{res['dash_refreshes'][i]}, 'not scanned recently' counts seen {res['dash_stale_seen'][i]}"
        )
        print(f"    stalls > 20 ms (late, CPU, core wait ms; s in, s after end): {res['stalls_by_round'][i]}")
    print(f"(e) load average after the run: {load_average()}")
    if "start_call_ms" in res:
        print(
            f"(e) the scan's start on the main thread (the click): {res['start_call_ms']} ms; "
            f"until the job shows: {res.get('start_shown_ms')} ms"
        )
    for prof in res.get("start_profiles", [])[:1]:
        print(prof)
    if "true_false_refs" in res:
        print(f"(e) refcounts of True/False before and after each scan: {res['true_false_refs']}")
    print(
        f"(e) idle baseline (2 s before the scans): max late {res['idle_max_late_ms']:.1f} ms "
        f"{[round(x, 1) for x in res['idle_late_ms']]}"
    )
    print(
        "(e) stalls > 20 ms as (late, main-thread CPU, waiting for a core) ms, s into the scan, "
        f"s after its end: {res['stalls_late_cpu_ms']}"
    )
    for n, stack in res.get("stall_stacks", []):
        print(f"    {n:4d} x {stack}")
    if res.get("profile"):
        print(res["profile"])
    if res.get("scan_errors"):
        print(f"(e) hosts that did not scan cleanly: {res['scan_errors']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=5000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5, help="fresh GUI processes for (a)-(d)")
    ap.add_argument("--inner", type=int, default=3, help="dashboard refreshes and typing passes per process")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--scan-hosts", type=int, default=50, help="(e): past 254, the next /24s too")
    ap.add_argument("--scan-rounds", type=int, default=3)
    ap.add_argument("--subnet", default="127.0.60", help="test-host subnet (PATCHDESK_TEST_SUBNET wins)")
    ap.add_argument(
        "--no-pin", dest="pin", action="store_false", help="(e) only with the GUI and hosts sharing the cores"
    )
    ap.add_argument(
        "--no-shared", dest="shared", action="store_false", help="(e) only with the GUI on a CPU of its own"
    )
    ap.add_argument("--no-scan", action="store_true", help="skip (e), which needs root and the test hosts")
    ap.add_argument("--quick", action="store_true", help="smoke run: 300 hosts, 30,000 rows, one round")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args.child, args.db, args.out, args.inner)
    if args.quick:
        args.hosts, args.rows, args.rounds, args.inner = 300, 30_000, 1, 2
        args.scan_hosts, args.scan_rounds = 5, 1

    src = cached_db(args.hosts, args.rows, args.seed)
    ensure_bytecode()
    work = Path(tempfile.mkdtemp(prefix="pd-guibench-"))
    try:
        return _run(args, src, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_bytecode() -> None:
    """Compile app/, db/ and ui/ to __pycache__ first, as an installed Patchdesk is (pip compiles at
    install, the PyInstaller bundle ships bytecode). Without it, a start-up under
    PYTHONDONTWRITEBYTECODE=1 (set on this machine) compiles ~150 modules from source every time
    (~0.25 s of the cold start) -- a cost no user pays."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "app", "db", "ui", "bench"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )


def _run(args: argparse.Namespace, src: Path, work: Path) -> int:
    print(
        f"database {src.name}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r} (bytecode precompiled)",
        flush=True,
    )
    sessions = []
    for i in range(args.rounds):
        db = fresh_copy(src, work, "session.sqlite3")
        cpu = cpu_index()
        res = spawn("session", db, work, args.inner)
        res["cpu_index_ms"] = cpu
        sessions.append(res)
        print(
            f"round {i + 1}: [cpu index {cpu:.0f} ms] start {res['startup_window_s']:.3f} s "
            f"(+inventory tab {res['inventory_tab_s'] * 1000:.0f} ms"
            f" = {res['startup_inventory_s']:.3f} s, {res['model_rows']} rows)  first dashboard +"
            f"{res['first_dashboard_after_paint_s']:.2f} s  dashboard {med(res['dashboard_ms']):.0f} ms "
            f"(query {med(res['dashboard_compute_ms']):.0f}, draw {med(res['dashboard_draw_ms']):.0f})  "
            f"key median {med(res['keystroke_ms']):.1f} max {max(res['keystroke_ms']):.1f} ms  "
            f"RSS {res['rss_peak_mb']:.0f} MB",
            flush=True,
        )
    scan = None if args.no_scan else run_scan_stage(args, src, work)

    def all_of(key: str) -> list[float]:
        out: list[float] = []
        for s in sessions:
            v = s[key]
            out.extend(v if isinstance(v, list) else [v])
        return out

    print()
    print(
        f"# GUI at {args.hosts} hosts / {args.rows} pending rows, {args.rounds} fresh processes, "
        f"{os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}"
    )
    rows: list[tuple[str, float, str, float, str]] = []
    scans = [(k, v) for k, v in (scan or {}).items() if v]
    rss = all_of("rss_exit_mb") + [v["rss_exit_mb"] for _, v in scans]
    if sessions:
        startup = all_of("startup_inventory_s")
        dash = all_of("dashboard_ms")
        keys = all_of("keystroke_ms")
        _print_sessions(sessions, all_of)
        rows += [
            ("(a) cold start to the inventory shown", med(startup), "s", *TARGETS["startup"]),
            ("(b) dashboard computation + drawing", med(dash), "ms", *TARGETS["dashboard"]),
            ("(c) filter keystroke (median)", med(keys), "ms", *TARGETS["keystroke"]),
            ("(c) filter keystroke (worst)", max(keys), "ms", *TARGETS["keystroke"]),
            (
                "(c) select the biggest host",
                med(all_of("select_biggest_host_ms")),
                "ms",
                *TARGETS["select_host"],
            ),
            ("(c) the update list", med(all_of("update_list_ms")), "ms", *TARGETS["update_list"]),
        ]
    print(f"(d) peak RSS                       {spread(rss, '{:.0f}')} MB")
    rows.append(("(d) peak RSS", max(rss), "MB", *TARGETS["rss"]))
    labels = {"shared": "GUI and hosts share the cores", "pinned": "GUI and worker on a core of their own"}
    for key, res in scans:
        print(
            f"(e) longest stall, {labels[key]}: {spread(res['scan_max_late_ms'])} ms "
            f"(p99 {spread(res['scan_p99_late_ms'])}; idle baseline {res['idle_max_late_ms']:.1f} ms; "
            f"main-thread CPU in the worst stalls {[s[1] for s in res['stalls_late_cpu_ms'][:5]]} ms)"
        )
        rows.append((f"(e) longest stall ({key})", med(res["scan_max_late_ms"]), "ms", *TARGETS["stall"]))
        current = [float("inf") if v is None else v for v in res["dash_current_s"]]
        print(f"(e) dashboard current after the last result, {labels[key]}: {spread(current, '{:.3f}')} s")
        rows.append((f"(e) dashboard current ({key})", max(current), "s", *TARGETS["dashboard_current"]))
    print()
    print(f"| {'measure':<40} | {'value':>10} | {'target':>10} | ok |")
    print(f"| {'-' * 40} | {'-' * 10} | {'-' * 10} | -- |")
    for name, value, unit, limit, _u in rows:
        fmt = "{:.3f}" if unit == "s" else "{:.1f}" if unit == "ms" else "{:.0f}"
        print(
            f"| {name:<40} | {fmt.format(value) + ' ' + unit:>10} | {'<= ' + str(limit) + ' ' + unit:>10} | "
            f"{'ok' if value <= limit else 'NO'} |"
        )
    return 0


def _print_sessions(sessions: list[dict[str, Any]], all_of: Any) -> None:
    print(f"(a) start -> window painted        {spread(all_of('startup_window_s'), '{:.3f}')} s")
    print(f"(a) start -> inventory tab painted {spread(all_of('startup_inventory_s'), '{:.3f}')} s")
    print(f"    CPU time of the process to then {spread(all_of('startup_inventory_cpu_s'), '{:.3f}')} s")
    print(f"    cpu index before each start    {spread(all_of('cpu_index_ms'), '{:.1f}')} ms (lower: faster)")
    print(f"    first dashboard after paint    {spread(all_of('first_dashboard_after_paint_s'), '{:.2f}')} s")
    print(f"(b) dashboard refresh              {spread(all_of('dashboard_ms'))} ms")
    print(f"    query (own connection)         {spread(all_of('dashboard_compute_ms'))} ms")
    print(f"    drawing                        {spread(all_of('dashboard_draw_ms'))} ms")
    filt: dict[str, list[float]] = {}
    for s in sessions:
        for k, v in s["dashboard_compute_filtered_ms"].items():
            filt.setdefault(k, []).append(v)
    for k, v in filt.items():
        print(f"    query, {k:<24}{spread(v)} ms")
    print(f"(c) keystroke                      {spread(all_of('keystroke_ms'))} ms")
    by_text: dict[str, list[float]] = {}
    for s in sessions:
        for k, v in s["keystroke_by_text_ms"].items():
            by_text.setdefault(k, []).append(v)
    print("    per text: " + ", ".join(f"{k!r} {med(v):.1f}" for k, v in by_text.items()))
    print(f"    rows shown for {FILTER_TEXT!r}: {sessions[-1]['filter_rows_shown']}")
    print(
        f"    sort by Urgent {spread(all_of('sort_by_urgent_ms'))} ms; select the biggest host "
        f"({sessions[-1]['biggest_host_pending']} pending) {spread(all_of('select_biggest_host_ms'))} ms"
    )
    print(
        f"    its main-thread CPU {spread(all_of('select_biggest_host_cpu_ms'))} ms; rows listed when "
        f"painted {sessions[-1]['biggest_host_listed_at_paint']}, all listed after "
        f"{spread(all_of('select_biggest_host_all_listed_ms'))} ms"
    )
    print(
        f"    non-critical update list ({sessions[-1]['update_list_rows']} packages, pool thread) "
        f"{spread(all_of('update_list_ms'))} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
