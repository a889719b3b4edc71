# Reference numbers for tests/inference/test_hypotheses.py (torchlogit issue 17): nested
# likelihood-ratio tests (anova) and predictions with standard errors on the link scale.
#
# Run from the repository root:  Rscript tests/reference/hyp_anova.R
# It writes tests/reference/hyp_data.csv (the data, generated here with a fixed seed and rounded so
# the CSV holds them exactly) and prints, as Python literals, the numbers the tests embed.
# R 4.2.2 (stats only).
set.seed(20240917)
n <- 200
x1 <- round(rnorm(n), 3)
x2 <- round(runif(n, -1, 1), 3)
x3 <- round(rnorm(n), 3)
x4 <- rbinom(n, 1, 0.5)
eta <- -0.4 + 0.9 * x1 - 0.7 * x2 + 0.2 * x3 + 0.5 * x4
y <- rbinom(n, 1, plogis(eta))
data <- data.frame(x1, x2, x3, x4, y)
write.csv(data, "tests/reference/hyp_data.csv", row.names = FALSE)

tight <- glm.control(epsilon = 1e-14, maxit = 100)  # converged to machine precision, as the tests

py <- function(name, x) {
  x <- as.numeric(x)
  cat(name, " = [", paste(sprintf("%.15g", x), collapse = ", "), "]\n", sep = "")
}

m0 <- glm(y ~ x1, family = binomial, data = data, control = tight)
m1 <- glm(y ~ x1 + x2 + x3 + x4, family = binomial, data = data, control = tight)
a <- anova(m0, m1, test = "LRT")
py("ANOVA_DEVIANCE_DF_P", c(a$Deviance[2], a$Df[2], a[["Pr(>Chi)"]][2]))
m2 <- glm(y ~ x1 + x3, family = binomial, data = data, control = tight)
a2 <- anova(m2, m1, test = "LRT")
py("ANOVA_X1X3_DEVIANCE_DF_P", c(a2$Deviance[2], a2$Df[2], a2[["Pr(>Chi)"]][2]))

# predictions at new rows: link and its standard error, and the response-scale interval formed on
# the link (the 95% normal interval mapped through plogis)
newdata <- data.frame(x1 = c(-1.5, 0, 0.7, 2.2), x2 = c(0.3, -0.8, 0, 0.95),
                      x3 = c(0, 1.2, -0.4, 2), x4 = c(1, 0, 1, 0))
p <- predict(m1, newdata, type = "link", se.fit = TRUE)
py("LINK_FIT", p$fit)
py("LINK_SE", p$se.fit)
z <- qnorm(0.975)
py("RESPONSE_CI_LOWER", plogis(p$fit - z * p$se.fit))
py("RESPONSE_CI_UPPER", plogis(p$fit + z * p$se.fit))
r <- predict(m1, newdata, type = "response", se.fit = TRUE)
py("RESPONSE_FIT", r$fit)
py("RESPONSE_SE", r$se.fit)
