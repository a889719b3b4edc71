"""The tutorial's path: its training loop (SGD/Adam over epochs), demo data and the one-command demo."""
