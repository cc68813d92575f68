"""Start-up time of qemu-tcg, runc, containerd and LXC, measured on this machine.

Run as root on Debian 12 (the packages are Debian's own):

    apt-get install -y --no-install-recommends qemu-system-x86 busybox-static cpio \
        runc containerd lxc
    python3 bench/measure_startup.py [--n 10] [--only qemu-tcg,runc,containerd,lxc]

Standard library only. Every start has a timeout; everything the script starts (QEMU
processes, containers, a private containerd daemon, an LXC container) is stopped and
removed before it exits. Work files go to --workdir (default /tmp/virtkg-startup).

What is timed (wall clock, time.perf_counter, from just before the process is spawned):

qemu-tcg    qemu-system-x86_64 -accel tcg -m 256 -nographic -no-reboot, direct kernel boot
            (-kernel/-initrd, -append "console=ttyS0 quiet panic=-1") of a Debian kernel and
            a busybox initramfs whose /init prints a marker on the serial console and powers
            off. End: the marker appears on QEMU's stdout (the serial console). That is
            "boot to init" of a minimal guest; firmware (SeaBIOS) is included, a bootloader
            and a distribution's userspace are not. The kernel is the host's newest
            /boot/vmlinuz-*, else --kernel, else Debian's linux-image-amd64 downloaded with
            apt-get download into the work directory.
runc        runc run (foreground, no terminal) of /bin/true in an OCI bundle made by
            `runc spec` whose rootfs is busybox-static. End: runc exits (the container has
            exited and runc has deleted it).
containerd  a private containerd (own socket, root and state directories, default config,
            overlayfs snapshotter) with a hand-built single-layer OCI image (busybox-static)
            imported by `ctr image import`. Timed: `ctr run --rm IMAGE ID /bin/true`, i.e.
            snapshot preparation, container and task creation through containerd-shim-runc-v2
            and runc, start, exit, removal. End: ctr exits.
lxc         lxc-start -F -n NAME -- /bin/true of a container made by `lxc-create -t busybox`.
            End: lxc-start exits.

Output: the conditions (versions, CPU, kernel, KVM presence, date) and, per technology,
N, median, p90, min and max in milliseconds, or the reason it could not run. --json PATH
also writes everything as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import glob
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

MARKER = "VIRTKG-INIT-REACHED"
BOOT_TIMEOUT_S = 180.0
RUN_TIMEOUT_S = 60.0
BUSYBOX = "/bin/busybox"


class Skip(Exception):
    """A technology cannot be measured here; the message says why."""


# ---------------------------------------------------------------- helpers


def run(cmd: list[str], timeout: float = RUN_TIMEOUT_S, check: bool = True, **kw) -> str:  # noqa: ANN003
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-800:]}"
        )
    return proc.stdout + proc.stderr


def first_line(cmd: list[str]) -> str:
    try:
        return run(cmd, timeout=20, check=False).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unavailable"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "median_ms": round(statistics.median(samples), 1),
        "p90_ms": round(percentile(samples, 90), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "samples_ms": [round(s, 1) for s in samples],
    }


def timed(cmd: list[str], timeout: float = RUN_TIMEOUT_S) -> float:
    """Milliseconds from spawning cmd to its exit; raises if it fails or times out."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    elapsed = (time.perf_counter() - start) * 1000.0
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-800:]}"
        )
    return elapsed


def busybox_rootfs(root: Path) -> None:
    """A rootfs with busybox-static and applet links for the commands used."""
    if not Path(BUSYBOX).exists():
        raise Skip(f"{BUSYBOX} missing (apt-get install busybox-static)")
    for sub in ("bin", "dev", "proc", "sys", "tmp", "etc", "root"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "true", "echo", "poweroff", "reboot", "mount", "ls", "cat"):
        link = root / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")


def conditions() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host_cpu": cpu,
        "host_cpus": os.cpu_count(),
        "host_kernel": platform.release(),
        "host_os": first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "dev_kvm_present": os.path.exists("/dev/kvm"),
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------- qemu-tcg


def find_kernel(work: Path, explicit: str | None) -> tuple[Path, str]:
    if explicit:
        return Path(explicit), f"given: {explicit}"
    host = sorted(glob.glob("/boot/vmlinuz-*"))
    if host:
        return Path(host[-1]), f"host {host[-1]}"
    dest = work / "kernel"
    dest.mkdir(parents=True, exist_ok=True)
    pkg = run(["apt-cache", "depends", "linux-image-amd64"]).split("Depends:")[1].split()[0]
    debs = list(dest.glob(f"{pkg}_*.deb"))
    if not debs:
        run(["apt-get", "download", pkg], timeout=300, cwd=dest)
        debs = list(dest.glob(f"{pkg}_*.deb"))
    run(["dpkg-deb", "-x", str(debs[0]), str(dest / "root")], timeout=300)
    vmlinuz = sorted((dest / "root" / "boot").glob("vmlinuz-*"))[-1]
    return vmlinuz, f"Debian package {debs[0].name} (apt-get download)"


