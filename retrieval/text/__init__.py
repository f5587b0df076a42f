"""Text: how words become terms (analysis: tokens, case folding, stopwords, stems) and where a
story's sentences and passages begin and end (sentences). Both ingest and answering use it, so it
knows nothing of either."""
