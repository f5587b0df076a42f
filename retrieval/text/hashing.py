"""FNV-1a's constants (64 bits), shared by the term table and the copy shingles."""

import numpy as np

FNV_OFFSET = np.uint64(14695981039346656037)
FNV_PRIME = np.uint64(1099511628211)