def build_initramfs(work: Path) -> Path:
    root = work / "initramfs-root"
    shutil.rmtree(root, ignore_errors=True)
    busybox_rootfs(root)
    init = root / "init"
    init.write_text(f"#!/bin/sh\necho {MARKER}\n/bin/busybox poweroff -f\n")
    init.chmod(0o755)
    os.mknod(root / "dev" / "console", 0o600 | 0o020000, os.makedev(5, 1))
    out = work / "initramfs.cpio"
    files = subprocess.run(
        ["find", "."], cwd=root, capture_output=True, check=True, timeout=30
    ).stdout
    with open(out, "wb") as fh:
        subprocess.run(
            ["cpio", "-o", "-H", "newc", "--quiet"],
            cwd=root,
            input=files,
            stdout=fh,
            check=True,
            timeout=30,
        )
    return out


def boot_once(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    seen = b""
    elapsed = None
    try:
        fd = proc.stdout.fileno()
        while time.perf_counter() - start < BOOT_TIMEOUT_S:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen = (seen + chunk)[-8192:]
            if MARKER.encode() in seen:
                elapsed = (time.perf_counter() - start) * 1000.0
                break
        if elapsed is not None:
            proc.wait(timeout=60)  # the guest powers off by itself
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        proc.stdout.close()
    if elapsed is None:
        raise RuntimeError(f"no marker within {BOOT_TIMEOUT_S}s; tail: {seen[-600:]!r}")
    return elapsed


def measure_qemu(work: Path, n: int, kernel_arg: str | None) -> dict:
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise Skip("qemu-system-x86_64 missing (apt-get install qemu-system-x86)")
    kernel, kernel_origin = find_kernel(work, kernel_arg)
    initrd = build_initramfs(work)
    cmd = [
        qemu, "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
        "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", "console=ttyS0 quiet panic=-1",
    ]  # fmt: skip
    boot_once(cmd)  # warm-up (page cache), not counted
    samples = [boot_once(cmd) for _ in range(n)]
    return {
        "version": first_line([qemu, "--version"]),
        "guest_kernel": f"{kernel.name}, {kernel_origin}",
        "initramfs": f"busybox-static ({first_line([BUSYBOX])}), "
        "/init echoes a marker, then poweroff -f",
        "command": " ".join(cmd),
        "start": "spawn of qemu-system-x86_64",
        "end": "marker printed by the guest's /init on the serial console (ttyS0 -> stdout)",
        **summary(samples),
    }


# ---------------------------------------------------------------- runc


def make_bundle(work: Path) -> Path:
    bundle = work / "runc-bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    busybox_rootfs(bundle / "rootfs")
    run(["runc", "spec"], cwd=bundle)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    (bundle / "config.json").write_text(json.dumps(spec, indent=2))
    return bundle


def measure_runc(work: Path, n: int) -> dict:
    if not shutil.which("runc"):
        raise Skip("runc missing (apt-get install runc)")
    bundle = make_bundle(work)
    state = work / "runc-state"
    state.mkdir(parents=True, exist_ok=True)
    base = ["runc", "--root", str(state), "run", "--bundle", str(bundle)]
    samples = []
    try:
        for i in range(n + 1):  # the first run is a warm-up
            ms = timed([*base, f"virtkg-bench-{i}"])
            if i:
                samples.append(ms)
    finally:
        for i in range(n + 1):
            run(["runc", "--root", str(state), "delete", "-f", f"virtkg-bench-{i}"], check=False)
    return {
        "version": " / ".join(run(["runc", "--version"]).strip().splitlines()[:1]),
        "command": " ".join([*base, "ID"]) + "   (config.json from `runc spec`, args /bin/true)",
        "start": "spawn of runc run",
        "end": "runc exits after /bin/true exits and the container is deleted",
        **summary(samples),
    }


# ---------------------------------------------------------------- containerd


def oci_image(work: Path) -> Path:
    """A single-layer OCI image archive (index.json, oci-layout, blobs) of busybox-static."""
    rootfs = work / "image-rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    busybox_rootfs(rootfs)
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(rootfs)), recursive=False)
    layer = layer_buf.getvalue()

    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    layer_d = blob(layer)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_d["digest"]]},
    }
    config_d = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_d},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_d}],
    }
    manifest_d = blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_d,
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    archive = work / "busybox-oci.tar"
    with tarfile.open(archive, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            add("blobs/sha256/" + digest.split(":", 1)[1], data)
    return archive


def measure_containerd(work: Path, n: int) -> dict:
    if not (shutil.which("containerd") and shutil.which("ctr")):
        raise Skip("containerd/ctr missing (apt-get install containerd)")
    base = work / "containerd"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    sock = base / "containerd.sock"
    log = open(base / "containerd.log", "w")  # noqa: SIM115
    daemon = subprocess.Popen(
        [
            "containerd",
            "--address",
            str(sock),
            "--root",
            str(base / "root"),
            "--state",
            str(base / "state"),
            "--config",
            "/dev/null",
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ctr = ["ctr", "--address", str(sock), "--namespace", "virtkg-bench"]
    ref = "docker.io/virtkg/busybox-static:latest"
    samples = []
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "containerd did not start: " + (base / "containerd.log").read_text()[-800:]
                )
            time.sleep(0.1)
        run([*ctr, "version"], timeout=30)
        archive = oci_image(work)
        run([*ctr, "image", "import", "--base-name", "docker.io/virtkg/busybox-static",
             str(archive)], timeout=120)  # fmt: skip
        for i in range(n + 1):  # the first run is a warm-up
            ms = timed([*ctr, "run", "--rm", ref, f"virtkg-bench-{i}", "/bin/true"])
            if i:
                samples.append(ms)
    finally:
        for i in range(n + 1):
            run(
                [*ctr, "task", "kill", "-s", "SIGKILL", f"virtkg-bench-{i}"],
                check=False,
                timeout=20,
            )
            run([*ctr, "container", "rm", f"virtkg-bench-{i}"], check=False, timeout=20)
        run([*ctr, "image", "rm", ref], check=False, timeout=20)
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)
        log.close()
        for mnt in sorted(glob.glob(str(base / "**"), recursive=True), reverse=True):
            if os.path.ismount(mnt):
                subprocess.run(["umount", "-l", mnt], check=False, timeout=20)
        shutil.rmtree(base, ignore_errors=True)
    return {
        "version": first_line(["containerd", "--version"])
        + "; "
        + first_line(["runc", "--version"]),
        "command": " ".join([*ctr, "run", "--rm", ref, "ID", "/bin/true"]),
        "daemon": "containerd with --config /dev/null (defaults: overlayfs snapshotter, "
        "io.containerd.runc.v2 shim), private --address/--root/--state",
        "image": "hand-built single-layer OCI image of busybox-static, "
        "imported with ctr image import",
        "start": "spawn of ctr run --rm (daemon already running, image already unpacked once)",
        "end": "ctr exits: /bin/true has exited, task and container deleted, snapshot removed",
        **summary(samples),
    }


# ---------------------------------------------------------------- lxc


def measure_lxc(work: Path, n: int) -> dict:
    if not shutil.which("lxc-start"):
        raise Skip("lxc-start missing (apt-get install lxc)")
    name = "virtkg-bench"
    lxcpath = work / "lxc"
    lxcpath.mkdir(parents=True, exist_ok=True)
    p = ["-P", str(lxcpath), "-n", name]
    samples = []
    try:
        run(["lxc-destroy", *p, "-f"], check=False)
        run(["lxc-create", *p, "-t", "busybox"], timeout=120)
        cfg = lxcpath / name / "config"
        with open(cfg, "a", encoding="utf-8") as fh:  # no network: only the start is measured
            fh.write("\nlxc.net.0.type = empty\n")
        cmd = ["lxc-start", *p, "-F", "--", "/bin/true"]
        for i in range(n + 1):  # the first run is a warm-up
            ms = timed(cmd)
            if i:
                samples.append(ms)
    finally:
        run(["lxc-stop", *p, "-k"], check=False)
        run(["lxc-destroy", *p, "-f"], check=False)
    return {
        "version": "lxc " + first_line(["lxc-start", "--version"]),
        "command": " ".join(["lxc-start", *p, "-F", "--", "/bin/true"]),
        "start": "spawn of lxc-start",
        "end": "lxc-start exits after /bin/true exits",
        **summary(samples),
    }


# ---------------------------------------------------------------- main


def become_subreaper() -> None:
    """Orphans (containerd shims, LXC monitors) re-parent to this process, which reaps them."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


MEASURES = {
    "qemu-tcg": lambda a, w: measure_qemu(w, a.n, a.kernel),
    "runc": lambda a, w: measure_runc(w, a.n),
    "containerd": lambda a, w: measure_containerd(w, a.n),
    "lxc": lambda a, w: measure_lxc(w, a.n),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10, help="timed starts per technology (default 10)")
    ap.add_argument("--only", default=",".join(MEASURES), help="comma-separated subset")
    ap.add_argument("--workdir", default="/tmp/virtkg-startup")
    ap.add_argument("--kernel", help="guest kernel for qemu-tcg (default: see the module doc)")
    ap.add_argument("--json", help="also write the results as JSON to this path")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    result = {"conditions": conditions(), "results": {}}
    for key, value in result["conditions"].items():
        print(f"{key}: {value}")
    become_subreaper()
    for name in args.only.split(","):
        print(f"\n== {name}", flush=True)
        try:
            res = MEASURES[name](args, work)
        except Skip as exc:
            res = {"skipped": str(exc)}
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            res = {"failed": f"{type(exc).__name__}: {exc}"}
        reap()
        result["results"][name] = res
        for key, value in res.items():
            print(f"  {key}: {value}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
