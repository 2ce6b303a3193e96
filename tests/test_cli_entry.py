"""The ``edgevec`` entry point without its extra: ``import edgevec`` never loads typer or rich,
and ``python -m edgevec`` without typer says which ``pip install`` fixes it.

Needs no extra: the nox ``tests`` session (no extras) runs it for real; elsewhere typer is hidden
from ``import``.
"""

from __future__ import annotations

import re
import subprocess
import sys


def test_importing_edgevec_or_its_cli_package_loads_neither_typer_nor_rich() -> None:
    code = "import sys, edgevec, edgevec.cli; print(sorted({'typer', 'rich'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_python_m_edgevec_without_typer_says_what_to_install() -> None:
    hide = "import runpy, sys; sys.modules['typer'] = None; "
    code = hide + "runpy.run_module('edgevec', run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert re.fullmatch(
        r'the edgevec command needs typer( and rich)?: pip install "edgevec\[cli\]" '
        r'\(or "edgevec\[demo\]" for the demo\)\n',
        done.stderr,
    ), done.stderr
