"""After `sam build`: every module of the shared layer ships its bytecode, for Lambda's python3.11, checked against
nothing (unchecked-hash). Lambda cannot write bytecode (/opt is read-only), so a module without it is compiled again
by every cold start; and SAM's zips date every file 1980-01-01, so timestamp-checked bytecode would be rejected.
See layers/fleetgate/Makefile."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

LAYER = Path(".aws-sam/build/SharedLayer/python")
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def main() -> int:
    sources = sorted(LAYER.rglob("*.py"))
    if not any(p.parts[len(LAYER.parts)] == "fleetgate" for p in sources):
        print(f"{LAYER}: no fleetgate package in the built layer", file=sys.stderr)
        return 1
    wrong = []
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        if not compiled.exists():
            wrong.append(f"{source}: no bytecode")
            continue
        header = compiled.read_bytes()[:8]
        if header[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            wrong.append(f"{compiled}: not unchecked-hash bytecode of this Python ({sys.version.split()[0]})")
    for line in wrong[:20]:
        print(line, file=sys.stderr)
    if wrong:
        print(
            f"{len(wrong)} of {len(sources)} modules of the layer would be compiled at every cold start",
            file=sys.stderr,
        )
        return 1
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    print(f"layer: {len(sources)} modules, each with its bytecode (unchecked-hash, cpython {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
