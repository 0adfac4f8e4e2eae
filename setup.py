"""Copies the repository's top-level weights/ into the built package, so `pip install .` ships them."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithWeights(build_py):
    def run(self):
        super().run()
        src = Path(__file__).resolve().parent / "weights"
        dst = Path(self.build_lib) / "tinyespcn_nodes" / "weights"
        dst.mkdir(parents=True, exist_ok=True)
        for f in sorted(src.glob("*.safetensors")):
            shutil.copy2(f, dst / f.name)
        (dst / "baselines").mkdir(exist_ok=True)  # `--weights pyramid-x8` by name from an installed package
        for f in sorted((src / "baselines").glob("*.safetensors")):
            shutil.copy2(f, dst / "baselines" / f.name)


setup(cmdclass={"build_py": BuildWithWeights})
