"""The package's architecture, checked on its import graph.

``jaxmetrics`` is cut into layers, each a folder, each importing only from
the layers below it and only public names of other modules:

    _src (numerics) < metrics < analysis < audio < report < cli < jaxmetrics/__init__

The core (``_src``, ``metrics``, ``analysis``) never imports torch or the
embedders. A module longer than ``LONG`` lines says why in a comment that
starts with ``# Why this module is long:``.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "jaxmetrics"
LAYERS = {"_src": 0, "metrics": 1, "analysis": 2, "audio": 3, "report": 4, "cli": 5}
TOP = 6  # jaxmetrics/__init__.py: the public API
CORE = 2  # layers up to analysis: no torch, no embedders
LONG = 400


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "jaxmetrics":
        raise ValueError(module)
    return TOP if len(parts) == 1 else LAYERS[parts[1]]


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: pathlib.Path):
    """``(imported module, imported name or None, line)`` for every import in ``path``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name, node.lineno


def _is_module(name: str) -> bool:
    return name in MODULES


def test_the_layers_exist():
    layers = {module.split(".")[1] for module in MODULES if module.count(".") >= 1}
    assert layers == set(LAYERS)
    assert not [m for m in MODULES if m.count(".") == 1 and m.split(".")[1] not in LAYERS]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_and_use_public_names(module):
    path, own = MODULES[module], _layer(module)
    problems = []
    aliases = {}
    for target, name, line in _imports(path):
        if target == "jaxmetrics" or target.startswith("jaxmetrics."):
            full = f"{target}.{name}" if name and _is_module(f"{target}.{name}") else target
            if _layer(full) > own:
                problems.append(f"line {line}: imports {full} from a higher layer")
            private = name and name.startswith("_") and not name.startswith("__")
            if private and not _is_module(f"{target}.{name}") and target != module:
                problems.append(f"line {line}: imports the private name {target}.{name}")
        if own <= CORE and (target.split(".")[0] in {"torch", "embedders"}):
            problems.append(f"line {line}: the core imports {target}")
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # module aliases: `from jaxmetrics._src import linalg as _linalg`
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxmetrics"):
            for alias in node.names:
                if _is_module(f"{node.module}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            problems.append(
                f"line {node.lineno}: uses the private name {aliases[node.value.id]}.{node.attr}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_long_modules_say_why(module):
    text = MODULES[module].read_text()
    if len(text.splitlines()) > LONG:
        assert "# Why this module is long:" in text, f"{module}: {len(text.splitlines())} lines"


def test_the_checks_catch_violations(tmp_path, monkeypatch):
    # The rules above must be able to fail: a core module importing the audio
    # layer and a private name of another module is reported.
    bad = PACKAGE / "_src" / "linalg.py"
    source = "from jaxmetrics.audio import windows\nfrom jaxmetrics.metrics.prdc import _tile\n"
    fake = tmp_path / "linalg.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "jaxmetrics._src.linalg", fake)
    with pytest.raises(AssertionError, match="higher layer") as info:
        test_imports_go_down_and_use_public_names("jaxmetrics._src.linalg")
    assert "private name jaxmetrics.metrics.prdc._tile" in str(info.value)
    assert bad.exists()


def test_only_the_host_lapack_module_reaches_past_xla():
    # SciPy's LAPACK, jaxlib's internals and host callbacks are in one module.
    outside = {}
    for module, path in MODULES.items():
        text = path.read_text()
        imports = {target for target, _, _ in _imports(path)}
        reached = {t for t in imports if t.startswith(("scipy.linalg", "jaxlib"))}
        reached |= {"pure_callback"} if "pure_callback(" in text else set()
        if reached and module != "jaxmetrics._src.host_lapack":
            outside[module] = sorted(reached)
    assert not outside


def test_public_names_are_sorted_and_each_batched_form_lives_beside_its_single_form():
    import embedders
    import jaxmetrics

    def isort_style(name: str) -> tuple[int, str]:  # CONSTANTS, Classes, functions (RUF022)
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    for package in (jaxmetrics, embedders):
        assert list(package.__all__) == sorted(package.__all__, key=isort_style), package.__name__
    batched = [name for name in jaxmetrics.__all__ if name.endswith("_batch")]
    assert batched
    for name in batched:
        single = name.removesuffix("_batch")
        if single in jaxmetrics.__all__:  # evaluate_batch has no single form
            assert getattr(jaxmetrics, name).__module__ == getattr(jaxmetrics, single).__module__
