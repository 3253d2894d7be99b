"""The layout of training/: what each package may import (inside functions too), no cycles, imports at the top
unless a reason is written beside them, small modules and folders, and each package's docstring is its map."""

import ast
import re
from pathlib import Path

import pytest

TRAINING = Path(__file__).parents[1] / "training"
COMMANDS = ("cli", "prepare", "train", "evaluate", "export", "__main__")
# What each package may import of ours (training/__init__.py states the same rule in words).
ALLOWED = {
    "data": ("device.core", "training.data"),
    "fit": ("device.core", "training.data", "training.fit"),
    "evaluation": ("device.core", "device.engine", "training.data", "training.fit", "training.evaluation"),
    "musical": ("device.core", "device.engine", "training.data", "training.evaluation", "training.musical"),
    "corpus": ("device.core", "training"),
}
MAX_LINES, MAX_MODULES = 350, 15


def module_name(path: Path) -> str:
    parts = path.relative_to(TRAINING.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = TRAINING.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def ours(name: str) -> bool:
    return name.split(".")[0] in ("training", "device")


def type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (never run)."""
    return {node.lineno for block in tree.body if isinstance(block, ast.If) and getattr(block.test, "id", "") ==
            "TYPE_CHECKING" for node in ast.walk(block) if isinstance(node, ast.Import | ast.ImportFrom)}


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at the top of the file) for every import of ``path`` that runs, functions included;
    ``from package import module`` names the module."""
    tree = ast.parse(path.read_text())
    top, skipped = {id(node) for node in tree.body}, type_checking_only(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or node.lineno in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            names = [f"{node.module}.{a.name}" if is_module(f"{node.module}.{a.name}") else node.module
                     for a in node.names]
        found += [(name, node.lineno, id(node) in top) for name in names]
    return found


FILES = sorted(TRAINING.rglob("*.py"))


def package_of(path: Path) -> str | None:
    parts = path.relative_to(TRAINING).parts
    return parts[0] if len(parts) > 1 else None


@pytest.mark.parametrize("path", [p for p in FILES if package_of(p)], ids=lambda p: str(p.relative_to(TRAINING)))
def test_a_package_imports_only_what_it_may(path):
    allowed = ALLOWED[package_of(path)]
    wrong = [f"line {line}: {name}" for name, line, _ in imports(path) if ours(name)
             and not any(name == a or name.startswith(a + ".") for a in allowed)]
    assert wrong == [], f"{path.relative_to(TRAINING)} may import only {allowed}"


def test_no_package_below_the_commands_imports_a_command():
    commands = {f"training.{name}" for name in COMMANDS}
    found = [f"{p.relative_to(TRAINING)}: {name}" for p in FILES if package_of(p) not in (None, "corpus")
             for name, _, _ in imports(p) if name in commands]
    assert found == []


def test_no_import_cycle_in_training_counting_imports_inside_functions():
    graph = {module_name(p): {n for n, _, _ in imports(p) if n.startswith("training.") and is_module(n)}
             for p in FILES}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TRAINING)))
def test_an_import_inside_a_function_says_why_beside_it(path):
    lines = path.read_text().splitlines()
    silent = [f"line {line}: {name}" for name, line, at_top in imports(path) if not at_top
              and "# lazy:" not in lines[line - 1] and "# lazy:" not in lines[line - 2]]
    assert silent == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TRAINING)))
def test_no_module_is_over_350_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_no_folder_holds_over_15_modules():
    folders = {p.parent for p in FILES}
    counts = {str(f.relative_to(TRAINING.parent)): len([p for p in f.glob("*.py") if p.name != "__init__.py"])
              for f in folders}
    assert {f: n for f, n in counts.items() if n > MAX_MODULES} == {}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_docstring_maps_its_modules_and_says_what_it_may_import(package):
    doc = ast.get_docstring(ast.parse((TRAINING / package / "__init__.py").read_text())) or ""
    listed = set(re.findall(r"^    (\w+) ", doc, re.MULTILINE))
    modules = {p.stem for p in (TRAINING / package).glob("*.py") if p.name != "__init__.py"}
    assert (listed, "May import:" in doc) == (modules, True)


def test_the_training_docstring_maps_the_commands_and_the_packages():
    doc = ast.get_docstring(ast.parse((TRAINING / "__init__.py").read_text())) or ""
    listed = set(re.findall(r"^    (\w+)/? ", doc, re.MULTILINE))
    assert listed == {*COMMANDS} - {"__main__"} | set(ALLOWED)
    assert "The dependency rule" in doc
