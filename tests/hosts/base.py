"""Build (once) and cache the base root filesystem shared read-only by all test hosts.

Layout under ``cache_dir`` (default ``~/.cache/patchdesk-tests``)::

    base-<hash>.tar.zst        the cached base (portable; a CI cache can keep just this file)
    base-<hash>/rootfs/        unpacked copy used as the overlay lower directory
    base-<hash>/READY          written last; the unpacked copy is complete
    hostkeys/set-NNNN/         pool of sshd host key sets (see keys.py)

The recipe: ``mmdebstrap --variant=minbase`` of bookworm against this machine's own apt sources
(the sources files are passed through as they are), plus a customize hook that adds users, sudo
rules, the sshd configuration, the tiny init and a local signed apt repository of synthetic packages
at /srv/repo, installs the initial synthetic versions and leaves apt's caches built.
"""

from __future__ import annotations

import fcntl
import gzip
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from . import recipe
from ._util import HostsError, all_pids, proc_environ, run, safe_rmtree, which_all
from .recipe import SYNTHETIC_DEBS, SyntheticDeb

DEFAULT_CACHE_DIR = Path(os.environ.get("PATCHDESK_TESTS_CACHE", "~/.cache/patchdesk-tests")).expanduser()

KEYRING_NAME = "patchdesk-test.gpg"

# PID 1 of every host (runs inside the chroot).  Starts sshd (daemon mode, so `sshd` alone restarts it
# and SIGHUP re-execs it), then reaps orphans until the time-to-live runs out: dash's `wait` reaps any
# child via waitpid(-1) while it waits for the sleep.
INIT_SCRIPT = """\
#!/bin/sh
# pd-init: PID 1 of a Patchdesk test host.
ttl="${PD_TTL:-7200}"
mkdir -p /run/sshd /run/lock /run/user
chmod 0755 /run/sshd
: > /run/utmp
/usr/sbin/sshd || echo "pd-init: sshd failed to start" >&2
end=$(( $(date +%s) + ttl ))
while [ "$(date +%s)" -lt "$end" ]; do
    sleep 20 &
    wait $!
done
echo "pd-init: time-to-live of ${ttl}s reached, exiting" >&2
exit 0
"""

SSHD_DROPIN = """\
# Patchdesk test host
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 200:30:400
MaxSessions 64
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_rsa_key
"""

SOURCES = """\
Types: deb
URIs: file:/srv/repo
Suites: {suites}
Components: main
Signed-By: /etc/apt/keyrings/{keyring}
"""


# mmdebstrap options of the base (part of the cache key)
MMDEBSTRAP_OPTIONS: tuple[str, ...] = (
    "--variant=minbase",
    "--mode=root",
    "--format=directory",
    f"--include={','.join(recipe.BASE_PACKAGES)}",
    '--aptopt=Acquire::Check-Valid-Until "false"',
    '--aptopt=Acquire::Check-Date "false"',
    "--skip=cleanup/apt/lists,cleanup/apt/cache",
    # smaller base: no manuals, translations or docs (except the synthetic packages' changelogs)
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/pd-*",
)


