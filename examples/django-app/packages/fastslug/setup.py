"""fastslug: slugify and FNV-1a hashing in C.

Built into a wheel by the pallet wheelhouse step (`pip wheel --no-build-isolation --no-index`), so it
must build with nothing but setuptools, wheel and a C compiler: no pyproject build requirements.
"""
from setuptools import Extension, setup

setup(
    name="fastslug",
    version="1.0.0",
    description="URL slugs and 64-bit FNV-1a checksums, in C",
    packages=["fastslug"],
    ext_modules=[
        Extension(
            "fastslug._fastslug",
            sources=["src/_fastslug.c"],
            extra_compile_args=["-O2", "-Wall", "-Werror"],
        )
    ],
    python_requires=">=3.8",
    zip_safe=False,
)
