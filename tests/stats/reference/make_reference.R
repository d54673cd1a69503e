#!/usr/bin/env Rscript
# Reference values for tests/stats, computed with R's metafor.
#
# Run from the repository root:
#   Rscript tests/stats/reference/make_reference.R
# It writes tests/stats/reference/metafor_reference.json next to this script.
# Needs only R and metafor (Debian: apt-get install r-cran-metafor); the JSON
# writer below avoids any other package. The test suite reads the JSON and
# never needs R.
#
# Every CSV in tests/stats/reference/inputs/ (columns yi,vi; file stem = case
# name) is added as a data set "input:<stem>" and pooled under every method,
# with and without Knapp-Hartung.

suppressMessages(library(metafor))

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grepl("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "tests/stats/reference"
out_file <- file.path(here, "metafor_reference.json")
inputs_dir <- file.path(here, "inputs")

METHODS <- c("FE", "DL", "REML", "PM", "ML", "HE", "SJ")
TESTS <- c("z", "knha")
CTRL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
CI_CTRL <- list(tol = 1e-12, maxiter = 10000)
LEVEL <- 95

# ---------------------------------------------------------------- JSON writer
num <- function(x) {
  ifelse(is.na(x) | is.infinite(x), "null", sprintf("%.17g", x))
}
json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) && !is.null(names(x))) {
      keys <- gsub('"', '\\\\"', names(x))
      vals <- vapply(x, json, "")
      return(paste0("{", paste0('"', keys, '":', vals, collapse = ","), "}"))
    }
    return(paste0("[", paste(vapply(x, json, ""), collapse = ","), "]"))
  }
  if (is.factor(x)) x <- as.character(x)
  if (is.character(x)) {
    s <- ifelse(is.na(x), "null", paste0('"', gsub('"', '\\\\"', gsub("\\\\", "\\\\\\\\", x)), '"'))
  } else if (is.logical(x)) {
    s <- ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else {
    s <- num(as.numeric(x))
  }
  if (length(x) == 1L) return(s)
  paste0("[", paste(s, collapse = ","), "]")
}
vec <- function(x) as.list(x)  # always an array, even of length 1

safely <- function(expr) {
  tryCatch(suppressWarnings(expr), error = function(e) list(error = conditionMessage(e)))
}

# ---------------------------------------------------------------- data sets
datasets <- list()
add_dataset <- function(name, yi, vi, source, groups = NULL, order = NULL, mods = NULL, mod_names = NULL) {
  k <- length(yi)
  if (is.null(groups)) groups <- rep(c("a", "b"), length.out = k)
  if (is.null(order)) order <- seq_len(k)
  if (is.null(mods)) mods <- matrix(seq_len(k) %% 5 + 0.5 * (seq_len(k) %% 3), ncol = 1)
  mods <- as.matrix(mods)
  if (is.null(mod_names)) mod_names <- paste0("x", seq_len(ncol(mods)))
  datasets[[name]] <<- list(yi = yi, vi = vi, source = source, groups = as.character(groups),
                            order = order, mods = mods, mod_names = mod_names)
}

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add_dataset("bcg", bcg$yi, bcg$vi, "metafor dat.bcg (Colditz et al. 1994), log risk ratios via escalc",
            groups = dat.bcg$alloc, order = dat.bcg$year,
            mods = cbind(dat.bcg$ablat, dat.bcg$year), mod_names = c("ablat", "year"))

set.seed(20261121)
n_random <- 32
ks <- c(2L, 80L, sample(3:79, n_random - 2L, replace = TRUE))
taus <- c(0, 1, runif(n_random - 2L, 0, 1))
for (i in seq_len(n_random)) {
  k <- ks[i]
  vi <- runif(k, 0.005, 0.25)
  yi <- rnorm(k, mean = 0.3, sd = sqrt(vi + taus[i]^2))
  x <- round(runif(k, 0, 10), 1)
  grp <- sample(c("a", "b", "c"), k, replace = TRUE)
  yr <- sample(1990:2020, k, replace = TRUE)
  add_dataset(sprintf("random_%02d_k%d_tau%.2f", i, k, taus[i]), yi, vi,
              sprintf("simulated: set.seed(20261121), k = %d, tau = %.4f", k, taus[i]),
              groups = grp, order = yr, mods = matrix(x, ncol = 1))
}

add_dataset("homogeneous", c(0.20, 0.25, 0.18, 0.22, 0.21, 0.19), c(0.04, 0.05, 0.03, 0.06, 0.05, 0.04),
            "hand-made: Q well below df, tau2 on the 0 boundary")
