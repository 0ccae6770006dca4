"""URL slugs and 64-bit FNV-1a checksums, implemented in C (no Python fallback on purpose)."""
from ._fastslug import fnv1a64, slugify

__all__ = ["fnv1a64", "slugify"]
__version__ = "1.0.0"
