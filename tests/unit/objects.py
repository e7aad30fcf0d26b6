"""Small C modules compiled with the real clang-19, for launcher tests."""

import shutil
import subprocess
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()


def compile_tree(root, sources: dict[str, str], native: tuple[str, ...] = ()) -> None:
    """root/src/X.c -> root/fe/X.o: ThinLTO bitcode, or machine code for
    the sources in `native`."""
    for src, text in sources.items():
        path = root / "src" / src
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out = root / "fe" / (src[:-2] + ".o")
        out.parent.mkdir(parents=True, exist_ok=True)
        lto = [] if src in native else ["-flto=thin"]
        subprocess.run([shutil.which(TC.tool("clang")), "-O2", *lto, "-c", str(path), "-o", str(out)],
                       check=True)
