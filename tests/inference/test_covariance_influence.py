"""HC2/HC3, two-way clustering, influence measures and profile intervals against R (issue 17).

The numbers below are printed by ``tests/reference/inf_sandwich.R`` (R 4.2.2, sandwich 3.0.2,
MASS 7.3-58.2), which also writes the data, ``tests/reference/inf_data.csv``; statsmodels'
GLMInfluence is a second oracle for the influence measures.
"""

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, stats

from torchlogit import LogisticRegression

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

DATA = Path(__file__).resolve().parents[1] / "reference" / "inf_data.csv"
ROWS = [0, 6, 41, 98, 119]  # R's rows 1, 7, 42, 99, 120
RTOL = 1e-6

# ---- printed by tests/reference/inf_sandwich.R (pasted unchanged)
# coefficients, then covariances flattened row by row (const, x1, x2, d, cnt)
COEF = np.array([
    0.214822130202682, 0.54940300534088, -1.01763700953743, 0.910289207023826, 0.370079743046527,
])
HC2 = np.array([
    0.339106654858118, -0.00607379882451881, -0.138593438030573, -0.105570241936795,
    -0.0543291895981871, -0.00607379882451883, 0.0543725227871826, -0.0246922734302559,
    0.00374170606282972, 0.014078652919991, -0.138593438030573, -0.0246922734302559,
    0.148985365106189, -0.00702764945001715, -0.0133674147906251, -0.105570241936795,
    0.00374170606282972, -0.00702764945001712, 0.179703270015961, 0.0188439118672516,
    -0.054329189598187, 0.014078652919991, -0.0133674147906251, 0.0188439118672516,
    0.0341103864851901,
])
HC3 = np.array([
    0.356869896261316, -0.00721112062086703, -0.145804216439613, -0.110337059244971,
    -0.0577187689858912, -0.00721112062086704, 0.0574095438013758, -0.0252223105077179,
    0.00343382377938702, 0.014849756689164, -0.145804216439613, -0.0252223105077179,
    0.156003452525093, -0.00700509661121936, -0.0136758256860402, -0.11033705924497,
    0.00343382377938701, -0.00700509661121932, 0.187467955138586, 0.0195303326727178,
    -0.0577187689858912, 0.014849756689164, -0.0136758256860402, 0.0195303326727178,
    0.0361312511376142,
])
CL_A = np.array([
    0.660332894222612, -0.0214432361752529, -0.471323969766647, -0.0526239564103696,
    -0.0670579495473086, -0.0214432361752529, 0.0302648944939303, 0.00712594444420496,
    -0.00833428560784773, 0.00626236041925978, -0.471323969766647, 0.00712594444420495,
    0.361947487840568, 0.00294470424958835, 0.0468908314650555, -0.0526239564103696,
    -0.00833428560784773, 0.00294470424958834, 0.18079277430017, -0.0254995459580546,
    -0.0670579495473087, 0.00626236041925978, 0.0468908314650555, -0.0254995459580545,
    0.0226745477963289,
])
CL_AB = np.array([
    0.597306953319555, -0.0955131242926174, -0.478433794785354, 0.0267845984467451,
    -0.0591753226517724, -0.0955131242926174, 0.01044618912221, 0.0963024137236059,
    -0.0548165300826677, 0.00134088598495197, -0.478433794785354, 0.0963024137236059,
    0.336203802194167, -0.0397804296842034, 0.083747934150328, 0.026784598446745,
    -0.0548165300826677, -0.0397804296842034, 0.217338155521701, -0.022875408567107,
    -0.0591753226517726, 0.00134088598495198, 0.083747934150328, -0.022875408567107,
    0.00224861965302039,
])
# influence measures at rows (1-based) 1 7 42 99 120 then the sum of squares over all rows
HAT = np.array([
    0.0329520575481246, 0.0349852404101242, 0.0478332386172289, 0.0641509160147926,
    0.0231661249931756,
])
HAT_SS = np.array([
    0.247842730125121,
])
COOK = np.array([
    0.103610179111965, 0.00347566417828806, 0.0365792985702611, 0.00424650937582335,
    0.00959093980647343,
])
COOK_SS = np.array([
    0.0312934455719244,
])
PEARSON = np.array([
    3.83436057816059, 0.680135479550728, -1.86187625173158, -0.538400475008364, -1.40543122770085,
])
PEARSON_SS = np.array([
    125.163384608633,
])
DEVIANCE = np.array([
    2.34683128434219, 0.872014815640692, -1.73010041693791, -0.713505949347474, -1.47670151222983,
])
DEVIANCE_SS = np.array([
    143.488136461468,
])
RSTANDARD_P = np.array([
    3.899141071568, 0.692354393862585, -1.90807000344027, -0.556547869492577, -1.42199884327566,
])
RSTANDARD_P_SS = np.array([
    130.626878688687,
])
RSTANDARD_D = np.array([
    2.38648036935771, 0.887680921337783, -1.77302476758517, -0.737555471089519, -1.49410928181054,
])
RSTANDARD_D_SS = np.array([
    149.850397685022,
])
RSTUDENT = np.array([
    2.451243996383, 0.881578229571261, -1.77971779053738, -0.727297187744964, -1.49247818433049,
])
RSTUDENT_SS = np.array([
    148.951630541522,
])
DFBETA = np.array([
    0.0578791146048019, -0.0670627055227333, 0.0732061272451641, -0.0693361675954006,
    -0.0503756483808178, 0.0461268078039388, 0.00779733220206005, -0.0199595500064971,
    0.0309653821148459, -0.0134730487792483, -0.108806122323597, -0.0150051917725409,
    0.111474687546953, 0.0294829841987186, -0.0352888968644973, -0.0396362934840249,
    0.0336831270178842, 0.00707103892262434, 0.0218221601283756, 0.00498626473938901,
    -0.0369742868645812, 0.00075759169832794, 0.0266760339783967, -0.0640135833424299,
    0.00469588437651924,
])
DFBETA_SS = np.array([
    0.439255451683815, 0.0577802895345602, 0.178182770751001, 0.227238269613848, 0.0404899431497263,
])
DFBETAS = np.array([
    0.0964975802041484, -0.301617738380335, 0.181379799630949, -0.150844105498605,
    -0.254774781221246, 0.0755699359263809, 0.0344606096190117, -0.0485951962931268,
    0.0661981821946292, -0.0669580473384216, -0.179747759607577, -0.0668702532693959,
    0.273673885454827, 0.063555854089797, -0.176843653967859, -0.0648810286615866,
    0.148736774514518, 0.0172010461299504, 0.0466118560177859, 0.0247594657136388,
    -0.0608841972212587, 0.00336528034950415, 0.0652789230573367, -0.137546924169476,
    0.0234565111576012,
])
# prior weights w
W_HAT = np.array([
    0.0617207142151635, 0.0485969300289427, 0.0446650764140728, 0.0348173609364685,
    0.0106109559974177,
])
W_COOK = np.array([
    0.461698013730555, 0.017012444664172, 0.0714296939972454, 0.00290460316623486,
    0.00400823379831373,
])
W_PEARSON = np.array([
    5.73826581598164, 1.25871815432596, -2.70144425747131, -0.623361508914576, -1.35972588473269,
])
W_DEVIANCE = np.array([
    3.85971201986435, 1.59506872579111, -2.47921822212198, -0.810285546140375, -1.44700862278431,
])
W_DFBETA = np.array([
    0.107849319255425, -0.103707104128427, 0.116287488483734, -0.125853469696178,
    -0.0861849999613348, 0.0711938023340336, 0.0118411163496459, -0.0301836042675718,
    0.0414584952318038, -0.0209375312564373, -0.0980994153243429, -0.015530280709884,
    0.102363481921053, 0.0268240175450046, -0.0357154361808281, -0.0219824526342374,
    0.0187589364531474, 0.00382700873943503, 0.0119529648137301, 0.00284187557511883,
    -0.0137124172380778, 0.00059091751719392, 0.0118728958188725, -0.0295312278027402,
    0.000855169070466248,
])
# 95% intervals: MASS's profile (spline-interpolated) and the exact likelihood-ratio roots
CONFINT_MASS = np.array([
    -0.857381432491184, 1.29721669178996, 0.168550569551428, 0.967579072154493, -1.76651066432943,
    -0.318822001585985, 0.103627768131841, 1.75047102778092, 0.0319516485028122, 0.743384196897454,
])
CONFINT_EXACT = np.array([
    -0.857352737662513, 1.29717364719406, 0.168545079669007, 0.967568730692924, -1.76649241715774,
    -0.318807161519701, 0.103619501094403, 1.75043651697412, 0.0319495125314069, 0.743370399568624,
])
# ---- end of the R output