def _customize_common_lines(init: Path) -> list[str]:
    """The part of the customize hook every flavour of base shares: users, sudo, sshd, the init.

    Also used by the rpm flavour (rpmbase.py); the Debian base's hook is this plus its apt repository.
    """
    u = recipe.USERS
    lines = [
        "#!/bin/sh",
        "# mmdebstrap customize hook for the Patchdesk test-host base; $1 = the root filesystem",
        "set -eu",
        'T="$1"',
        "export DEBIAN_FRONTEND=noninteractive",
    ]
    sudoers = ["# Patchdesk test users", f"Defaults:{recipe.ADMIN_USER} !lecture"]
    for name, spec in u.items():
        uid = spec["uid"]
        lines.append(f'chroot "$T" groupadd -g {uid} {name}')
        lines.append(f'chroot "$T" useradd -m -s /bin/bash -u {uid} -g {uid} {name}')
        if spec["password"]:
            lines.append(f"echo '{name}:{spec['password']}' | chroot \"$T\" chpasswd")
        else:
            lines.append(f"chroot \"$T\" usermod -p '*' {name}")
        lines.append(f'install -d -m 700 -o {uid} -g {uid} "$T/home/{name}/.ssh"')
        if spec["sudo"] == "nopasswd":
            sudoers.append(f"{name} ALL=(ALL:ALL) NOPASSWD: ALL")
        elif spec["sudo"] == "passwd":
            sudoers.append(f"{name} ALL=(ALL:ALL) ALL")
    lines += [
        "chroot \"$T\" usermod -p '*' root",
        'install -d -m 700 "$T/root/.ssh"',
        "cat > \"$T/etc/sudoers.d/patchdesk\" <<'EOF'",
        *sudoers,
        "EOF",
        'chmod 0440 "$T/etc/sudoers.d/patchdesk"',
        "cat > \"$T/etc/ssh/sshd_config.d/patchdesk.conf\" <<'EOF'",
        SSHD_DROPIN.rstrip("\n"),
        "EOF",
        # a Match block must come last, so it goes at the end of the main file
        "cat >> \"$T/etc/ssh/sshd_config\" <<'EOF'",
        "",
        "# Patchdesk test host: password login for the password-auth tests only",
        f"Match User {recipe.PWUSER_USER}",
        "    PasswordAuthentication yes",
        "EOF",
        'rm -f "$T"/etc/ssh/ssh_host_*',
        ': > "$T/etc/machine-id"',
        f'install -m 755 "{init}" "$T/usr/local/sbin/pd-init"',
    ]
    return lines