add_dataset("equal_effects", rep(0.3, 5), c(0.02, 0.05, 0.04, 0.08, 0.03), "hand-made: all effects equal (Q = 0)")
add_dataset("dominant", c(0.5, 0.1, 0.3, 0.6, -0.1, 0.2), c(0.0005, 0.1, 0.08, 0.12, 0.09, 0.1),
            "hand-made: one study with a tiny variance")
add_dataset("k1", 0.4, 0.05, "hand-made: a single study")
add_dataset("k2", c(0.2, 0.6), c(0.04, 0.05), "hand-made: two studies")
add_dataset("k3", c(0.1, 0.9, 0.4), c(0.03, 0.06, 0.02), "hand-made: three studies")

zero <- data.frame(ai = c(0, 2, 5, 0, 3, 0, 12, 1), n1 = c(25, 40, 60, 30, 45, 20, 12, 50),
                   ci = c(1, 0, 7, 0, 4, 2, 10, 6), n2 = c(25, 38, 62, 31, 44, 22, 11, 48))
zero_or <- escalc(measure = "OR", ai = ai, n1i = n1, ci = ci, n2i = n2, data = zero, drop00 = TRUE)
zero_rr <- escalc(measure = "RR", ai = ai, n1i = n1, ci = ci, n2i = n2, data = zero, drop00 = TRUE)
keep <- !is.na(zero_or$yi)
add_dataset("zero_events_or", zero_or$yi[keep], zero_or$vi[keep],
            "hand-made 2x2 tables with zero cells, log odds ratios (escalc drop00 = TRUE, NA rows dropped)")
add_dataset("zero_events_rr", zero_rr$yi[keep], zero_rr$vi[keep],
            "hand-made 2x2 tables with zero cells, log risk ratios (escalc drop00 = TRUE, NA rows dropped)")

if (dir.exists(inputs_dir)) {
  for (f in sort(list.files(inputs_dir, pattern = "\\.csv$", full.names = TRUE))) {
    d <- read.csv(f)
    if (!all(c("yi", "vi") %in% names(d))) stop("input file ", f, " needs columns yi and vi")
    add_dataset(paste0("input:", sub("\\.csv$", "", basename(f))), d$yi, d$vi,
                paste0("tests/stats/reference/inputs/", basename(f)))
  }
}

# ---------------------------------------------------------------- extractors
fit_rma <- function(d, method, test, subset = NULL, mods = NULL) {
  yi <- d$yi; vi <- d$vi
  if (!is.null(subset)) { yi <- yi[subset]; vi <- vi[subset] }
  fit <- function(control) {
    if (is.null(mods)) rma(yi, vi, method = method, test = test, control = control, level = LEVEL)
    else rma(yi, vi, mods = mods, method = method, test = test, control = control, level = LEVEL)
  }
  tryCatch(fit(CTRL), error = function(e) {
    # metafor's own remedy (help(rma)) when Fisher scoring oscillates at this tight threshold.
    if (!grepl("did not converge", conditionMessage(e))) stop(e)
    fit(c(CTRL, list(stepadj = 0.5)))
  })
}

pooled_record <- function(res) {
  k <- res$k
  out <- list(k = k, estimate = c(res$beta), se = res$se, ci_low = res$ci.lb, ci_high = res$ci.ub,
              p_value = res$pval, tau2 = res$tau2, i2 = res$I2, h2 = res$H2, q = res$QE,
              q_df = k - 1, q_p = res$QEp)
  if (!(res$method %in% c("FE", "EE", "CE")) && k > 1) {
    ci <- safely(confint(res, control = CI_CTRL))
    if (!is.null(ci$error)) {
      out$confint_error <- ci$error
    } else {
      out$tau2_ci <- vec(unname(ci$random["tau^2", c("ci.lb", "ci.ub")]))
      out$i2_ci <- vec(unname(ci$random["I^2(%)", c("ci.lb", "ci.ub")]))
    }
  }
  p <- predict(res, level = LEVEL)
  out$metafor_pi <- vec(c(p$pi.lb, p$pi.ub))
  # Higgins, Thompson & Spiegelhalter (2009) interval with t(k - 2), from this fit.
  if (k >= 3) {
    half <- qt(1 - (1 - LEVEL / 100) / 2, df = k - 2) * sqrt(res$tau2 + res$se^2)
    out$pi <- vec(c(c(res$beta) - half, c(res$beta) + half))
  }
  out
}

records <- list()
add <- function(kind, dataset, method, test, value) {
  id <- paste(kind, dataset, method, test, sep = "|")
  records[[id]] <<- list(kind = kind, dataset = dataset, method = method, hartung_knapp = (test == "knha"),
                         value = value)
}