@pytest.fixture(scope="module")
def table():
    data = np.genfromtxt(DATA, delimiter=",", names=True)
    X = np.column_stack([data["x1"], data["x2"], data["d"], data["cnt"]])
    return X, data["y"].astype(int), data


@pytest.fixture(scope="module")
def fitted(table):
    X, y, _ = table
    return LogisticRegression(C=np.inf, tol=1e-12).fit(X, y)


def _square(flat):
    return np.asarray(flat).reshape(5, 5)


def test_coefficients_match_r(fitted, table):
    X, y, _ = table
    assert_allclose(fitted.summary(X, y).params, COEF, rtol=0, atol=1e-8)


@pytest.mark.parametrize("cov_type", ["HC2", "HC3"])
def test_hc2_hc3_match_r_vcovhc(fitted, table, cov_type):
    X, y, _ = table
    res = fitted.summary(X, y, cov_type=cov_type)
    assert res.cov_type == cov_type and cov_type in res.notes[-1]
    assert_allclose(res.cov_params(), _square(HC2 if cov_type == "HC2" else HC3), rtol=RTOL)


def test_hc3_with_frequency_weights_equals_repeated_rows(table):
    X, y, data = table
    counts = data["w"].astype(int)
    weighted = LogisticRegression(C=np.inf, tol=1e-12).fit(X, y, sample_weight=counts)
    Xr, yr = np.repeat(X, counts, 0), np.repeat(y, counts)
    repeated = LogisticRegression(C=np.inf, tol=1e-12).fit(Xr, yr)
    assert_allclose(weighted.summary(X, y, counts, cov_type="HC3").bse,
                    repeated.summary(Xr, yr, cov_type="HC3").bse, rtol=1e-7)


