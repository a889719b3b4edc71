# Reference numbers for tests/cli/test_summary_output.py: HC3 standard errors of a binomial logit,
# as `torchlogit fit --summary --cov HC3` prints them. The data are closed-form (no RNG), so the
# test rebuilds them exactly:  i = 1..60, a = sin(i), b = cos(1.7 i), y = a + 0.5 b + sin(3.1 i) > 0.
# Run: Rscript tests/reference/cli_hc3.R
suppressPackageStartupMessages(library(sandwich))
i <- 1:60
a <- sin(i)
b <- cos(1.7 * i)
y <- as.integer(a + 0.5 * b + sin(3.1 * i) > 0)
fit <- glm(y ~ a + b, family = binomial())
options(digits = 15)
print(coef(fit))
print(sqrt(diag(vcovHC(fit, type = "HC3"))))
