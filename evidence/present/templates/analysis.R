@@HEADER@@
#
# Run:  Rscript analysis.R        (needs R and the metafor package; reads effects.csv beside this file)
# It recomputes every effect it can from the raw inputs with escalc(), checks that they equal the yi/vi of
# effects.csv, refits the dashboard's model with rma(), and prints and writes (results_R.csv) the pooled
# result, leave-one-out, Egger's test and trim-and-fill.

suppressPackageStartupMessages(library(metafor))

here <- local({
  arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  if (length(arg)) dirname(normalizePath(sub("^--file=", "", arg[1]))) else getwd()
})

# The view (as the dashboard showed it)
DATASET_VERSION <- @@R_VERSION@@
FILTERS <- @@R_FILTERS@@
VIEW_LINK <- @@R_LINK@@
EFFECT_MEASURE <- @@R_MEASURE@@   # SMD, logRR or logOR
METHOD <- @@R_METHOD@@            # tau^2 estimator
TEST <- @@R_TEST@@                # "knha" = Hartung-Knapp, "z" = normal
LEVEL <- @@R_LEVEL@@              # confidence level (%)
# Tight convergence so that iterative estimators agree with the dashboard to many decimals.
CTRL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)

dat <- read.csv(file.path(here, "effects.csv"), stringsAsFactors = FALSE, na.strings = "",
                colClasses = c(study_id = "character", label = "character", effect_id = "character"))
k <- nrow(dat)
cat(sprintf("%s\n%d studies, %s, method %s, test %s\n\n", FILTERS, k, EFFECT_MEASURE, METHOD, TEST))

# -- 1. Effect sizes from the raw inputs -------------------------------------------------------------
# y0/v0: peer support vs control as computed from the inputs; yi = orientation * y0 (effects.csv says
# which rows were reversed, e.g. lower scores are better, and why in its 'conversion' column).
y0 <- rep(NA_real_, k); v0 <- rep(NA_real_, k)
route <- dat$route
z95 <- qnorm(0.975)  # reported intervals are 95% intervals
put <- function(i, es) { y0[i] <<- as.numeric(es$yi); v0[i] <<- as.numeric(es$vi) }
i <- which(route == "arm_continuous")
if (length(i)) put(i, escalc("SMD", m1i = mean_ps, sd1i = sd_ps, n1i = n_ps, m2i = mean_ctl, sd2i = sd_ctl,
                             n2i = n_ctl, data = dat[i, ]))
i <- which(route == "arm_binary")
if (length(i)) {
  # On an SMD analysis, binary results are log odds ratios times sqrt(3)/pi (Chinn 2000): escalc's OR2DL.
  binary <- switch(EFFECT_MEASURE, SMD = "OR2DL", logRR = "RR", logOR = "OR")
  put(i, escalc(binary, ai = events_ps, n1i = n_ps, ci = events_ctl, n2i = n_ctl, data = dat[i, ]))
}
i <- which(route == "reported_smd")
if (length(i)) put(i, list(yi = dat$reported_effect[i],
                           vi = ((dat$reported_ci_high[i] - dat$reported_ci_low[i]) / (2 * z95))^2))
i <- which(route %in% c("reported_or", "reported_rr"))
if (length(i)) {
  yl <- log(dat$reported_effect[i])
  vl <- ((log(dat$reported_ci_high[i]) - log(dat$reported_ci_low[i])) / (2 * z95))^2
  chinn <- if (EFFECT_MEASURE == "SMD") sqrt(3) / pi else 1
  put(i, list(yi = yl * chinn, vi = vl * chinn^2))
}
i <- which(route == "reported_md")
if (length(i)) {
  # Pooled SD implied by the CI of the mean difference, t on n1 + n2 - 2 df (Cochrane Handbook 6.5.2.3).
  d <- dat[i, ]
  sdp <- (d$reported_ci_high - d$reported_ci_low) / (2 * qt(0.975, d$n_ps + d$n_ctl - 2)) /
    sqrt(1 / d$n_ps + 1 / d$n_ctl)
  put(i, escalc("SMD", m1i = d$reported_effect, sd1i = sdp, n1i = d$n_ps, m2i = rep(0, length(i)),
                sd2i = sdp, n2i = d$n_ctl))
}
yi <- dat$orientation * y0
off <- which(is.na(yi) | abs(yi - dat$yi) > 1e-9 * pmax(1, abs(dat$yi)) | abs(v0 - dat$vi) > 1e-9 * pmax(1, dat$vi))
if (length(off)) stop("escalc does not reproduce yi/vi of effects.csv for: ", paste(dat$study_id[off], collapse = ", "))
cat(sprintf("escalc reproduces yi and vi of all %d studies (max |difference| %.1e)\n\n", k,
            max(abs(yi - dat$yi), abs(v0 - dat$vi))))
