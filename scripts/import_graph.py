"""The package's import graph between its folders and top-level modules, checked against its layers.

    python scripts/import_graph.py          # the graph, layer by layer, and any import that goes up

Each unit (a top-level module or a sub-package) may import units of lower layers only, never one of
its own layer or above, so each layer can be read, tested and replaced without those above it. The
graph is read from the source (``import`` statements, lazy ones inside functions included), not by
importing anything. Exit status 1 when an import goes up or sideways.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hpo_compss"

#: bottom first; "__init__" is the package's lazy public face, which imports nothing at load time
LAYERS = [
    ["__init__", "errors"],
    ["trial", "clock", "gaussian_process"],
    ["space"],
    ["search", "schedule"],
    ["runtime"],
    ["experiment"],
    ["journal", "lock", "results"],
    ["folder"],
    ["study", "analysis"],
    ["dashboard"],
    ["cli", "examples"],  # examples: objectives written as users write them
]


def unit_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0][:-3]


def imported_units(path: Path) -> set[str]:
    """The package's units that ``path`` imports."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names if alias.name.startswith(f"{PACKAGE.name}.")]
            found.update(name[1] for name in names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.split(".")[0] == PACKAGE.name:
                    parts = node.module.split(".")[1:]
                    found.add(parts[0] if parts else "__init__")
                continue
            base = package[:len(package) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            if parts:
                found.add(parts[0])
            else:  # from . import name: a unit by that name, else the package's own __init__
                found.update(a.name if (PACKAGE / a.name).exists() or (PACKAGE / f"{a.name}.py").exists()
                             else "__init__" for a in node.names)
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = unit_of(path)
        edges[unit].update(imported_units(path) - {unit})
    return edges


def violations(edges: dict[str, set[str]]) -> list[str]:
    layer = {unit: index for index, units in enumerate(LAYERS) for unit in units}
    found = [f"{unit} is in no layer" for unit in sorted(edges) if unit not in layer]
    for unit, targets in sorted(edges.items()):
        for target in sorted(targets):
            if unit in layer and target in layer and layer[target] >= layer[unit]:
                found.append(f"{unit} (layer {layer[unit]}) imports {target} (layer {layer[target]})")
    return found


def main() -> int:
    edges = graph()
    for index, units in enumerate(LAYERS):
        for unit in units:
            print(f"{index}  {unit:<12} -> {', '.join(sorted(edges.get(unit, ()))) or '-'}")
    problems = violations(edges)
    for problem in problems:
        print(f"up: {problem}")
    print("no import goes up or sideways" if not problems else f"{len(problems)} import(s) go up or sideways")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
