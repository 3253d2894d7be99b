"""The house: packages by part, imports that point one way, small folders and modules, a wheel with every module.

The rules are the ones each package's docstring states (device/__init__.py and training/__init__.py map
them); every import counts, inside functions too.
"""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULES_PER_FOLDER = 15
MAX_MODULE_LINES = 350

# What each package may import of ours, besides itself. The top level of device/ and training/ (the app and
# the commands) may import anything below it; nothing imports the top level but the top level.
ALLOWED = {
    "device.core": set(),
    "device.engine": {"device.core"},
    "device.midi": {"device.core"},
    "device.transport": {"device.core", "device.midi"},
    "device.controls": {"device.core", "device.engine", "device.midi"},
    "device.play": {"device.core", "device.engine", "device.midi", "device.transport"},
    "device.render": {"device.core", "device.midi"},
    "device.net": {"device.core", "device.engine", "device.controls", "device.play"},
    "device.harmony": {"device.core", "device.engine", "device.midi"},
    "device.bench": {"device"},
    "training.data": {"device.core"},
    "training.fit": {"device.core", "training.data"},
    "training.evaluation": {"device.core", "device.engine", "training.data", "training.fit"},
    "training.musical": {"device.core", "device.engine", "training.data", "training.evaluation"},
    "training.corpus": {"device.core", "training"},
}


def modules() -> dict[str, Path]:
    """Every first-party module by dotted name (a package by its own name)."""
    found = {}
    for top in ("device", "training"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, name: str, first_party: bool = True) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import in ``path`` (``first_party``: ours only)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, inside):
        for child in ast.iter_child_nodes(node):
            nested = inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, inside) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + [base]).strip(".")
                for alias in child.names:
                    found.append((f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base, child.lineno,
                                  inside))
            visit(child, nested)

    visit(tree, False)
    return [(target, line, inside) for target, line, inside in found
            if not first_party or target.split(".")[0] in ("device", "training")]


MODULES = modules()


def part_of(name: str) -> str:
    """The package a module belongs to for the rules: device.engine.model -> device.engine; device.cli -> device."""
    parts = name.split(".")
    candidate = ".".join(parts[:2])
    return candidate if candidate in ALLOWED else parts[0]


def allowed(source: str, target: str) -> bool:
    source_part, target_part = part_of(source), part_of(target)
    if source_part == target_part or source_part in ("device", "training"):
        return not (source_part == "device" and target_part.startswith("training"))
    return any(target_part == rule or target_part.startswith(rule + ".") or (rule in ("device", "training")
               and target_part.split(".")[0] == rule) for rule in ALLOWED[source_part])


def test_every_import_points_down_the_layers():
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{line}: {name} imports {target}"
             for name in MODULES for target, line, _ in imports(MODULES[name], name) if not allowed(name, target)]
    assert wrong == []


def test_no_import_cycle_counting_imports_inside_functions():
    graph = {name: {t for t, _, _ in imports(MODULES[name], name) if t in MODULES and t != name} for name in MODULES}
    for name in MODULES:  # a package's __init__ is imported with each of its modules: not an edge of a cycle
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_an_import_inside_a_function_says_why_beside_it():
    unexplained = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for target, line, inside in imports(path, name, first_party=False):
            here, above = lines[line - 1], lines[line - 2] if line > 1 else ""
            if inside and "# lazy:" not in here and "# lazy:" not in above:
                unexplained.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    assert unexplained == []


def test_no_folder_holds_more_than_fifteen_modules():
    counts = {}
    for path in MODULES.values():
        counts.setdefault(path.parent.relative_to(ROOT), []).append(path)
    crowded = {str(folder): len(files) for folder, files in counts.items() if len(files) > MAX_MODULES_PER_FOLDER}
    assert crowded == {}


def test_no_module_is_over_350_lines():
    long = {str(path.relative_to(ROOT)): n for path in MODULES.values()
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_every_package_docstring_is_its_map_and_names_what_it_may_import():
    packages = [name for name, path in MODULES.items() if path.name == "__init__.py"]
    missing = []
    for name in packages:
        doc = ast.get_docstring(ast.parse(MODULES[name].read_text())) or ""
        children = {n.rpartition(".")[2] for n in MODULES if n.rpartition(".")[0] == name} - {"__main__"}
        unnamed = sorted(child for child in children if child not in doc)
        if not doc or "import" not in doc.lower() or unnamed:
            missing.append(f"{name}: " + ("no docstring" if not doc else f"imports or modules not named {unnamed}"))
    assert missing == []


@pytest.mark.slow
def test_a_built_wheel_holds_every_module(tmp_path):
    source = tmp_path / "source"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file() and not name.startswith("models/"):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("melodybox-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    held = {name for name in names if name.endswith(".py")}
    expected = {str(path.relative_to(ROOT)) for path in MODULES.values()}
    assert expected - held == set()
    page = {str(path.relative_to(ROOT)) for path in (ROOT / "device" / "net" / "static").iterdir()}
    assert page and page - names == set()  # the web page's files ship with the box
