"""Readers for the official on-disk formats of each dataset. One module per format family; every reader
reports problems as DataError naming the file and what is wrong."""
