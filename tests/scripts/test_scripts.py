"""The project's shell scripts keep stdout for results.

Scripts capture each other's stdout (`venv=$(bash scripts/toolchain.sh)`), so
every install and progress message has to go to stderr; these tests run the
real scripts and helpers (after scripts/test.sh has installed everything, so
they install nothing and take seconds) and check what reaches stdout.
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(command: str) -> subprocess.CompletedProcess:
    """Runs `command` in bash at the repository's root, capturing both streams."""
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_toolchain_prints_one_absolute_venv_path():
    r = run("bash scripts/toolchain.sh")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and r.stdout.endswith("\n"), f"stdout is {r.stdout!r}"
    venv = Path(lines[0])
    assert venv.is_absolute(), f"{venv} is not absolute"
    assert (venv / "bin" / "python").is_file(), f"{venv} holds no bin/python"
    assert venv == ROOT / ".venv"


def test_toolchain_from_another_directory_prints_the_same_path(tmp_path):
    r = subprocess.run(
        ["bash", str(ROOT / "scripts" / "toolchain.sh")], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{ROOT / '.venv'}\n"


def test_helpers_print_nothing_on_stdout():
    # Each helper that installs or reports progress, on a machine where
    # everything is installed: the messages, if any, are on stderr.
    r = run(
        ". scripts/lib.sh && log note && step 'a step' true && apt_install bash coreutils "
        "&& ensure_base && ensure_vulkan && ensure_node && ensure_rust && ensure_chromium "
        "&& one() { echo one; } && two() { echo two; } && together 'step one' one 'step two' two"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", f"stdout is {r.stdout!r}"
    assert "note" in r.stderr and "==> a step" in r.stderr
    # Steps run together: each one's output whole, in the order given.
    assert re.search(r"step one: its output\none\n    \(step one: \d+ s\)\n", r.stderr), r.stderr
    assert r.stderr.index("one\n") < r.stderr.index("two\n")


def test_together_fails_when_any_step_fails():
    r = run(". scripts/lib.sh && together 'fails' false 'passes' true; echo \"status $?\" >&2")
    assert r.stdout == ""
    assert "error: fails failed (exit status 1)" in r.stderr and "status 1" in r.stderr
    assert "passes failed" not in r.stderr


def test_a_failing_download_is_refused_with_its_url():
    r = run(". scripts/lib.sh && download https://registry.npmjs.org/npm/-/npm-11.21.3.tgz \"$(mktemp)\" " + "0" * 128)
    assert r.returncode != 0
    assert r.stdout == ""
    assert "does not have the pinned checksum" in r.stderr and "npm-11.21.3.tgz" in r.stderr


def test_pinned_node_and_rust_are_the_ones_used():
    r = run(". scripts/lib.sh && ensure_node && ensure_rust && node --version && rustc --version")
    assert r.returncode == 0, r.stderr
    node, rustc = r.stdout.splitlines()
    lib = (ROOT / "scripts" / "lib.sh").read_text()
    assert node == "v" + re.search(r"^NODE_VERSION=(\S+)", lib, re.M).group(1)
    channel = re.search(r'^channel = "(.+)"', (ROOT / "rust-toolchain.toml").read_text(), re.M).group(1)
    assert rustc.startswith(f"rustc {channel} "), rustc
    major = int(node[1:].split(".")[0])
    assert major >= 20, node

