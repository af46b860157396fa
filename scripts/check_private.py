"""Encapsulation check: no module imports another module's ``_private`` names, and no code
writes a private attribute of an object other than ``self`` / ``cls``.

usage: python scripts/check_private.py [PATH ...]   (default: ganstudio tests); exit 1 on a hit
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ganstudio"):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{path}:{node.lineno}: imports {alias.name} from {node.module}")
            if any(_private(part) for part in (node.module or "").split(".")):
                found.append(f"{path}:{node.lineno}: imports from private module {node.module}")
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for t in ast.walk(target):
                if (
                    isinstance(t, ast.Attribute)
                    and _private(t.attr)
                    and not (isinstance(t.value, ast.Name) and t.value.id in ("self", "cls"))
                ):
                    found.append(
                        f"{path}:{t.lineno}: writes {ast.unparse(t)} (another object's private "
                        "attribute)"
                    )
    return found


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path("ganstudio"), Path("tests")]
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            found += problems(path)
    for line in found:
        print(line)
    print(f"{len(found)} private-name problems")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
