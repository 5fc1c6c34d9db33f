"""The package's layering, read from the source (ast): every import statement of every module under
ecgqa_tools/, including the ones inside functions (heavy imports are lazy) and under TYPE_CHECKING.

Data flows one way: records -> encoders -> grounding -> answers (llm); ``qa`` (templates,
attributes, label space, no models) sits next to records; ``eval`` measures everything through
public APIs. Two rules:

(a) a module never imports a private module (``_name``) or a private name of ANOTHER subpackage:
    it goes through that subpackage's ``__init__`` (``from ..grounding import pointing_game``);
(b) a subpackage imports only the subpackages below it (``ALLOWED``). The top-level modules
    (``errors``, ``_config``, ``_io``, ``cli`` and the package itself for ``__version__``) are
    shared infrastructure anyone may import; they import no subpackage themselves (``cli`` finds
    the ``_cli*`` modules by name at run time, through importlib, not by an import statement).

See docs/DEVELOPING.md "Layering".
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import ecgqa_tools

PACKAGE = "ecgqa_tools"
ROOT = Path(ecgqa_tools.__file__).parent

SHARED = frozenset({"errors", "_config", "_io", "cli", "__init__"})
"""Top-level modules: infrastructure every layer may use (``__init__`` = ``ecgqa_tools`` itself)."""

ALLOWED: dict[str, frozenset[str]] = {
    # reads ECGs into the ECG type: depends on nothing of ours but the shared modules
    "records": frozenset(),
    # ECG-QA samples, templates, attributes (PTB-XL labels): records only, never a model
    "qa": frozenset({"records"}),
    # signal models; qa gives them their label space (attributes, GROUNDING_CLASSES)
    "encoders": frozenset({"records", "qa"}),
    # attributions and measurements over the encoders' models and delineations; qa is allowed as in
    # docs/DEVELOPING.md ("qa may be used by encoders, grounding, llm, eval") though none is used yet
    "grounding": frozenset({"records", "qa", "encoders"}),
    # the answerer only calls tools built on the layers below
    "llm": frozenset({"records", "qa", "encoders", "grounding"}),
    # benchmarks measure everything, the llm answerers included (bench ecgqa's systems), through
    # public APIs only (rule a); nothing imports eval
    "eval": frozenset({"records", "qa", "encoders", "grounding", "llm"}),
}


@dataclass(frozen=True)
class Import:
    """One imported module or name, as written in the source."""

    path: str
    """File and line, ``ecgqa_tools/eval/_xai.py:457``."""
    module: str
    """The importing module, ``ecgqa_tools.eval._xai``."""
    target: str
    """The absolute dotted name imported (a module, or a module + ``.`` + name)."""
    statement: str
    """The import statement as written."""


def _module_name(file: Path, root: Path) -> tuple[str, bool]:
    parts = (PACKAGE, *file.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def imports_of(source: str, module: str, is_package: bool = False, path: str = "") -> list[Import]:
    """Every import of our package in ``source`` (all nesting levels), resolved to absolute names;
    also ``importlib.import_module("ecgqa_tools...")`` with a literal name."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        where = f"{path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if origin != PACKAGE and not origin.startswith(PACKAGE + "."):
                continue
            text = ast.unparse(node)
            found.append(Import(where, module, origin, text))
            found += [Import(where, module, f"{origin}.{alias.name}", text) for alias in node.names
                      if alias.name != "*"]
        elif isinstance(node, ast.Import):
            found += [Import(where, module, alias.name, ast.unparse(node)) for alias in node.names
                      if alias.name == PACKAGE or alias.name.startswith(PACKAGE + ".")]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and node.args[0].value.startswith(PACKAGE + ".")):
            found.append(Import(where, module, node.args[0].value, ast.unparse(node)))
    return found


TOP_LEVEL = frozenset(p.stem for p in ROOT.glob("*.py"))


