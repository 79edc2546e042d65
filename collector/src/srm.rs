//! Sample ratio mismatch (SRM): Pearson's chi-square goodness of fit of the exposures observed
//! per variation against the split the traffic allocation promises, and its p-value.
//!
//! χ² = Σ (O_i − E_i)² / E_i with E_i = N · w_i / Σ w, df = k − 1, p = P(χ²_df ≥ χ²) (the upper
//! tail, scipy's `chi2.sf`). The tail is the regularized upper incomplete gamma function
//! Q(df/2, χ²/2), computed by its power series or its continued fraction (Numerical Recipes
//! §6.2), which is accurate for every df, including p far below 1e-80.

/// One chi-square goodness-of-fit test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChiSquare {
    pub chi2: f64,
    pub df: usize,
    pub p_value: f64,
}

/// The test of `observed` counts against `weights` (same length, at least two, each weight
/// positive and finite). None when it cannot be computed: fewer than two arms, a weight that is
/// not positive, or no observations.
pub fn chi_square(observed: &[u64], weights: &[f64]) -> Option<ChiSquare> {
    let k = observed.len();
    if k < 2 || weights.len() != k || weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
        return None;
    }
    let n: f64 = observed.iter().map(|&o| o as f64).sum();
    if n <= 0.0 {
        return None;
    }
    let total_weight: f64 = weights.iter().sum();
    let chi2 = observed
        .iter()
        .zip(weights)
        .map(|(&o, w)| {
            let expected = n * w / total_weight;
            let d = o as f64 - expected;
            d * d / expected
        })
        .sum();
    let df = k - 1;
    Some(ChiSquare {
        chi2,
        df,
        p_value: chi2_survival(chi2, df),
    })
}

/// P(X ≥ x) for X ~ χ²(df), df ≥ 1.
pub fn chi2_survival(x: f64, df: usize) -> f64 {
    gamma_q(df as f64 / 2.0, x / 2.0)
}

const EPS: f64 = 1e-16;
const MAX_ITER: usize = 10_000;

/// Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), a > 0.
fn gamma_q(a: f64, x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    if x < a + 1.0 {
        1.0 - gamma_p_series(a, x)
    } else {
        gamma_q_continued_fraction(a, x)
    }
}

/// e^(−x + a·ln x − ln Γ(a)), the factor both expansions share.
fn prefactor(a: f64, x: f64) -> f64 {
    (-x + a * x.ln() - ln_gamma(a)).exp()
}

/// P(a, x) by its series Σ x^n / (a (a+1) ... (a+n)); converges fast for x < a + 1.
fn gamma_p_series(a: f64, x: f64) -> f64 {
    let (mut ap, mut term) = (a, 1.0 / a);
    let mut sum = term;
    for _ in 0..MAX_ITER {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if term.abs() < sum.abs() * EPS {
            break;
        }
    }
    sum * prefactor(a, x)
}

/// Q(a, x) by its continued fraction (modified Lentz); converges fast for x ≥ a + 1.
fn gamma_q_continued_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_ITER {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    prefactor(a, x) * h
}

