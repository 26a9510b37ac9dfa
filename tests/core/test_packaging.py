"""Packaging: publishable metadata, one version in lock-step, lone installs from the wheelhouse, the namespace is
PEP 420, core imports no application, and every package declares the third-party packages it imports."""

import ast
import email
import importlib.metadata as md
import os
import re
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
DATA = ("zoo",)  # data-only distributions: no code, no dependencies
APPS = tuple(p for p in PACKAGES if p != "core" and p not in DATA)
CORE_VERSION_FILE = ROOT / "packages/core/src/optimist/core/__init__.py"
# the smallest public function of each application, run after a lone install from the wheelhouse
SMALLEST = {
    "interpretability": "from optimist.interpretability import gini; print(float(gini(torch.rand(2, 1, 4, 4))[0]))",
    "generation": "from optimist.generation import ssim; x = torch.rand(1, 1, 16, 16); print(float(ssim(x, x)[0]))",
    "transfer": "from optimist.transfer import k_shot_indices; print(k_shot_indices([0, 0, 1, 1], 1).tolist())",
    "geometry": "from optimist.geometry import dct_matrix; print(dct_matrix(4).shape)",
    "shifts": "from optimist.shifts import corrupt; print(corrupt(torch.rand(1, 1, 28, 28), 'canny_edges', 3).shape)",
}


def _pyproject(pkg: str | None) -> dict:
    return tomllib.loads(((ROOT / "packages" / pkg) if pkg else ROOT).joinpath("pyproject.toml").read_text())


def _core_version() -> str:
    return re.search(r'^__version__ = "([^"]+)"', CORE_VERSION_FILE.read_text(), re.M).group(1)


