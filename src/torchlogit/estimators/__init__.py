"""scikit-learn estimators and the fits built on them: LogisticRegression, CV, Firth, paths, streamed fits.

They validate parameters, turn ``C`` into penalty strengths, pick a solver and store ``coef_``."""