def test_one_and_two_way_clustering_match_r_vcovcl(fitted, table):
    X, y, data = table
    one = fitted.summary(X, y, cov_type="cluster", groups=data["ga"])
    assert_allclose(one.cov_params(), _square(CL_A), rtol=RTOL)
    two = fitted.summary(X, y, cov_type="cluster", groups=np.column_stack([data["ga"], data["gb"]]))
    assert_allclose(two.cov_params(), _square(CL_AB), rtol=RTOL)
    assert two.n_groups == (10, 6) and "10 × 6" in str(two.summary()) and "two-way" in two.notes[-1]


def test_a_negative_two_way_variance_gives_a_nan_standard_error_as_r(fitted, table):
    # V_A + V_B - V_AB need not be positive semi-definite; R's sqrt(diag(vcovCL(...))) is then NaN
    X, y, _ = table
    rng = np.random.default_rng(0)
    for _ in range(50):
        groups = np.column_stack([rng.integers(0, 4, len(y)), rng.integers(0, 3, len(y))])
        res = fitted.summary(X, y, cov_type="cluster", groups=groups)
        negative = np.diag(np.asarray(res.cov_params())) < 0
        if negative.any():
            break
    assert negative.any() and not negative.all()
    bse = np.asarray(res.bse)
    assert np.isnan(bse[negative]).all() and np.isfinite(bse[~negative]).all()
    assert np.isnan(np.asarray(res.pvalues)[negative]).all()


def test_hc1_statsmodels_equals_statsmodels_logit_hc1_on_spector():
    spector = sm.datasets.spector.load_pandas()
    X, y = spector.exog, spector.endog
    est = LogisticRegression(C=np.inf, tol=1e-12).fit(X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="HC1")
    ours = est.summary(X, y, cov_type="HC1-statsmodels")
    assert_allclose(ours.bse, ref.bse, rtol=RTOL)
    assert ours.bse.index.tolist() == ref.bse.index.tolist() == ["const", "GPA", "TUCE", "PSI"]
    assert_allclose(ours.params["GPA"], ref.params["GPA"], atol=1e-8)
    n, k = 32, 4  # ours/R's/Stata's HC1 = statsmodels' × sqrt(n / (n - k)): the 1.069 of issue 18
    assert_allclose(est.summary(X, y, cov_type="HC1").bse / ref.bse, np.sqrt(n / (n - k)), rtol=RTOL)
    assert "no small-sample factor" in ours.notes[-1] and "statsmodels" in ours.notes[-1]


