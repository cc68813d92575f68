"""OWL 2 DL profile check with the OWL API (Debian's libowlapi-java 5.1.20).

``tools/owlapi/ProfileCheck.java`` is compiled on first use into ``~/.cache/virtkg/owlapi/<hash>``
(keyed by the source's SHA-256) and run on ``ontology/virtkg.ttl``, every ``data/*.ttl`` and
``ontology/virtkg-kb.ttl``. It parses each file with an explicit format only (Turtle or RDF/XML),
resolves imports through ``ontology/catalog-v001.xml`` (never the network) and runs OWL2DLProfile.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from virtkg.checks.report import CheckResult, Problem, cli, kb_files, missing_kb
from virtkg.config import PROJECT_ROOT
from virtkg.errors import CheckFailed

NAME = "profile"
SOURCE = PROJECT_ROOT / "tools" / "owlapi" / "ProfileCheck.java"
JAVA_DIR = Path(os.environ.get("VIRTKG_JAVA_DIR", "/usr/share/java"))
#: The OWL API bundle plus its runtime dependencies (Debian's unversioned jar names).
JARS = [
    "owlapi-distribution",
    "guava",
    "caffeine",
    "commons-codec",
    "commons-io",
    "commons-lang3",
    "commons-rdf-api",
    "commons-rdf-simple",
    "commons-rdf-jsonld-java",
    "hppcrt",
    "httpclient",
    "httpcore",
    "jackson-annotations",
    "jackson-core",
    "jackson-databind",
    "jsonld-java",
    "jsr305",
    "atinject-jsr330-api",
    "slf4j-api",
    "slf4j-nop",
    "xz",
]
JAR_PREFIXES = ["rdf4j-"]


def classpath() -> list[Path]:
    """The jars ProfileCheck needs; raises CheckFailed if the OWL API is not installed."""
    jars = [JAVA_DIR / f"{name}.jar" for name in JARS]
    missing = [j for j in jars[:1] if not j.exists()]
    if missing or shutil.which("java") is None or shutil.which("javac") is None:
        raise CheckFailed(
            "the OWL API profile check needs Java 17 and Debian's libowlapi-java "
            f"(missing: {', '.join(map(str, missing)) or 'java/javac'}); "
            "run `apt-get install -y libowlapi-java`"
        )
    extra = sorted(
        p
        for p in JAVA_DIR.glob("*.jar")
        if any(p.name.startswith(pre) for pre in JAR_PREFIXES) and not p.name[-5].isdigit()
    )
    return [j for j in jars if j.exists()] + extra


def cache_root() -> Path:
    """Where compiled classes live (``$VIRTKG_CACHE_DIR`` or ``~/.cache/virtkg``)."""
    base = os.environ.get("VIRTKG_CACHE_DIR") or str(Path.home() / ".cache" / "virtkg")
    return Path(base) / "owlapi"


def compiled_dir(source: Path = SOURCE) -> Path:
    """Compile ProfileCheck.java once per source hash; return the directory with the classes."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    out = cache_root() / digest
    if (out / "ProfileCheck.class").exists():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    cp = os.pathsep.join(map(str, classpath()))
    proc = subprocess.run(
        ["javac", "-nowarn", "-d", str(tmp), "-cp", cp, str(source)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckFailed(f"javac failed on {source}:\n{proc.stderr}")
    if out.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(out)
    return out


def profile_files(kb_dir: Path) -> list[Path]:
    """Files to load, in order: the core ontology, the data files, then the KB ontology."""
    files = kb_files(kb_dir)
    kb = Path(kb_dir) / "ontology" / "virtkg-kb.ttl"
    return files + ([kb] if kb.exists() else [])


def run_profile_check(files: list[Path], catalog: Path | None = None) -> tuple[int, str, str]:
    """Run the Java program on ``files``; return (exit code, stdout, stderr)."""
    classes = compiled_dir()
    cp = os.pathsep.join([str(classes)] + [str(p) for p in classpath()])
    cmd = ["java", "-cp", cp, "ProfileCheck"]
    if catalog is not None and catalog.exists():
        cmd += ["--catalog", str(catalog)]
    cmd += [str(f) for f in files]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def check_owl_dl_profile(kb_dir: Path) -> CheckResult:
    """OWL 2 DL profile (OWL API): every file parses as its format and stays inside OWL 2 DL."""
    kb_dir = Path(kb_dir)
    if (missing := missing_kb(NAME, kb_dir)) is not None:
        return missing
    try:
        code, out, err = run_profile_check(
            profile_files(kb_dir), kb_dir / "ontology" / "catalog-v001.xml"
        )
    except CheckFailed as exc:
        return CheckResult(NAME, False, [Problem("OWL API", exc.message)])
    problems: list[Problem] = []
    details: list[str] = []
    for line in out.splitlines():
        kind, _, rest = line.partition("\t")
        parts = rest.split("\t")
        if kind == "LOADED":
            details.append("loaded " + " ".join(parts))
        elif kind == "VIOLATION" and len(parts) >= 3:
            problems.append(Problem(parts[0], f"{parts[1]}: {parts[2]}"))
        elif kind == "ERROR" and len(parts) >= 2:
            problems.append(Problem(parts[0], parts[1]))
    if code != 0 and not problems:
        problems.append(Problem("ProfileCheck", f"exit code {code}: {err.strip()[-2000:]}"))
    return CheckResult(NAME, code == 0 and not problems, problems, details)


if __name__ == "__main__":
    sys.exit(cli(check_owl_dl_profile))
