"""The optional compiled scan walk (src/boveda/chain/_walk.c); everything else is in pyproject.toml.

Where no C compiler (or no Python headers) is found, the build goes on without it and
boveda.chain.scanner uses its pure-Python walk, which gives the same events.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError


class OptionalBuildExt(build_ext):
    """Builds the walk if it can; says in one line when it could not."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except (CCompilerError, CompileError, ExecError, LinkError, PlatformError, OSError) as exc:
            print(f"boveda: the compiled scan walk was not built ({type(exc).__name__}); the pure-Python walk is used")


setup(
    ext_modules=[Extension("boveda.chain._walk", ["src/boveda/chain/_walk.c"], optional=True)],
    cmdclass={"build_ext": OptionalBuildExt},
)