def _layer(dotted: str) -> str:
    """The subpackage (``records``...) or top-level module (``errors``...) a dotted name is in;
    ``__init__`` for the package itself and the names it defines (``ecgqa_tools.__version__``)."""
    parts = dotted.split(".")
    if len(parts) > 1 and (parts[1] in ALLOWED or parts[1] in TOP_LEVEL):
        return parts[1]
    return "__init__"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def violations(imports: list[Import]) -> list[str]:
    """Rule (a) and (b) failures, one readable line per import statement and rule."""
    problems: dict[tuple[str, str, str], str] = {}
    for imp in imports:
        src, dst = _layer(imp.module), _layer(imp.target)
        if src == dst:
            continue
        where = f"{imp.path}: {imp.module} imports {imp.target} ({imp.statement!r})"
        key = (imp.path, imp.statement)
        if dst in ALLOWED and any(_is_private(p) for p in imp.target.split(".")[2:]):
            problems.setdefault((*key, "a"), f"{where}: a private module or name of {PACKAGE}.{dst}; import it "
                                             f"from {PACKAGE}.{dst} (make it public there if it is part of the API)")
        if dst in SHARED:
            continue
        if src in SHARED:
            problems.setdefault((*key, "b"), f"{where}: the shared top-level module {src} may not import a subpackage")
        elif src in ALLOWED and dst in ALLOWED and dst not in ALLOWED[src]:
            problems.setdefault((*key, "b"), f"{where}: {src} may import only {sorted(ALLOWED[src]) or 'no subpackage'}"
                                             f", not {dst} (data flows records -> encoders -> grounding -> llm; "
                                             "see ALLOWED)")
        elif dst not in ALLOWED:
            problems.setdefault((*key, "b"), f"{where}: {dst} is neither a known subpackage nor a shared module")
    return list(problems.values())


def _all_imports() -> list[Import]:
    imports = []
    for file in sorted(ROOT.rglob("*.py")):
        module, is_package = _module_name(file, ROOT)
        rel = f"{PACKAGE}/{file.relative_to(ROOT).as_posix()}"
        imports += imports_of(file.read_text(encoding="utf-8"), module, is_package, rel)
    return imports


def test_every_subpackage_and_top_level_module_has_a_place_in_the_layering():
    subpackages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert subpackages == set(ALLOWED), f"add {subpackages - set(ALLOWED)} to ALLOWED (drop {set(ALLOWED) - subpackages})"
    assert TOP_LEVEL <= SHARED, f"new top-level modules {sorted(TOP_LEVEL - SHARED)}: shared infrastructure or not?"


def test_no_private_cross_subpackage_imports_and_imports_flow_down_the_layers():
    imports = _all_imports()
    # the scan sees lazy imports too: these function-level edges exist in the package
    seen = {(_layer(i.module), _layer(i.target)) for i in imports}
    assert {("llm", "grounding"), ("eval", "llm"), ("grounding", "encoders"), ("encoders", "records")} <= seen
    problems = violations(imports)
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_the_checker_reports_private_and_upward_imports_inside_functions():
    source = (
        "def f():\n"
        "    from ..grounding._measure import qrs_windows\n"
        "    from ..grounding import _measure\n"
        "    import ecgqa_tools.records._wfdb\n"
        "    from ..records import _something\n"
        "    from ..grounding import measure\n"  # public: fine for eval
    )
    problems = violations(imports_of(source, "ecgqa_tools.eval._fake", path="eval/_fake.py"))
    assert len([p for p in problems if "private" in p]) == 4, problems
    assert all("ecgqa_tools.eval._fake imports" in p and "eval/_fake.py:" in p for p in problems)
    upward = violations(imports_of("def g():\n    from ..llm import TOOLS\n", "ecgqa_tools.grounding._fake"))
    assert len(upward) == 1 and "grounding may import only" in upward[0] and "ecgqa_tools.llm" in upward[0]
    eval_user = violations(imports_of("from .eval import run_benchmark\n", "ecgqa_tools.cli"))
    assert eval_user and "shared top-level module cli" in eval_user[0]
    dynamic = violations(imports_of("import importlib\nimportlib.import_module('ecgqa_tools.qa._engine')\n",
                                    "ecgqa_tools.llm._fake"))
    assert len(dynamic) == 1 and "private" in dynamic[0]
    same_package = imports_of("from ._measure import measure\n", "ecgqa_tools.grounding", is_package=True)
    assert not violations(same_package) and same_package[0].target == "ecgqa_tools.grounding._measure"
