"""Worker node client: source -> trigger -> workflow -> Merkle -> vote -> watch."""

__version__ = "0.1.0"
