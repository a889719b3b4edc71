# Reference numbers for tests/inference/test_covariance_influence.py (torchlogit issue 17).
#
# Run from the repository root:  Rscript tests/reference/inf_sandwich.R
# It writes tests/reference/inf_data.csv (the data, generated here with a fixed seed and rounded so
# the CSV holds them exactly) and prints, as Python literals, the numbers the tests embed.
# R 4.2.2, sandwich 3.0.2, MASS 7.3-58.2.
suppressPackageStartupMessages({library(sandwich); library(MASS)})

set.seed(20240517)
n <- 120
x1 <- round(rnorm(n), 3)
x2 <- round(2 * runif(n), 3)
d <- rbinom(n, 1, 0.4)
cnt <- rpois(n, 1.5)
eta <- -0.3 + 0.8 * x1 - 0.6 * x2 + 0.9 * d + 0.3 * cnt
y <- rbinom(n, 1, plogis(eta))
s1 <- 0.5 * x1 + 0.4 * d
s2 <- -0.4 * x2 + 0.3 * cnt
den <- 1 + exp(s1) + exp(s2)
u <- runif(n)
y3 <- ifelse(u < 1 / den, 0, ifelse(u < (1 + exp(s1)) / den, 1, 2))
w <- sample(1:3, n, replace = TRUE)
ga <- sample(1:10, n, replace = TRUE)
gb <- sample(1:6, n, replace = TRUE)
data <- data.frame(x1, x2, d, cnt, y, y3, w, ga, gb)
write.csv(data, "tests/reference/inf_data.csv", row.names = FALSE)

py <- function(name, x) {
  x <- as.numeric(x)
  cat(name, " = [", paste(sprintf("%.15g", x), collapse = ", "), "]\n", sep = "")
}

m <- glm(y ~ x1 + x2 + d + cnt, family = binomial, data = data, control = glm.control(epsilon = 1e-14, maxit = 100))
cat("# coefficients, then covariances flattened row by row (const, x1, x2, d, cnt)\n")
py("COEF", coef(m))
py("HC2", vcovHC(m, type = "HC2"))
py("HC3", vcovHC(m, type = "HC3"))
py("CL_A", vcovCL(m, cluster = ~ga, type = "HC1"))
py("CL_AB", vcovCL(m, cluster = ~ ga + gb, type = "HC1", cadjust = TRUE, multi0 = FALSE))

rows <- c(1, 7, 42, 99, 120)
cat("# influence measures at rows (1-based)", rows, "then the sum of squares over all rows\n")
measures <- list(
  HAT = hatvalues(m), COOK = cooks.distance(m), PEARSON = residuals(m, type = "pearson"),
  DEVIANCE = residuals(m, type = "deviance"), RSTANDARD_P = rstandard(m, type = "pearson"),
  RSTANDARD_D = rstandard(m), RSTUDENT = rstudent(m))
for (name in names(measures)) {
  py(name, measures[[name]][rows])
  py(paste0(name, "_SS"), sum(measures[[name]]^2))
}
py("DFBETA", t(dfbeta(m)[rows, ]))  # row by row, the parameters within
py("DFBETA_SS", colSums(dfbeta(m)^2))
py("DFBETAS", t(dfbetas(m)[rows, ]))  # row by row; R also divides by a leave-one-out sigma_i

mw <- glm(y ~ x1 + x2 + d + cnt, family = binomial, data = data, weights = w,
          control = glm.control(epsilon = 1e-14, maxit = 100))
cat("# prior weights w\n")
py("W_HAT", hatvalues(mw)[rows])
py("W_COOK", cooks.distance(mw)[rows])
py("W_PEARSON", residuals(mw, type = "pearson")[rows])
py("W_DEVIANCE", residuals(mw, type = "deviance")[rows])
py("W_DFBETA", t(dfbeta(mw)[rows, ]))

cat("# 95% intervals: MASS's profile (spline-interpolated) and the exact likelihood-ratio roots\n")
py("CONFINT_MASS", t(suppressMessages(confint(m))))  # (lower, upper) parameter by parameter
X <- model.matrix(m)
q <- qchisq(0.95, 1)
lr_root <- function(j, b) {
  fit <- glm.fit(X[, -j, drop = FALSE], y, family = binomial(), offset = b * X[, j],
                 control = glm.control(epsilon = 1e-14, maxit = 100))
  fit$deviance - m$deviance - q
}
exact <- sapply(seq_len(ncol(X)), function(j) {
  b <- coef(m)[j]; se <- sqrt(diag(vcov(m)))[j]
  c(uniroot(function(v) lr_root(j, v), c(b - 4 * se, b), tol = 1e-13)$root,
    uniroot(function(v) lr_root(j, v), c(b, b + 4 * se), tol = 1e-13)$root)
})
py("CONFINT_EXACT", exact)