def _build(dirs: list[Path], out: Path) -> None:
    """sdist, then the wheel from the sdist, of each directory, with this venv's hatchling (no network)."""
    for d in dirs:
        res = subprocess.run([sys.executable, "-m", "build", "-q", "--no-isolation", "--outdir", str(out), str(d)],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, (d, res.stdout[-2000:], res.stderr[-2000:])


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """What ``make wheels`` builds: every package and the umbrella."""
    out = tmp_path_factory.mktemp("dist")
    _build([ROOT / "packages" / p for p in PACKAGES] + [ROOT], out)
    return out


def _metadata(wheel: Path) -> tuple[email.message.Message, str]:
    with zipfile.ZipFile(wheel) as z:
        info = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        entry = next((n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")), None)
        return email.message_from_bytes(z.read(info)), z.read(entry).decode() if entry else ""


def test_namespace_has_no_init():
    for pkg in PACKAGES:
        assert not (ROOT / "packages" / pkg / "src" / "optimist" / "__init__.py").exists(), pkg
        assert (ROOT / "packages" / pkg / "src" / "optimist" / pkg / "__init__.py").exists(), pkg


def test_core_never_imports_an_application():
    pattern = re.compile(r"^\s*(from|import)\s+optimist\.(" + "|".join(APPS) + r")\b", re.M)
    offenders = [str(p) for p in (ROOT / "packages/core/src").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_dependencies_are_plain_names_with_ranges():
    """No direct references anywhere; Optimist packages are required by name with a range holding the version."""
    version = _core_version()
    for pkg in [*PACKAGES, None]:
        meta = _pyproject(pkg)
        assert "allow-direct-references" not in str(meta.get("tool", {}).get("hatch", {})), pkg
        reqs = [Requirement(r) for r in meta["project"]["dependencies"]]
        reqs += [Requirement(r) for extra in meta["project"].get("optional-dependencies", {}).values() for r in extra]
        for r in reqs:
            assert r.url is None, (pkg, str(r))
            if r.name.startswith("optimist"):
                assert r.specifier and r.specifier.contains(version), (pkg, str(r))
        own = {r.name for r in reqs if r.name.startswith("optimist")}
        if pkg in APPS:
            assert own == {"optimist-core"}, (pkg, own)  # an application needs core, never another application
        elif pkg in DATA:
            assert reqs == [], (pkg, reqs)  # weights and cards only
        elif pkg is None:  # the umbrella: every package
            assert own == {f"optimist-{p}" for p in PACKAGES}


def test_one_version_in_lock_step():
    """Every package (and the umbrella) reads its version from core's ``__version__``; the installed ones agree."""
    import optimist.core

    for pkg in [*PACKAGES, None]:
        meta = _pyproject(pkg)
        base = (ROOT / "packages" / pkg) if pkg else ROOT
        assert "version" not in meta["project"] and meta["project"]["dynamic"] == ["version"], pkg
        assert (base / meta["tool"]["hatch"]["version"]["path"]).resolve() == CORE_VERSION_FILE, pkg
    assert optimist.core.__version__ == _core_version()
    for pkg in PACKAGES:
        assert md.version(f"optimist-{pkg}") == _core_version(), pkg


def test_cli_version_lists_every_installed_package(capsys):
    from optimist.core.cli import main

    assert main(["--version"]) in (0, None)
    lines = capsys.readouterr().out.split("\n")
    for pkg in PACKAGES:
        assert f"optimist-{pkg} {_core_version()}" in lines, (pkg, lines)


def test_built_wheels_have_clean_metadata(wheelhouse):
    """The wheelhouse has a wheel and an sdist of every package; no file:// or direct URL in any metadata,
    the versions agree and the entry points of pyproject.toml made it into the wheels."""
    version = _core_version()
    names = {f"optimist-{p}": p for p in PACKAGES} | {"optimist": None}
    for name, pkg in names.items():
        stem = name.replace("-", "_") + f"-{version}"
        wheel, sdist = wheelhouse / f"{stem}-py3-none-any.whl", wheelhouse / f"{stem}.tar.gz"
        assert wheel.exists() and sdist.exists(), (name, sorted(os.listdir(wheelhouse)))
        meta, entry_points = _metadata(wheel)
        assert meta["Name"] == name and meta["Version"] == version
        for text in meta.get_all("Requires-Dist") or []:
            assert "file:" not in text and " @ " not in text and "://" not in text, (name, text)
            r = Requirement(text)
            assert r.url is None
            if r.name.startswith("optimist"):
                assert r.specifier.contains(version), (name, text)
        for group, items in _pyproject(pkg)["project"].get("entry-points", {}).items() if pkg else ():
            assert f"[{group}]" in entry_points, (name, group)
            for key, target in items.items():
                assert f"{key} = {target}" in entry_points, (name, key)


def _imports(src: Path) -> set[str]:
    mods = set()
    for f in src.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m != "optimist"}


def test_each_package_declares_what_it_imports():
    """A lone install works: each third-party module a package imports comes from its own dependencies (core's
    count for the applications, which all require core; core's optional modules from its extras)."""
    providers = md.packages_distributions()

    def declared(pkg, extras=False):
        project = _pyproject(pkg)["project"]
        reqs = list(project["dependencies"])
        if extras:
            reqs += [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
        return {canonicalize_name(Requirement(r).name) for r in reqs}

    missing = {}
    for pkg in PACKAGES:
        allowed = declared(pkg, extras=pkg == "core") | declared("core")
        for mod in sorted(_imports(ROOT / "packages" / pkg / "src")):
            dists = {canonicalize_name(d) for d in providers.get(mod, [mod])}
            if not dists & allowed:
                missing.setdefault(pkg, []).append(f"{mod} ({', '.join(sorted(dists))})")
    assert missing == {}


def _borrowed_site(tmp_path: Path) -> Path:
    """This venv's packages (pip included) without Optimist's own (no editable finders, no dist-info): symlinks."""
    own = re.compile(r"^(__editable__|_editable_impl_|optimist)", re.I)
    borrowed = tmp_path / "third-party"
    borrowed.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            if not own.match(entry.name) and entry.suffix != ".pth" and not (borrowed / entry.name).exists():
                (borrowed / entry.name).symlink_to(entry)
    return borrowed


def _fresh_venv(tmp_path: Path) -> tuple[Path, dict]:
    """A new venv that sees this one's third-party packages (torch & co., not reinstalled; pip too) and no
    Optimist: whatever pip installs goes into the new venv's own site-packages."""
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "borrowed.pth").write_text(f"{_borrowed_site(tmp_path)}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "OMP_NUM_THREADS": "1"}
    return venv, env


def _run(args, env, timeout=600):
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout,
                         cwd="/")
    assert res.returncode == 0, (args, res.stdout[-3000:], res.stderr[-3000:])
    return res.stdout


def test_pip_install_core_alone(tmp_path):
    """A fresh venv gets only optimist-core, editable from this checkout; no application comes along."""
    venv, env = _fresh_venv(tmp_path)
    py = venv / "bin" / "python"
    _run([py, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", "-e", ROOT / "packages/core"],
         env)
    code = ("import importlib.util, optimist.core as c; from optimist.core import pgd, zoo, Threat; "
            "print(c.__file__); "
            f"print([importlib.util.find_spec('optimist.' + a) is None for a in {APPS!r}])")
    out = _run([py, "-c", code], env)
    assert str(ROOT / "packages/core/src") in out
    assert f"[{', '.join(['True'] * len(APPS))}]" in out  # no application came along
    assert "optimist demo" in _run([venv / "bin" / "optimist", "--help"], env)


@pytest.mark.slow
def test_editable_core_and_an_application_in_one_command(tmp_path):
    """The README's development install: core and one application named together, one pip call."""
    venv, env = _fresh_venv(tmp_path)
    py = venv / "bin" / "python"
    _run([py, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation",
          "-e", ROOT / "packages/core", "-e", ROOT / "packages/interpretability"], env)
    out = _run([py, "-c", "import optimist.core, optimist.interpretability as i; print(i.__file__)"], env)
    assert str(ROOT / "packages/interpretability/src") in out
    versions = _run([venv / "bin" / "optimist", "--version"], env).split("\n")
    assert [v for v in versions if v] == [f"optimist-core {_core_version()}",
                                          f"optimist-interpretability {_core_version()}"]


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS)
def test_one_application_installs_from_the_wheelhouse_alone(app, wheelhouse, tmp_path):
    """A fresh venv installs one application from dist/ only (no index), imports it and runs its smallest
    function; core comes from the wheelhouse, no other application does."""
    venv, env = _fresh_venv(tmp_path)
    py = venv / "bin" / "python"
    _run([py, "-m", "pip", "install", "-q", "--no-index", "--find-links", wheelhouse, f"optimist-{app}"], env)
    out = _run([py, "-c", "import torch; " + SMALLEST[app]], env)
    assert out.strip()
    versions = _run([venv / "bin" / "optimist", "--version"], env).split("\n")
    assert [v for v in versions if v] == [f"optimist-core {_core_version()}", f"optimist-{app} {_core_version()}"]
    where = _run([py, "-c", f"import optimist.core, optimist.{app} as a; print(optimist.core.__file__, a.__file__)"],
                 env)
    assert str(ROOT) not in where and str(venv) in where  # the installed wheels, not this checkout


def test_wheelhouse_is_ignored_by_git():
    assert "dist/" in (ROOT / ".gitignore").read_text().split()
