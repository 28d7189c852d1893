"""Licences: every crate compiled into the wasm module offers a licence that
NOTICE names, and the licence files ship with the npm package and the site."""

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The licences NOTICE section 8 names (SPDX ids).
ALLOWED = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "Zlib", "Unlicense", "0BSD", "BlueOak-1.0.0", "Unicode-3.0", "ISC"}


def acceptable(expr: str) -> bool:
    """Whether an SPDX expression (or the older `A/B` form) can be met with
    ALLOWED licences: some OR-alternative whose every AND-term is allowed."""
    expr = expr.replace("/", " OR ").replace("(", " ").replace(")", " ")
    # Parentheses only group AND inside an OR here ("(MIT OR Apache-2.0) AND
    # Unicode-3.0"): check the terms conservatively, each AND-part needing
    # one allowed alternative.
    for part in re.split(r"\s+AND\s+", expr):
        if not any(t.strip() in ALLOWED for t in re.split(r"\s+OR\s+", part)):
            return False
    return True


def test_the_spdx_check_refuses_what_it_should():
    assert acceptable("MIT OR Apache-2.0") and acceptable("MIT/Apache-2.0")
    assert acceptable("(MIT OR Apache-2.0) AND Unicode-3.0")
    assert not acceptable("GPL-3.0") and not acceptable("MIT AND GPL-3.0-only")
    assert acceptable("GPL-3.0 OR MIT")


def test_every_crate_in_the_wasm_module_offers_a_listed_licence():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", "wasm32-unknown-unknown"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=600,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == "synctalk-web")
    seen, todo = set(), [root]
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        todo += [d["pkg"] for d in nodes[i]["deps"] if any(k["kind"] is None for k in d["dep_kinds"])]
    assert len(seen) > 50, f"only {len(seen)} crates: the graph walk is wrong"
    bad = sorted(f"{packages[i]['name']} {packages[i]['version']}: {packages[i]['license']}"
                 for i in seen if not acceptable(packages[i]["license"] or ""))
    assert not bad, "crates whose licence NOTICE does not name:\n" + "\n".join(bad)


def test_the_package_and_the_site_carry_the_licences():
    package = json.loads((ROOT / "www/src/package.json").read_text())
    for name in ("LICENSE-MIT", "LICENSE-APACHE", "NOTICE"):
        assert name in package["files"], f"package.json files lacks {name}"
        text = (ROOT / name).read_text()
        # The build (scripts/web.sh, run by the browser tests) copies them.
        assert (ROOT / "www/dist/synctalk" / name).read_text() == text, f"www/dist/synctalk/{name}"
        assert (ROOT / "www/dist" / name).read_text() == text, f"www/dist/{name}"
    # The GPL synthesiser ships in the package's own tts/ folder, with its
    # licence and where its source is, apart from the MIT/Apache files.
    assert "tts/" in package["files"]
    tts = ROOT / "www/dist/synctalk/tts"
    assert "GNU GENERAL PUBLIC LICENSE" in (tts / "COPYING").read_text()
    assert "github.com/espeak-ng/espeak-ng" in (tts / "README.md").read_text()
    assert sorted(p.name for p in tts.iterdir()) == ["COPYING", "README.md", "espeak-ng.data", "espeak-ng.js"]
    notice = (ROOT / "NOTICE").read_text()
    for needed in ("Alpha Cephei", "Carnegie Mellon", "HDTF", "CC BY 4.0", "MediaPipe", "public domain", "eSpeak NG", "General Public License"):
        assert needed in notice, needed
