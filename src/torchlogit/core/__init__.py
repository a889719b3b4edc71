"""The mathematics every solver shares.

Loss, penalties, the Objective (sums over row chunks), preconditioning coordinates and the
tutorial's ``nn.Module``.
"""
