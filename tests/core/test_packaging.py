"""Packaging: core installs and imports on its own, the namespace is PEP 420, core imports no application."""

import re
import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("interpretability", "generation", "transfer", "geometry")


def test_namespace_has_no_init():
    for pkg in (ROOT / "packages").iterdir():
        if (pkg / "pyproject.toml").exists():
            assert not (pkg / "src" / "optimist" / "__init__.py").exists(), pkg


def test_core_never_imports_an_application():
    pattern = re.compile(r"^\s*(from|import)\s+optimist\.(" + "|".join(APPS) + r")\b", re.M)
    offenders = [str(p) for p in (ROOT / "packages/core/src").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_applications_depend_on_core_with_ranges():
    import tomllib

    for app in APPS:
        meta = tomllib.loads((ROOT / "packages" / app / "pyproject.toml").read_text())["project"]
        deps = meta["dependencies"]
        assert any(d.startswith("optimist-core") for d in deps), app
        assert not any(d.startswith("optimist-") and not d.startswith("optimist-core") for d in deps), app
        assert (ROOT / "packages" / app / "src" / "optimist" / app / "__init__.py").exists()


def test_pip_install_core_alone(tmp_path):
    """A fresh venv gets only optimist-core (third-party packages borrowed from this environment)."""
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    target_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    # make torch & co. importable without reinstalling gigabytes; optimist's own editable .pth files are
    # not processed from an added path, so only what we install below provides `optimist`.
    Path(target_site, "borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT / "packages/core")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    code = ("import importlib.util, optimist.core as c; from optimist.core import pgd, zoo, Threat; "
            "print(c.__file__); "
            f"print([importlib.util.find_spec('optimist.' + a) is None for a in {APPS!r}])")
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert str(ROOT / "packages/core/src") in out.stdout
    assert "[True, True, True, True]" in out.stdout  # no application came along
    cli = subprocess.run([str(venv / "bin" / "optimist"), "--help"], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0 and "optimist demo" in cli.stdout
