# Reference numbers for tests/reporting/test_evaluation.py (torchlogit issue 17): the
# Hosmer-Lemeshow test, le Cessie-van Houwelingen's unweighted sum-of-squares test and the
# logistic calibration intercept and slope, on tests/reference/hyp_data.csv (written by hyp_anova.R).
#
# Run from the repository root:  Rscript tests/reference/hyp_gof.R
# R 4.2.2, rms 6.5-0 (Debian's r-cran-rms). ResourceSelection is not installable here (no CRAN
# access), so its hoslem.test (version 0.3-5) is reproduced verbatim below: deciles of risk are
# R's type-7 quantiles of the fitted probabilities, duplicate break points dropped, and each row
# falls in the right-closed interval (a, b] of consecutive breaks, the lowest break included.
suppressPackageStartupMessages(library(rms))
data <- read.csv("tests/reference/hyp_data.csv")

tight <- glm.control(epsilon = 1e-14, maxit = 100)  # converged to machine precision, as the tests

py <- function(name, x) {
  x <- as.numeric(x)
  cat(name, " = [", paste(sprintf("%.15g", x), collapse = ", "), "]\n", sep = "")
}

hoslem.test <- function(x, y, g = 10) {  # ResourceSelection 0.3-5, R/hoslem.test.R
  yhat <- y
  y <- x
  qq <- unique(quantile(yhat, probs = seq(0, 1, 1 / g)))
  cutyhat <- cut(yhat, breaks = qq, include.lowest = TRUE)
  observed <- xtabs(cbind(y0 = 1 - y, y1 = y) ~ cutyhat)
  expected <- xtabs(cbind(yhat0 = 1 - yhat, yhat1 = yhat) ~ cutyhat)
  chisq <- sum((observed - expected)^2 / expected)
  list(statistic = chisq, parameter = g - 2, p.value = 1 - pchisq(chisq, g - 2),
       groups = nlevels(cutyhat))
}

m1 <- glm(y ~ x1 + x2 + x3 + x4, family = binomial, data = data, control = tight)
p1 <- fitted(m1)
for (g in c(10, 5)) {
  h <- hoslem.test(data$y, p1, g = g)
  py(sprintf("HL_G%d_STAT_DF_P", g), c(h$statistic, h$parameter, h$p.value))
}
# tied probabilities: a model on two discrete features has few distinct fitted values, so some
# decile break points coincide and fewer groups are formed than asked for
mt <- glm(y ~ round(x1) + x4, family = binomial, data = data, control = tight)
pt <- fitted(mt)
h <- hoslem.test(data$y, pt, g = 10)
py("HL_TIES_STAT_GROUPS", c(h$statistic, h$groups))
py("HL_TIES_P_ON_GROUPS_MINUS_2", 1 - pchisq(h$statistic, h$groups - 2))
# the fitted probability of each (round(x1), x4) cell, so a test can rebuild pt with its ties exact
cells <- unique(data.frame(r = round(data$x1), x4 = data$x4, p = pt))
cells <- cells[order(cells$r, cells$x4), ]
py("HL_TIES_CELL_ROUND_X1", cells$r)
py("HL_TIES_CELL_X4", cells$x4)
py("HL_TIES_CELL_PROBA", cells$p)

# le Cessie-van Houwelingen-Copas-Hosmer unweighted sum of squares test on the fitting data
f <- lrm(y ~ x1 + x2 + x3 + x4, data = data, x = TRUE, y = TRUE)
py("GOF_SSE_EV_SD_Z_P", residuals(f, type = "gof"))

# calibration of a model fitted on rows 1-120, on rows 121-200
train <- data[1:120, ]
test <- data[121:200, ]
mtr <- glm(y ~ x1 + x2, family = binomial, data = train, control = tight)
pv <- predict(mtr, test, type = "response")
v <- val.prob(pv, test$y, pl = FALSE)
py("VALPROB_INTERCEPT_SLOPE", v[c("Intercept", "Slope")])
lp <- qlogis(pv)
py("CITL_INTERCEPT", coef(glm(test$y ~ 1 + offset(lp), family = binomial, control = tight)))