# leave1out()/cumul() leave NA where a refit fails (metafor's Fisher scoring can oscillate at
# threshold 1e-12); refit those subsets with fit_rma(), which retries with stepadj = 0.5.
refill <- function(x, d, method, test, subsets) {
  for (i in which(is.na(x$estimate))) {
    f <- fit_rma(d, method, test, subset = subsets[[i]])
    x$estimate[i] <- c(f$beta); x$se[i] <- f$se; x$ci.lb[i] <- f$ci.lb; x$ci.ub[i] <- f$ci.ub
    x$pval[i] <- f$pval; x$Q[i] <- f$QE; x$Qp[i] <- f$QEp; x$I2[i] <- f$I2; x$H2[i] <- f$H2
    if (!is.null(x$tau2)) x$tau2[i] <- f$tau2
  }
  x
}

series <- function(x) list(estimate = vec(x$estimate), se = vec(x$se), ci_low = vec(x$ci.lb),
                           ci_high = vec(x$ci.ub), p_value = vec(x$pval), q = vec(x$Q), q_p = vec(x$Qp),
                           tau2 = vec(x$tau2), i2 = vec(x$I2), h2 = vec(x$H2))

for (name in names(datasets)) {
  d <- datasets[[name]]
  k <- length(d$yi)
  is_input <- startsWith(name, "input:")
  cat(sprintf("%-28s k = %d\n", name, k))
  for (method in METHODS) {
    for (test in TESTS) {
      res <- safely(fit_rma(d, method, test))
      if (!is.null(res$error)) { add("pool", name, method, test, res); next }
      add("pool", name, method, test, safely(pooled_record(res)))
      if (is_input || k < 2) next

      add("leave1out", name, method, test, safely(series(refill(leave1out(res), d, method, test,
                                                                  lapply(seq_len(k), function(i) -i)))))
      add("influence", name, method, test, safely({
        inf <- influence(res)
        list(rstudent = vec(inf$inf$rstudent), dffits = vec(inf$inf$dffits), cook_d = vec(inf$inf$cook.d),
             cov_r = vec(inf$inf$cov.r), tau2_del = vec(inf$inf$tau2.del), q_del = vec(inf$inf$QE.del),
             hat = vec(inf$inf$hat), weight = vec(inf$inf$weight), dfbetas = vec(inf$dfbs$intrcpt),
             is_influential = vec(inf$is.infl))
      }))
      add("cumul", name, method, test, safely({
        ord <- order(d$order)
        cm <- refill(cumul(res, order = d$order), d, method, test, lapply(seq_len(k), function(i) ord[seq_len(i)]))
        c(series(cm), list(order = vec(ord - 1L)))
      }))
      add("subgroups", name, method, test, safely({
        labels <- unique(d$groups)
        fits <- lapply(labels, function(g) fit_rma(d, method, test, subset = d$groups == g))
        est <- vapply(fits, function(f) c(f$beta), 0)
        se <- vapply(fits, function(f) f$se, 0)
        between <- if (length(labels) > 1) rma(est, sei = se, method = "FE") else NULL
        list(groups = vec(labels), estimate = vec(est), se = vec(se),
             tau2 = vec(vapply(fits, function(f) f$tau2, 0)), k = vec(vapply(fits, function(f) f$k, 0)),
             ci_low = vec(vapply(fits, function(f) f$ci.lb, 0)), ci_high = vec(vapply(fits, function(f) f$ci.ub, 0)),
             q_between = if (is.null(between)) NA else between$QE,
             df_between = length(labels) - 1,
             p_between = if (is.null(between)) NA else between$QEp)
      }))
      # All effects equal: residuals are 0 and regression slopes, Egger's t and trim-and-fill ranks
      # are rounding noise in any program, so these cells are left out (tested in test_edge_cases.py).
      if (k >= 3 && name != "equal_effects") {
        add("metareg", name, method, test, safely({
          m <- fit_rma(d, method, test, mods = d$mods)
          list(coefficients = vec(c(m$beta)), se = vec(m$se), ci_low = vec(m$ci.lb), ci_high = vec(m$ci.ub),
               statistic = vec(m$zval), p_values = vec(m$pval), qm = m$QM, qm_df = vec(na.omit(m$QMdf)),
               qm_p = m$QMp, tau2 = m$tau2, i2 = m$I2, h2 = m$H2, qe = m$QE, qe_df = m$k - m$p,
               qe_p = m$QEp, r2 = if (is.null(m$R2)) NA else m$R2)
        }))
        add("trimfill", name, method, test, safely({
          tf <- trimfill(res, control = CTRL, test = test)
          list(k0 = tf$k0, se_k0 = tf$se.k0, side = tf$side, estimate = c(tf$beta), se = tf$se,
               ci_low = tf$ci.lb, ci_high = tf$ci.ub, tau2 = tf$tau2, k = tf$k,
               filled_yi = vec(tf$yi[tf$fill]), filled_vi = vec(tf$vi[tf$fill]))
        }))
      }
    }
  }
  if (!is_input && k >= 3 && name != "equal_effects") {
    add("regtest", name, "none", "lm", safely({
      rt <- regtest(d$yi, vi = d$vi, model = "lm", predictor = "sei", level = LEVEL)
      cf <- coef(summary(rt$fit))
      list(intercept = cf[2, 1], se = cf[2, 2], t = rt$zval, df = rt$dfs, p_value = rt$pval,
           limit_estimate = rt$est, limit_ci_low = rt$ci.lb, limit_ci_high = rt$ci.ub)
    }))
  }
}

