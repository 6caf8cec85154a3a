"""No module imports one that imports it back: within each Rust crate of functions/ (`use crate::…`,
`use super::…`, paths in code) and within the Python harness. A circle means two concerns that cannot be read,
tested or moved apart; the fix is a leaf module both use (as `labels.rs` is for `onboarding` and `projects`)."""
import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRATES = sorted(p for p in (ROOT / "functions").glob("*/src") if p.is_dir())
PATH = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")


def rust_modules(src: Path) -> dict[tuple[str, ...], Path]:
    """Module path (`("projects", "version")`) → its file; `mod.rs`/`lib.rs`/`main.rs` name their directory."""
    mods = {}
    for f in src.rglob("*.rs"):
        parts = f.relative_to(src).with_suffix("").parts
        mods[parts[:-1] if parts[-1] in ("mod", "lib", "main") else parts] = f
    return mods


def rust_graph(src: Path) -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    """Which modules each module uses, its tests left out, a module's use of its own ancestors left out (a child
    naming its parent's items is how Rust nests, not a circle)."""
    mods = rust_modules(src)
    graph = {m: set() for m in mods}
    for module, file in mods.items():
        code = re.split(r"#\[cfg\(test\)\]\s*(?:pub(?:\(\w+\))?\s+)?mod \w+", file.read_text())[0]
        for path in PATH.findall(code):
            first, *rest = path.split("::")
            base = {"crate": (), "self": module, "super": module[:-1]}[first]
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
            target = next((base + tuple(rest[:i]) for i in range(len(rest), -1, -1)
                           if base + tuple(rest[:i]) in mods), None)
            if target is not None and target != module and module[:len(target)] != target:
                graph[module].add(target)
    return graph


def python_graph(package: Path) -> dict[str, set[str]]:
    """Which harness modules each harness module imports (`from harness.x import`, `from .x import`)."""
    name = package.name
    mods = {f"{name}.{'.'.join(f.relative_to(package).with_suffix('').parts)}".removesuffix(".__init__"): f
            for f in package.rglob("*.py")}
    graph = {m: set() for m in mods}
    for module, file in mods.items():
        pkg = module if file.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for n in names:
                if n in mods and n != module and not module.startswith(n + "."):
                    graph[module].add(n)
                    break
    return graph


def circle(graph: dict) -> list | None:
    try:
        TopologicalSorter(graph).prepare()
        return None
    except CycleError as e:
        return e.args[1]


@pytest.mark.parametrize("src", CRATES, ids=lambda p: p.parent.name)
def test_no_rust_module_imports_one_that_imports_it_back(src):
    assert circle(rust_graph(src)) is None


def test_no_harness_module_imports_one_that_imports_it_back():
    assert circle(python_graph(ROOT / "tests" / "harness")) is None


def test_a_circle_is_found_however_it_is_written(tmp_path):
    # the circle this check was written for: onboarding/projects.rs → projects/version.rs → projects/s3_url.rs → back
    src = tmp_path / "src"
    for path, text in {
        "lib.rs": "pub mod onboarding;\npub mod projects;\n",
        "onboarding/mod.rs": "pub mod projects;\n",
        "onboarding/projects.rs": "use crate::projects::version::{pinned_url, Version};\n",
        "projects/mod.rs": "mod s3_url;\nmod version;\n",
        "projects/version.rs": "use super::s3_url::{in_region, parse_s3_url};\n",
        "projects/s3_url.rs": "fn f() { crate::onboarding::projects::template_label(\"x\"); }\n"
                              "#[cfg(test)]\nmod tests { use crate::lib_only; }\n",
    }.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text)
    found = circle(rust_graph(src))
    assert found is not None and set(found) == {("onboarding", "projects"), ("projects", "version"),
                                                ("projects", "s3_url")}
    (src / "projects/s3_url.rs").write_text("use crate::labels::template_label;\n")
    (src / "labels.rs").write_text("")
    assert circle(rust_graph(src)) is None

    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "__init__.py").write_text("")
    (harness / "a.py").write_text("from harness.b import thing\n")
    (harness / "b.py").write_text("from .a import other\n")
    assert set(circle(python_graph(harness))) == {"harness.a", "harness.b"}