/// ln Γ(a) for a > 0: Lanczos approximation (g = 7, 9 coefficients; relative error < 1e-15),
/// with the reflection formula below 0.5.
fn ln_gamma(a: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if a < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * a).sin()).ln() - ln_gamma(1.0 - a);
    }
    let a = a - 1.0;
    let t = a + G + 0.5;
    let series = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |s, (i, c)| s + c / (a + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (a + 0.5) * t.ln() - t + series.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        ((got - want) / want).abs() <= rel
    }

    /// The worked examples of anchors-round2.md §4.2 with scipy 1.17.1's full-precision values
    /// (`scipy.stats.chisquare(obs, f_exp=E)`; the table prints them to 6 figures).
    const WORKED: [(&[u64], &[f64], f64, usize, f64); 10] = [
        (&[5050, 4950], &[0.5, 0.5], 1.0, 1, 0.31731050786291115),
        (&[5200, 4800], &[0.5, 0.5], 16.0, 1, 6.334248366623988e-05),
        (&[50500, 49500], &[0.5, 0.5], 10.0, 1, 0.001565402258002549),
        (
            &[9100, 900],
            &[0.9, 0.1],
            11.11111111111111,
            1,
            0.0008581206663936758,
        ),
        (
            &[9950, 50],
            &[0.99, 0.01],
            25.252525252525253,
            1,
            5.029367811584704e-07,
        ),
        (
            &[3400, 3300, 3300],
            &[1.0, 1.0, 1.0],
            2.0,
            2,
            0.36787944117144245,
        ),
        (
            &[5100, 2400, 2500],
            &[0.5, 0.25, 0.25],
            6.0,
            2,
            0.04978706836786395,
        ),
        (
            &[2600, 2450, 2500, 2450],
            &[0.25; 4],
            6.0,
            3,
            0.11161022509471268,
        ),
        (&[8, 2], &[0.5, 0.5], 3.6, 1, 0.05777957112359715),
        (&[800, 200], &[0.5, 0.5], 360.0, 1, 2.8156843046193504e-80),
    ];

    /// The p-values as the table prints them (6 significant figures).
    const TABLE_P: [f64; 10] = [
        0.317311,
        6.33425e-05,
        0.0015654,
        0.000858121,
        5.02937e-07,
        0.367879,
        0.0497871,
        0.11161,
        0.0577796,
        2.81568e-80,
    ];

    #[test]
    fn worked_examples() {
        for (i, (obs, w, chi2, df, p)) in WORKED.iter().enumerate() {
            let t = chi_square(obs, w).unwrap();
            assert!((t.chi2 - chi2).abs() < 1e-9, "{obs:?}: chi2 {}", t.chi2);
            assert_eq!(t.df, *df);
            assert!(
                close(t.p_value, *p, 1e-6),
                "{obs:?}: p {} vs {p}",
                t.p_value
            );
            // The table's rounded figure is within half a unit of its last printed digit.
            assert!(
                close(t.p_value, TABLE_P[i], 1e-5),
                "{obs:?}: table {}",
                TABLE_P[i]
            );
            let srm = t.p_value < 0.001;
            assert_eq!(srm, [1, 3, 4, 9].contains(&i), "{obs:?}: SRM at 0.001");
        }
    }

    #[test]
    fn closed_forms_for_even_df_and_df_1_agree() {
        // Even df = 2m: p = e^(−x/2) Σ_{j<m} (x/2)^j / j!.
        for m in 1..=10usize {
            for x in [0.01, 0.5, 1.0, 3.7, 10.0, 25.0, 80.0, 300.0] {
                let h = x / 2.0;
                let (mut term, mut sum) = (1.0, 1.0);
                for j in 1..m {
                    term *= h / j as f64;
                    sum += term;
                }
                let want = (-h).exp() * sum;
                let got = chi2_survival(x, 2 * m);
                assert!(
                    close(got, want, 1e-10),
                    "df {} x {x}: {got} vs {want}",
                    2 * m
                );
            }
        }
        // df = 1 against p = erfc(√(x/2)) at points scipy gives.
        assert!(close(chi2_survival(3.841458820694124, 1), 0.05, 1e-9));
        assert!(close(chi2_survival(10.827566170662733, 1), 0.001, 1e-9));
    }

    #[test]
    fn odd_and_large_df_against_scipy() {
        for (x, df, p) in [
            (30.0, 9, 0.00043872177097947936),
            (0.5, 7, 0.9994464813904249),
            (200.0, 40, 3.764893576001532e-23),
            (3.0, 19, 0.9999892094656574),
        ] {
            let got = chi2_survival(x, df);
            assert!(close(got, p, 1e-5), "x {x} df {df}: {got} vs {p}");
        }
        assert!(close(chi2_survival(30.0, 9), 0.00043872177097947936, 1e-9));
        // The critical values of §4.1 (printed to 4 decimals).
        for (x, df, alpha) in [
            (10.8276, 1, 0.001),
            (6.6349, 1, 0.01),
            (13.8155, 2, 0.001),
            (16.2662, 3, 0.001),
        ] {
            assert!(close(chi2_survival(x, df), alpha, 1e-4), "df {df} x {x}");
        }
    }

    #[test]
    fn edge_cases() {
        assert_eq!(chi2_survival(0.0, 3), 1.0);
        assert_eq!(chi2_survival(f64::INFINITY, 3), 0.0);
        assert_eq!(chi_square(&[10], &[1.0]), None);
        assert_eq!(chi_square(&[0, 0], &[1.0, 1.0]), None);
        assert_eq!(chi_square(&[5, 5], &[1.0, 0.0]), None);
        let t = chi_square(&[50, 50], &[1.0, 1.0]).unwrap();
        assert_eq!((t.chi2, t.p_value), (0.0, 1.0));
    }
}