def _customize_script(repo_src: Path, keyring: Path, init: Path) -> str:
    lines = _customize_common_lines(init)
    lines += [
        # the local signed repository, and nothing else, as apt source
        'mkdir -p "$T/srv"',
        f'cp -a "{repo_src}" "$T/srv/repo"',
        'chmod -R a+rX "$T/srv/repo"',
        'install -d -m 755 "$T/etc/apt/keyrings"',
        f'install -m 644 "{keyring}" "$T/etc/apt/keyrings/{KEYRING_NAME}"',
        'rm -f "$T/etc/apt/sources.list" "$T"/etc/apt/sources.list.d/*',
        "cat > \"$T/etc/apt/sources.list.d/patchdesk-test.sources\" <<'EOF'",
        SOURCES.format(suites=" ".join(s[0] for s in recipe.REPO_SUITES), keyring=KEYRING_NAME).rstrip("\n"),
        "EOF",
        'rm -rf "$T"/var/lib/apt/lists/* "$T"/var/cache/apt/archives/*.deb "$T"/var/cache/apt/*.bin',
        'mkdir -p "$T/var/lib/apt/lists/partial"',
        'chroot "$T" apt-get update -q',
    ]
    initial = [f"{d.name}={d.version}" for d in SYNTHETIC_DEBS if d.suite == recipe.SUITE]
    lines += [
        f'chroot "$T" apt-get install -y -q --no-install-recommends {" ".join(initial)}',
        'rm -f "$T"/var/cache/apt/archives/*.deb',
        # make sure the binary caches exist so the first scan needs no `apt-get update`
        'chroot "$T" apt-cache gencaches',
        'chroot "$T" apt-cache policy pd-secfix',
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# synthetic packages and the repository


def _changelog(deb: SyntheticDeb) -> bytes:
    """changelog.Debian with this version's entry and all earlier ones, newest first."""
    history = [d for d in SYNTHETIC_DEBS if d.name == deb.name]
    history = history[: history.index(deb) + 1]
    out = io.StringIO()
    for n, d in reversed(list(enumerate(history))):
        out.write(f"{d.name} ({d.version}) {d.suite}; urgency={d.urgency}\n\n")
        out.write(f"  * {d.changes}\n")
        for cve in d.cves:
            out.write(f"  * Fix {cve}: synthetic vulnerability in {d.name} (test data).\n")
        out.write(
            f"\n -- Patchdesk Test <test@patchdesk.invalid>  Mon, {n + 1:02d} Jan 2024 12:00:00 +0000\n\n"
        )
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(out.getvalue().encode())
    return buf.getvalue()


def build_deb(deb: SyntheticDeb, outdir: Path, scratch: Path) -> Path:
    root = scratch / f"{deb.name}_{deb.version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True)
    doc = root / "usr/share/doc" / deb.name
    doc.mkdir(parents=True)
    script = root / "usr/bin" / deb.name
    script.write_text(f"#!/bin/sh\necho '{deb.name} {deb.version}'\n")
    script.chmod(0o755)
    (doc / "changelog.Debian.gz").write_bytes(_changelog(deb))
    control = [
        f"Package: {deb.name}",
        f"Version: {deb.version}",
        "Architecture: all",
        "Maintainer: Patchdesk Test <test@patchdesk.invalid>",
        "Section: misc",
        "Priority: optional",
        "Installed-Size: 8",
    ]
    if deb.depends:
        control.append(f"Depends: {deb.depends}")
    control.append(f"Description: Patchdesk synthetic test package {deb.name}")
    control.append(" Synthetic package for Patchdesk's integration tests; it does nothing.")
    (root / "DEBIAN/control").write_text("\n".join(control) + "\n")
    if deb.conffile is not None:
        (root / "etc").mkdir()
        (root / "etc" / f"{deb.name}.conf").write_text(deb.conffile)
        (root / "DEBIAN/conffiles").write_text(f"/etc/{deb.name}.conf\n")
    if deb.postinst is not None:
        p = root / "DEBIAN/postinst"
        p.write_text("#!/bin/sh\nset -e\n" + deb.postinst + "exit 0\n")
        p.chmod(0o755)
    for d, dirs, _files in os.walk(root):
        for x in dirs:
            os.chmod(os.path.join(d, x), 0o755)
    out = outdir / f"{deb.name}_{deb.version}_all.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)], timeout=60)
    return out


def build_repo(repo: Path, keyring_out: Path, arch: str) -> None:
    """Build the signed apt repository at ``repo`` and write its public key to ``keyring_out``."""
    scratch = Path(tempfile.mkdtemp(prefix="pdrepo-"))
    gnupghome = Path(tempfile.mkdtemp(prefix="pdgpg-"))  # short path: gpg-agent socket lives here
    try:
        for deb in SYNTHETIC_DEBS:
            pool = repo / "pool" / deb.suite / "main" / deb.name
            pool.mkdir(parents=True, exist_ok=True)
            build_deb(deb, pool, scratch)
        gpg = ["gpg", "--homedir", str(gnupghome), "--batch", "--quiet", "--no-tty"]
        run(
            [
                *gpg,
                "--passphrase",
                "",
                "--quick-gen-key",
                "Patchdesk Test Repository (throw-away) <repo@patchdesk.invalid>",
                "ed25519",
                "sign",
                "never",
            ]
        )
        with open(keyring_out, "wb") as fh:
            subprocess.run([*gpg, "--export"], stdout=fh, check=True, timeout=60)
        for codename, origin, label, suite in recipe.REPO_SUITES:
            dist = repo / "dists" / codename
            bdir = dist / "main" / f"binary-{arch}"
            bdir.mkdir(parents=True)
            packages = run(["apt-ftparchive", "packages", f"pool/{codename}"], cwd=repo).stdout
            (bdir / "Packages").write_text(packages)
            with gzip.open(bdir / "Packages.gz", "wt", compresslevel=9) as gz:
                gz.write(packages)
            (bdir / "Release").write_text(
                f"Archive: {suite}\nOrigin: {origin}\nLabel: {label}\nComponent: main\nArchitecture: {arch}\n"
            )
            opts = []
            for k, v in (
                ("Origin", origin),
                ("Label", label),
                ("Suite", suite),
                ("Codename", codename),
                ("Architectures", arch),
                ("Components", "main"),
                ("Description", f"Patchdesk synthetic test repository ({codename})"),
            ):
                opts += ["-o", f"APT::FTPArchive::Release::{k}={v}"]
            release = run(["apt-ftparchive", *opts, "release", f"dists/{codename}"], cwd=repo).stdout
            (dist / "Release").write_text(release)
            run([*gpg, "--yes", "--clearsign", "-o", str(dist / "InRelease"), str(dist / "Release")])
            run(
                [
                    *gpg,
                    "--yes",
                    "--armor",
                    "--detach-sign",
                    "-o",
                    str(dist / "Release.gpg"),
                    str(dist / "Release"),
                ]
            )
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(gnupghome), "--kill", "all"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        shutil.rmtree(gnupghome, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# the base


def host_apt_sources() -> list[Path]:
    """This machine's own apt sources files, passed to mmdebstrap as they are."""
    files: list[Path] = []
    main = Path("/etc/apt/sources.list")
    if main.is_file() and any(
        ln.strip() and not ln.lstrip().startswith("#") for ln in main.read_text(errors="replace").splitlines()
    ):
        files.append(main)
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources") and p.is_file())
    # only the Debian ones: third-party repositories are not wanted in the base
    out = []
    for p in files:
        text = p.read_text(errors="replace")
        if "debian" in text and "bookworm" in text:
            out.append(p)
    if not out:
        raise HostsError("no Debian bookworm apt sources found in /etc/apt/sources.list{,.d/}")
    return out


def build_tools_missing() -> list[str]:
    return which_all(["mmdebstrap", "dpkg-deb", "apt-ftparchive", "gpg", "gpgconf", "tar"])


@contextmanager
def _locked(path: Path, timeout: float = 900):
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HostsError(f"timed out waiting for lock {path}") from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()


def base_hash() -> str:
    scripts = INIT_SCRIPT + SSHD_DROPIN + SOURCES + _customize_script(Path("R"), Path("K"), Path("I"))
    return recipe.recipe_hash(scripts + "\0".join(MMDEBSTRAP_OPTIONS))


def _compressor() -> tuple[str, list[str], list[str]]:
    if shutil.which("zstd"):
        return ".tar.zst", ["zstd", "-q", "-T0", "-3"], ["zstd", "-q", "-d", "-c"]
    return ".tar.gz", ["gzip", "-1"], ["gzip", "-d", "-c"]


def _pipe(producer: list[str], consumer: list[str], *, stdout=None, stdin=None, timeout: float = 600) -> None:
    p1 = subprocess.Popen(
        producer, stdin=stdin or subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        p2 = subprocess.Popen(consumer, stdin=p1.stdout, stdout=stdout, stderr=subprocess.PIPE)
        p1.stdout.close()  # type: ignore[union-attr]
        _, err2 = p2.communicate(timeout=timeout)
        _, err1 = p1.communicate(timeout=timeout)
    except BaseException:
        p1.kill()
        p1.wait()
        raise
    finally:
        if p1.stderr:
            p1.stderr.close()
    if p1.returncode or p2.returncode:
        raise HostsError(
            f"{producer[0]} | {consumer[0]} failed: {err1.decode()[-2000:]} {err2.decode()[-2000:]}"
        )


def ensure_base(
    cache_dir: Path | None = None,
    *,
    log=None,
    flavor: str = "base",
    recipe_hash: str | None = None,
    build=None,
) -> Path:
    """Return the unpacked base root filesystem, building or unpacking it first if needed.

    ``flavor``, ``recipe_hash`` and ``build(rootfs, log=)`` let another kind of base (rpmbase.py) share
    the caching: it lives in ``<flavor>-<recipe_hash>``; the defaults are the Debian base.
    """
    cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR)
    h = recipe_hash or base_hash()
    build = build or _build
    ext, comp, decomp = _compressor()
    base_dir = cache_dir / f"{flavor}-{h}"
    rootfs = base_dir / "rootfs"
    if (base_dir / "READY").exists():
        os.utime(base_dir / "READY")  # "last used", for pruning
        return rootfs
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f"{flavor}-{h}.lock"):
        if (base_dir / "READY").exists():
            return rootfs
        tarballs = [cache_dir / f"{flavor}-{h}{e}" for e in (".tar.zst", ".tar.gz")]
        tarball = next(
            (t for t in tarballs if t.exists() and (t.suffix != ".zst" or shutil.which("zstd"))), None
        )
        staging = cache_dir / f"{flavor}-{h}.tmp"
        safe_rmtree(staging)
        safe_rmtree(base_dir)
        staging.mkdir()
        t0 = time.monotonic()
        if tarball is None:
            build(staging / "rootfs", log=log)
            tarball = cache_dir / f"{flavor}-{h}{ext}"
            tmp_tar = tarball.with_name(tarball.name + ".part")
            with open(tmp_tar, "wb") as fh:
                _pipe(
                    [
                        "tar",
                        "--numeric-owner",
                        "--xattrs",
                        "--xattrs-include=*",
                        "-C",
                        str(staging / "rootfs"),
                        "-cf",
                        "-",
                        ".",
                    ],
                    comp,
                    stdout=fh,
                )
            tmp_tar.rename(tarball)
        else:
            (staging / "rootfs").mkdir()
            dec = decomp if tarball.suffix == ".zst" else ["gzip", "-d", "-c"]
            with open(tarball, "rb") as fh:
                _pipe(
                    [*dec],
                    [
                        "tar",
                        "--numeric-owner",
                        "--xattrs",
                        "--xattrs-include=*",
                        "-xpf",
                        "-",
                        "-C",
                        str(staging / "rootfs"),
                    ],
                    stdin=fh,
                )
        (staging / "READY").write_text(
            json.dumps({"hash": h, "seconds": round(time.monotonic() - t0, 1), "tarball": tarball.name})
            + "\n"
        )
        staging.rename(base_dir)
        _prune_old(cache_dir, keep=h, flavor=flavor)
    return rootfs


def _prune_old(cache_dir: Path, keep: str, max_age_days: float = 7, flavor: str = "base") -> None:
    """Remove cached bases of other recipes unused for ``max_age_days`` and not in use by any host."""
    in_use = {e for pid in all_pids() for e in proc_environ(pid) if e.startswith(b"PD_LOWER=")}
    for ready in cache_dir.glob(f"{flavor}-*/READY"):
        d = ready.parent
        if keep in d.name or time.time() - ready.stat().st_mtime < max_age_days * 86400:
            continue
        if f"PD_LOWER={d / 'rootfs'}".encode() in in_use:
            continue
        try:
            with _locked(cache_dir / f"{d.name}.lock", timeout=0):
                ready.unlink()
                safe_rmtree(d)
                for t in cache_dir.glob(f"{d.name}.tar.*"):
                    t.unlink()
        except (HostsError, OSError):
            pass


def _build(rootfs: Path, *, log=None, options: tuple[str, ...] = MMDEBSTRAP_OPTIONS) -> None:
    missing = build_tools_missing()
    if missing:
        raise HostsError(f"cannot build the test-host base, missing tools: {', '.join(missing)}")
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="pdbase-"))
    try:
        repo = work / "repo"
        repo.mkdir()
        keyring = work / KEYRING_NAME
        build_repo(repo, keyring, arch)
        init = work / "pd-init"
        init.write_text(INIT_SCRIPT)
        hook = work / "customize.sh"
        hook.write_text(_customize_script(repo, keyring, init))
        hook.chmod(0o755)
        cmd = [
            # a private mount namespace: whatever mmdebstrap mounts cannot outlive it
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--fork",
            "--kill-child",
            "mmdebstrap",
            *options,
            f"--customize-hook={hook}",
            recipe.SUITE,
            str(rootfs),
            *map(str, host_apt_sources()),
        ]
        logfile = work / "mmdebstrap.log"
        with open(logfile, "w") as fh:
            p = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, timeout=900, check=False
            )
        if p.returncode != 0:
            tail = logfile.read_text(errors="replace")[-6000:]
            raise HostsError(f"mmdebstrap failed ({p.returncode}):\n{tail}")
        # mmdebstrap leaves its --aptopt file behind; the hosts must not inherit it
        (rootfs / "etc/apt/apt.conf.d/99mmdebstrap").unlink(missing_ok=True)
        if log:
            log(logfile.read_text(errors="replace"))
    finally:
        safe_rmtree(work)
