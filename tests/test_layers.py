"""The package's imports point down the layers of DESIGN.md, with no cycle, and importing it is cheap."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "framesampler"

# Bottom to top; a module may import its own layer's modules and any layer below, never one above.
LAYERS = [
    {"candidates", "constants", "cost", "deprecation", "device", "storage"},
    {"video"},
    {"data"},
    {"classifiers"},
    {"policies"},
    {"learned"},
    {"eval"},
    {"report"},
    {"app"},
    {"integrations"},
    {"cli", "__main__"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every framesampler module imported by ``path``, lazily or not (relative imports resolved)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found |= {target} | {f"{target}.{alias.name}" for alias in node.names}
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    resolved = set()
    for name in found:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name.startswith("framesampler.") and name != module_name(path):
            resolved.add(name)
    return resolved


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    return module.split(".")[1]


def test_every_part_of_the_package_has_a_layer():
    parts = {layer(m) for m in graph() if m != "framesampler"}
    assert parts <= set(RANK), f"add {sorted(parts - set(RANK))} to LAYERS"


def test_no_upward_import():
    upward = [f"{m} imports {t}" for m, targets in graph().items() if m != "framesampler"
              for t in targets if RANK[layer(t)] > RANK[layer(m)]]
    assert not upward, "imports must point down the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycle():
    edges = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph().items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = 2
        path.pop()
        return None

    for module in sorted(edges):
        if module not in state and (cycle := visit(module)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_importing_the_package_loads_no_heavy_module():
    code = ("import sys, framesampler; heavy = [m for m in ('av', 'matplotlib', 'tqdm', 'framesampler.app', "
            "'framesampler.classifiers.pretrained', 'framesampler.video.decode') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"`import framesampler` loads {out}: import them lazily"
