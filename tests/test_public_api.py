"""The package's public names: one list each for readers, type checkers and the lazy loader, all agreeing."""
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import framesampler

INIT = Path(framesampler.__file__)


def _type_checking_names() -> set[str]:
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING")
    return {alias.asname or alias.name for imp in block.body if isinstance(imp, ast.ImportFrom) for alias in imp.names}


def test_all_lists_exactly_the_lazy_names_and_the_type_checking_imports():
    assert framesampler.__all__ == sorted(framesampler._PUBLIC)
    assert _type_checking_names() == set(framesampler.__all__)


def test_every_public_name_resolves_to_the_object_its_module_defines():
    for name in framesampler.__all__:
        assert getattr(framesampler, name) is getattr(importlib.import_module(framesampler._PUBLIC[name]), name)


def test_the_package_ships_its_py_typed_marker_and_imports_without_torch():
    assert (INIT.parent / "py.typed").is_file()
    code = "import sys, framesampler; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
