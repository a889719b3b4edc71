"""``python -m torchlogit`` (and ``torchrun -m torchlogit``) runs the CLI."""

from torchlogit.cli.main import entrypoint

if __name__ == "__main__":
    entrypoint()