# ---------------------------------------------------------------- effect sizes
set.seed(7)
nc <- 12
cont <- data.frame(m1 = round(rnorm(nc, 20, 5), 2), sd1 = round(runif(nc, 2, 9), 2), n1 = sample(c(2, 3, 5, 10:200), nc),
                   m2 = round(rnorm(nc, 22, 5), 2), sd2 = round(runif(nc, 2, 9), 2), n2 = sample(c(2, 4, 10:200), nc))
smd <- escalc(measure = "SMD", m1i = m1, sd1i = sd1, n1i = n1, m2i = m2, sd2i = sd2, n2i = n2, data = cont)
md <- escalc(measure = "MD", m1i = m1, sd1i = sd1, n1i = n1, m2i = m2, sd2i = sd2, n2i = n2, data = cont)
bin <- rbind(zero, data.frame(ai = c(20, 30, 0, 7), n1 = c(20, 30, 15, 7), ci = c(15, 30, 0, 3), n2 = c(18, 30, 15, 9)))
bin_or <- escalc(measure = "OR", ai = ai, n1i = n1, ci = ci, n2i = n2, data = bin, drop00 = TRUE)
bin_rr <- escalc(measure = "RR", ai = ai, n1i = n1, ci = ci, n2i = n2, data = bin, drop00 = TRUE)
bin_d <- escalc(measure = "OR2DL", ai = ai, n1i = n1, ci = ci, n2i = n2, data = bin, drop00 = TRUE)
bcg_counts <- list(e1 = vec(dat.bcg$tpos), n1 = vec(dat.bcg$tpos + dat.bcg$tneg),
                   e2 = vec(dat.bcg$cpos), n2 = vec(dat.bcg$cpos + dat.bcg$cneg),
                   yi = vec(bcg$yi), vi = vec(bcg$vi))
effect_sizes <- list(
  continuous = list(m1 = vec(cont$m1), sd1 = vec(cont$sd1), n1 = vec(cont$n1), m2 = vec(cont$m2),
                    sd2 = vec(cont$sd2), n2 = vec(cont$n2), smd_yi = vec(smd$yi), smd_vi = vec(smd$vi),
                    md_yi = vec(md$yi), md_vi = vec(md$vi)),
  binary = list(e1 = vec(bin$ai), n1 = vec(bin$n1), e2 = vec(bin$ci), n2 = vec(bin$n2),
                or_yi = vec(bin_or$yi), or_vi = vec(bin_or$vi), rr_yi = vec(bin_rr$yi), rr_vi = vec(bin_rr$vi),
                or2dl_yi = vec(bin_d$yi), or2dl_vi = vec(bin_d$vi)),
  bcg = bcg_counts)

out <- list(
  meta = list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
              generated = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
              control = CTRL, confint_control = CI_CTRL, level = LEVEL / 100,
              methods = vec(METHODS), script = "tests/stats/reference/make_reference.R"),
  datasets = lapply(datasets, function(d) list(yi = vec(d$yi), vi = vec(d$vi), source = d$source,
                                               groups = vec(d$groups), order = vec(d$order),
                                               mods = lapply(seq_len(nrow(d$mods)), function(i) vec(d$mods[i, ])),
                                               mod_names = vec(d$mod_names))),
  effect_sizes = effect_sizes,
  records = unname(lapply(names(records), function(id) c(list(id = id), records[[id]]))))
writeLines(json(out), out_file)
cat("wrote", out_file, "with", length(records), "records\n")
