"""Reference value for bqx_online::champion::hac_interval (Newey–West, Bartlett kernel).

Run from a throwaway virtualenv with statsmodels:  python gen_hac.py
"""
import numpy as np
import statsmodels.api as sm

d = np.array([0.3, -0.1, 0.4, 0.2, -0.5, 0.9, 0.1, 0.0, -0.2, 0.6, 0.35, -0.05, 0.15, 0.8, -0.4, 0.25])
fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="HAC", cov_kwds={"maxlags": 3, "use_correction": False})
print(f"mean {fit.params[0]!r}")
print(f"se {fit.bse[0]!r}")
