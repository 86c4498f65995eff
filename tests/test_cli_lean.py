"""`sramflow --help` must answer fast without importing torch (or onnx)."""

import subprocess
import sys


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from sramflow.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out
    assert "analyze" in out


def test_every_subcommand_help_is_lean() -> None:
    code = (
        "import sys\n"
        "from sramflow.cli import main, build_parser\n"
        "p = build_parser()\n"
        "names = list(p._subparsers._group_actions[0].choices)\n"
        "for n in names:\n"
        "    try:\n        main([n, '--help'])\n    except SystemExit:\n        pass\n"
        "print('HEAVY', [m for m in ('torch', 'onnx') if m in sys.modules], names)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out[-500:]
