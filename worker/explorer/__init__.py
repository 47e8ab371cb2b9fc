"""The read-only explorer: a small HTTP server and a static page that reads the chain."""
