"""Statistics after a fit: covariances (nonrobust, HC*, cluster), tests, marginal effects, tables."""
