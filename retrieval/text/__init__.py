"""Text: how words become terms (analysis: tokens, case folding, stopwords, stems) and where a
story's sentences and passages begin and end (sentences); where a text holds a question's terms
and phrases (highlights) and which quotation marks a slice of it cuts through (quotations). Both
ingest and answering use it, so it knows nothing of either."""
