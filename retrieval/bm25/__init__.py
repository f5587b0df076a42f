"""BM25: the inverted index (postings), scoring exactly as `rank_bm25` does (index), and the
compiled loops under both (kernels). Knows terms and passage numbers, not stories or questions."""
