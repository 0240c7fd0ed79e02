"""Catalog items, embeddings, the Chroma store and hybrid search."""
