"""Regenerates the Python code of ``packages/atlas-core/proto`` (messages, gRPC stubs and
their ``.pyi`` types) into ``atlas_core/serve/_generated``.

Usage: ``uv run python scripts/gen_proto.py [--out DIR]`` (default: the committed
location). Needs the dev tools grpcio-tools and mypy-protobuf. protoc writes imports
relative to the proto root (``from atlas.v1 import ...``); they are rewritten to the
package path so the generated modules import from where they are committed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "packages/atlas-core/proto"
DEFAULT_OUT = ROOT / "packages/atlas-core/src/atlas_core/serve/_generated"
PACKAGE = "atlas_core.serve._generated"
HEADER = "# Regenerate with `uv run python scripts/gen_proto.py`: do not edit by hand.\n"


def generate(out: Path) -> list[Path]:
    """Writes the generated package under ``out`` (replacing it); returns the files."""
    protos = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in PROTO_ROOT.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = Path(sys.executable).parent  # protoc-gen-mypy* live next to the interpreter
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
                f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
                f"--python_out={tmp}",
                f"--grpc_python_out={tmp}",
                f"--mypy_out={tmp}",
                f"--mypy_grpc_out={tmp}",
                *protos,
            ],
            check=True,
        )
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(tmp, out)
    written = []
    for directory in [out, *(d for d in out.rglob("*") if d.is_dir())]:
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text(HEADER)
    for path in sorted(out.rglob("*")):
        if path.suffix in (".py", ".pyi"):
            text = path.read_text()
            # `from atlas.v1 import x` / `import atlas.v1.x` -> the committed package path.
            text = re.sub(r"^from atlas\.", f"from {PACKAGE}.atlas.", text, flags=re.M)
            text = re.sub(r"^import atlas\.", f"import {PACKAGE}.atlas.", text, flags=re.M)
            if not text.startswith(HEADER):
                text = HEADER + text
            path.write_text(text)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="target directory")
    args = parser.parse_args()
    for path in generate(args.out):
        print(path.relative_to(args.out))


if __name__ == "__main__":
    main()