def test_influence_matches_r(fitted, table):
    X, y, _ = table
    infl = fitted.summary(X, y).get_influence()
    for name, ours in [("HAT", infl.hat_matrix_diag), ("COOK", infl.cooks_distance),
                       ("PEARSON", infl.resid_pearson), ("DEVIANCE", infl.resid_deviance),
                       ("RSTANDARD_P", infl.resid_studentized),
                       ("RSTANDARD_D", infl.resid_studentized_deviance), ("RSTUDENT", infl.resid_likelihood)]:
        assert_allclose(ours[ROWS], globals()[name], rtol=RTOL, err_msg=name)
        assert_allclose(np.sum(ours ** 2), globals()[name + "_SS"], rtol=RTOL, err_msg=name)
    # R's dfbeta puts the deviance residual where the one-step change (ours, statsmodels') has the
    # Pearson residual (lm.influence reads weighted.residuals): a factor r_D / r_P per row
    to_r = (infl.resid_deviance / infl.resid_pearson)[:, None]
    assert_allclose((infl.d_params * to_r)[ROWS].ravel(), DFBETA, rtol=RTOL, atol=1e-12)
    assert_allclose(((infl.d_params * to_r) ** 2).sum(0), DFBETA_SS, rtol=RTOL)
    assert not np.allclose(infl.d_params[ROWS].ravel(), DFBETA, rtol=0.1)
    # R's dfbetas also divide by a leave-one-out sigma_i: the same factor across a row's parameters
    ratio = DFBETAS.reshape(5, 5) / infl.dfbetas[ROWS]
    assert_allclose(ratio, ratio[:, :1] * np.ones((1, 5)), rtol=RTOL)
    assert not np.allclose(ratio, 1.0)


def test_influence_with_prior_weights_matches_r(table):
    X, y, data = table
    est = LogisticRegression(C=np.inf, tol=1e-12).fit(X, y, sample_weight=data["w"])
    infl = est.summary(X, y, data["w"]).get_influence()
    assert_allclose(infl.hat_matrix_diag[ROWS], W_HAT, rtol=RTOL)
    assert_allclose(infl.cooks_distance[ROWS], W_COOK, rtol=RTOL)
    assert_allclose(infl.resid_pearson[ROWS], W_PEARSON, rtol=RTOL)
    assert_allclose(infl.resid_deviance[ROWS], W_DEVIANCE, rtol=RTOL)
    to_r = (infl.resid_deviance / infl.resid_pearson)[:, None]  # as in test_influence_matches_r
    assert_allclose((infl.d_params * to_r)[ROWS].ravel(), W_DFBETA, rtol=RTOL, atol=1e-12)


def test_influence_matches_statsmodels_glm_influence(fitted, table):
    X, y, _ = table
    res = fitted.summary(X, y, xname=["x1", "x2", "d", "cnt"])
    infl = res.get_influence()
    exog = sm.add_constant(pd.DataFrame(X, columns=["x1", "x2", "d", "cnt"]))
    ref = sm.GLM(y, exog, family=sm.families.Binomial()).fit(tol=1e-13).get_influence()
    assert_allclose(infl.hat_matrix_diag, ref.hat_matrix_diag, rtol=RTOL)
    assert_allclose(infl.cooks_distance, ref.cooks_distance[0], rtol=RTOL)
    assert_allclose(infl.resid_studentized, ref.resid_studentized, rtol=RTOL)
    assert_allclose(infl.dfbetas, ref.dfbetas, rtol=RTOL, atol=1e-10)
    frame, ref_frame = infl.summary_frame(), ref.summary_frame()
    assert list(frame.columns) == ["dfb_const", "dfb_x1", "dfb_x2", "dfb_d", "dfb_cnt", "cooks_d",
                                   "standard_resid", "hat_diag", "dffits_internal"]
    assert list(ref_frame.columns) == list(frame.columns)
    assert_allclose(frame.to_numpy(), ref_frame.to_numpy(), rtol=RTOL, atol=1e-10)


