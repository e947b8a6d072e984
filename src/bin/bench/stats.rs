//! Medians, extremes and percentiles of the rounds.

/// A figure over several rounds: the median is what is reported, min and max show the noise.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no values: a figure with no round is "not measured", never zero.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Spread {
            median: median_of_sorted(&sorted),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted samples; `None` when empty.
pub fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    Some(samples[rank.clamp(1, samples.len()) - 1])
}

/// Paired ratios `a[i] / b[i]`: comparing each round with its own baseline round cancels most
/// of the machine's drift (another engineer's build starting halfway through the run).
pub fn paired_ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect()
}

/// A distribution-free 95 % confidence interval of the median, from order statistics: with n
/// samples, the number below the true median is Binomial(n, 1/2), so `[x(j), x(n+1-j)]` (1-based,
/// sorted) covers it with probability `1 - 2 P(B < j)`; `j` is the largest rank keeping that at
/// least 0.95. `None` below 6 samples, where no such interval exists.
pub fn median_interval_95(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 6 {
        return None;
    }
    // P(B <= k) for B ~ Binomial(n, 1/2), summed in logs to stay exact enough for n in the
    // thousands.
    let ln_choose = |k: usize| -> f64 {
        (1..=k)
            .map(|i| ((n + 1 - i) as f64).ln() - (i as f64).ln())
            .sum()
    };
    let below = |j: usize| -> f64 {
        (0..j)
            .map(|k| (ln_choose(k) - n as f64 * std::f64::consts::LN_2).exp())
            .sum()
    };
    let mut j = 1;
    while j < n / 2 && 2.0 * below(j + 1) <= 0.05 {
        j += 1;
    }
    if 2.0 * below(j) > 0.05 {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some((sorted[j - 1], sorted[n - j]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_intervals_come_from_the_binomial_ranks() {
        // Tabled ranks: n = 6 gives x(1)..x(6); n = 20 gives x(6)..x(15); n = 40 x(14)..x(27).
        let values = |n: usize| (1..=n).map(|i| i as f64).collect::<Vec<_>>();
        assert_eq!(median_interval_95(&values(5)), None);
        assert_eq!(median_interval_95(&values(6)), Some((1.0, 6.0)));
        assert_eq!(median_interval_95(&values(20)), Some((6.0, 15.0)));
        assert_eq!(median_interval_95(&values(40)), Some((14.0, 27.0)));
    }

    #[test]
    fn spread_and_percentiles() {
        let spread = Spread::of(&[3.0, 1.0, 2.0, 10.0]).expect("values");
        assert_eq!(spread.median, 2.5);
        assert_eq!(spread.min, 1.0);
        assert_eq!(spread.max, 10.0);
        assert!(Spread::of(&[]).is_none());
        let mut samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut samples, 50.0), Some(50.0));
        assert_eq!(percentile(&mut samples, 99.0), Some(99.0));
        assert_eq!(percentile(&mut samples, 100.0), Some(100.0));
        assert_eq!(paired_ratios(&[2.0, 3.0], &[1.0, 0.0]), vec![2.0]);
    }
}
