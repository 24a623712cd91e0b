"""The README and the docs: numbers generated from their sources, the README a front door."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "docs_tables.py"


def _load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_table_matches_its_source():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_a_hand_edited_table_is_caught_and_regenerated(tmp_path, monkeypatch):
    docs = _load_script()
    page = tmp_path / "page.md"
    right = docs.render("config-keys").strip() + "\n"
    wrong = right.replace("| `seed` | `42` |", "| `seed` | `43` |")
    assert wrong != right
    page.write_text(f"intro\n<!-- generated: config-keys -->\n{wrong}<!-- /generated -->\nafter\n")
    monkeypatch.setattr(docs, "documents", lambda: [page])
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    assert docs.update(check=True) == ["page.md: config-keys"]
    assert wrong in page.read_text()  # --check does not rewrite
    docs.update(check=False)
    assert page.read_text() == f"intro\n<!-- generated: config-keys -->\n{right}<!-- /generated -->\nafter\n"
    assert docs.update(check=True) == []


def test_readme_is_the_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 12 * 1024
    assert readme.count("make demo") >= 1 and "make test" in readme
    for section in (
        "## Two commands",
        "## From Python",
        "## From the command line",
        "## Your own data",
        "## Scaling out",
        "## Documentation",
    ):
        assert section in readme
    # every number table in the README is a generated block
    tables = [m.start() for m in re.finditer(r"^\|.*\|$", readme, re.M)]
    blocks = [(m.start(), m.end()) for m in re.finditer(r"<!-- generated: .*?<!-- /generated -->", readme, re.S)]
    assert all(any(a <= t < b for a, b in blocks) for t in tables)


def test_links_in_readme_and_docs_point_at_files():
    for path in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+?)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.relative_to(ROOT)} links to missing {target}"


def test_the_demo_record_comes_from_the_current_default_config():
    """The README's demo block is generated from docs/data/demo; a change to the default config
    (a new setting, another default) makes that record stale until `make demo` is recorded again."""
    import json

    from simcse_lab.core.config import config_hash, load_config

    recorded = json.loads((ROOT / "docs" / "data" / "demo" / "manifest.json").read_text())["config_hash"]
    assert recorded == config_hash(load_config("default")), (
        "docs/data/demo is stale: run `make demo`, then `python scripts/docs_tables.py --record-demo runs/default-...`"
    )


def test_the_demo_table_does_not_depend_on_what_the_caches_hold():
    """With encode.backend auto, a speed record and the exports a cache holds pick ONNX/OpenVINO for
    some models, and their vectors move KMeans and UMAP enough to change printed digits: the demo
    pins one backend, and its record was encoded with it alone."""
    import json

    from simcse_lab.core.config import load_config

    backend = load_config("default").encode.backend
    assert backend != "auto"
    manifest = json.loads((ROOT / "docs" / "data" / "demo" / "manifest.json").read_text())
    used = {m["backend"].split(":")[0] for m in manifest["models"] if m.get("backend")}
    assert used == {backend}, used
