"""``python -m torchlogit`` (and ``torchrun -m torchlogit``) runs the CLI."""

from torchlogit._cli import entrypoint

if __name__ == "__main__":
    entrypoint()