def test_influence_in_small_blocks_equals_one_block(fitted, table):
    from dataclasses import replace

    from torchlogit.inference.influence import LogitInfluence

    X, y, _ = table
    res = fitted.summary(X, y)
    data = res._data
    blocks = replace(data, layout=replace(data.layout, block_rows=7))
    small = LogitInfluence(blocks, res.exog_names)
    assert_allclose(small.dfbetas, res.get_influence().dfbetas, rtol=1e-12)
    assert_allclose(small.cooks_distance, res.get_influence().cooks_distance, rtol=1e-12)


def test_profile_intervals_match_r(fitted, table):
    X, y, _ = table
    res = fitted.summary(X, y)
    ci = res.conf_int(method="profile")
    assert_allclose(ci, CONFINT_EXACT.reshape(5, 2), rtol=1e-7)  # R's uniroot on the deviance
    assert_allclose(ci, CONFINT_MASS.reshape(5, 2), rtol=1e-4)  # MASS interpolates a spline
    assert not np.allclose(ci, res.conf_int(), rtol=1e-3)  # not the Wald intervals
    assert_allclose(res.conf_int(method="wald"), res.conf_int())


def _multinomial_loglik(theta, Xt, y):
    scores = np.column_stack([np.zeros(len(y)), Xt @ theta.reshape(2, -1).T])
    return np.sum(scores[np.arange(len(y)), y] - np.logaddexp.reduce(scores, axis=1))


def test_multinomial_profile_ends_have_the_chi2_drop(table):
    X, _, data = table
    y3 = data["y3"].astype(int)
    res = LogisticRegression(C=np.inf, tol=1e-12).fit(X, y3).summary(X, y3)
    ci = res.conf_int(method="profile")  # (K-1, p, 2)
    Xt = np.column_stack([np.ones(len(y3)), X])  # const first, as params
    theta = res.params.ravel("F")
    for j, (eq, term) in [(1, (0, 1)), (8, (1, 3))]:  # x1 of equation 1, d of equation 2
        for b in ci[eq, term]:
            def negative(free, b=b, j=j):
                return -_multinomial_loglik(np.insert(free, j, b), Xt, y3)

            best = optimize.minimize(negative, np.delete(theta, j), method="BFGS", options={"gtol": 1e-9})
            assert_allclose(2 * (res.llf + best.fun), stats.chi2.ppf(0.95, 1), rtol=1e-6)


def test_bad_input_is_refused_with_the_problem_named(fitted, table):
    X, y, data = table
    penalised = LogisticRegression(C=1.0).fit(X, y).summary(X, y, allow_penalized=True)
    with pytest.raises(ValueError, match=r"get_influence.*penalised"):
        penalised.get_influence()
    with pytest.raises(ValueError, match=r"profile.*penalised"):
        penalised.conf_int(method="profile")
    with pytest.raises(ValueError, match=r"HC2.*penalised"):
        LogisticRegression(C=1.0).fit(X, y).summary(X, y, allow_penalized=True, cov_type="HC2")
    with pytest.raises(ValueError, match=r"groups must have shape \(n,\) or \(n, 2\)"):
        fitted.summary(X, y, cov_type="cluster", groups=np.ones((len(y), 3)))
    with pytest.raises(ValueError, match="groups has 3 entries"):
        fitted.summary(X, y, cov_type="cluster", groups=[1, 2, 3])
    with pytest.raises(ValueError, match="cov_type must be one of"):
        fitted.summary(X, y, cov_type="HC4")
    with pytest.raises(ValueError, match="conf_int method"):
        fitted.summary(X, y).conf_int(method="bootstrap")
    y3 = data["y3"].astype(int)
    multinomial = LogisticRegression(C=np.inf).fit(X, y3)
    with pytest.raises(ValueError, match=r"HC3.*two classes"):
        multinomial.summary(X, y3, cov_type="HC3")
    with pytest.raises(ValueError, match=r"get_influence.*two classes"):
        multinomial.summary(X, y3).get_influence()
