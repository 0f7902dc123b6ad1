"""集采公开 generator: data package in, static site out."""