dat$yi <- yi; dat$vi <- v0

# -- 2. The pooled result ----------------------------------------------------------------------------
fit_rma <- function(yi, vi) {
  test <- if (length(yi) == 1) "z" else TEST  # one study: its own normal interval, nothing pooled
  tryCatch(rma(yi, vi, method = METHOD, test = test, level = LEVEL, control = CTRL), error = function(e) {
    # metafor's own remedy (help(rma)) when Fisher scoring oscillates at this tight threshold
    if (!grepl("did not converge", conditionMessage(e))) stop(e)
    rma(yi, vi, method = METHOD, test = test, level = LEVEL, control = c(CTRL, list(stepadj = 0.5)))
  })
}
# With one study there is no heterogeneity to estimate: the dashboard shows tau^2 and I^2 as missing
# where metafor reports 0.
one <- function(f, x) if (f$k == 1) NA_real_ else x
fit <- fit_rma(dat$yi, dat$vi)
print(fit)
out <- list()
record <- function(section, position, study, values) {
  out[[length(out) + 1]] <<- data.frame(section = section, position = position, study_id = study,
                                        quantity = names(values),
                                        value = ifelse(is.na(unlist(values)), "",
                                                       sprintf("%.17g", unlist(values))))
}
pooled_values <- function(f) list(estimate = c(f$beta), se = f$se, ci_low = f$ci.lb, ci_high = f$ci.ub,
                                  p_value = f$pval, tau2 = one(f, f$tau2), i2 = one(f, f$I2), q = one(f, f$QE),
                                  k = f$k)
record("pooled", 0, "", pooled_values(fit))
if (k >= 3) {
  # Prediction interval as the dashboard shows it: t(k - 2) (Higgins, Thompson & Spiegelhalter 2009).
  half <- qt(1 - (1 - LEVEL / 100) / 2, df = k - 2) * sqrt(fit$tau2 + fit$se^2)
  record("pooled", 0, "", list(pi_low = c(fit$beta) - half, pi_high = c(fit$beta) + half))
}

# -- 3. Leave one out --------------------------------------------------------------------------------
if (k >= 2) {
  loo <- suppressWarnings(leave1out(fit))  # with k = 2 each refit has one study (metafor warns)
  print(loo)
  for (j in seq_len(k)) {
    if (is.na(loo$estimate[j])) {  # a refit that did not converge: once more with metafor's remedy
      f <- fit_rma(dat$yi[-j], dat$vi[-j])
      loo$estimate[j] <- c(f$beta); loo$ci.lb[j] <- f$ci.lb; loo$ci.ub[j] <- f$ci.ub
      loo$tau2[j] <- f$tau2; loo$I2[j] <- f$I2; loo$pval[j] <- f$pval
    }
    record("leave1out", j, dat$study_id[j], list(estimate = loo$estimate[j], ci_low = loo$ci.lb[j],
                                                 ci_high = loo$ci.ub[j], p_value = loo$pval[j],
                                                 tau2 = if (k == 2) NA else if (is.null(loo$tau2)) 0 else loo$tau2[j],
                                                 i2 = if (k == 2) NA else loo$I2[j]))
  }
}

# -- 4. Small-study effects: Egger's regression test and trim-and-fill --------------------------------
if (k >= 3) {
  eg <- regtest(dat$yi, vi = dat$vi, model = "lm", predictor = "sei", level = LEVEL)
  print(eg)
  cf <- coef(summary(eg$fit))
  record("egger", 0, "", list(intercept = cf[2, 1], se = cf[2, 2], t = eg$zval, df = eg$dfs,
                              p_value = eg$pval, limit_estimate = eg$est))
  tf <- trimfill(fit, control = CTRL, test = TEST)
  print(tf)
  record("trimfill", 0, "", c(list(k0 = tf$k0, right = as.numeric(tf$side == "right")), pooled_values(tf)))
}

results <- do.call(rbind, out)
write.csv(results, file.path(here, "results_R.csv"), row.names = FALSE)
cat(sprintf("\nWrote %s\n", file.path(here, "results_R.csv")))
