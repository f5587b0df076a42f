"""BM25: the inverted index (postings, built by the compiled loops of building), scoring exactly as
`rank_bm25` does (index, over the compiled loops of scoring), the largest arrays in mappings of
their own (mapped). Knows terms and passage numbers, not stories or questions."""
