//! How late probes start compared with their schedule: a small fixed-bucket histogram.
//!
//! Pure. The runner measures each probe's lateness (start time minus the tick it was due
//! at); the daemon aggregates here and reports a summary periodically (the 10,000-server
//! benchmark reads it).

use std::fmt;
use std::time::Duration;

/// Upper bounds of the buckets, in milliseconds; the last bucket is open-ended.
const BOUNDS_MS: [u64; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lateness {
    counts: [u64; BOUNDS_MS.len() + 1],
    total: u64,
    max: Duration,
}

impl Lateness {
    pub fn record(&mut self, late: Duration) {
        let ms = late.as_millis();
        let i = BOUNDS_MS
            .iter()
            .position(|b| ms < u128::from(*b))
            .unwrap_or(BOUNDS_MS.len());
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(late);
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> Duration {
        self.max
    }

    /// The bucket bound below which `q` (0..=1) of the probes started, e.g. "< 5ms"; `None`
    /// when no probe was recorded. Above the last bound it is the maximum.
    pub fn quantile_bound(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let want = ((self.total as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                return Some(match BOUNDS_MS.get(i) {
                    Some(b) => Duration::from_millis(*b),
                    None => self.max,
                });
            }
        }
        Some(self.max)
    }

    /// Empties the histogram (the start of a new reporting window).
    pub fn reset(&mut self) {
        *self = Lateness::default();
    }
}

impl fmt::Display for Lateness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |q| {
            self.quantile_bound(q)
                .map_or("-".to_string(), |d| format!("<{}ms", d.as_millis()))
        };
        write!(
            f,
            "{} probes, p50 {}, p99 {}, max {}ms",
            self.total,
            b(0.5),
            b(0.99),
            self.max.as_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_bounds_and_max_is_exact() {
        let mut l = Lateness::default();
        assert_eq!(l.quantile_bound(0.5), None);
        for _ in 0..98 {
            l.record(Duration::from_micros(300));
        }
        l.record(Duration::from_millis(7));
        l.record(Duration::from_millis(1234));
        assert_eq!(l.total(), 100);
        assert_eq!(l.quantile_bound(0.5), Some(Duration::from_millis(1)));
        assert_eq!(l.quantile_bound(0.99), Some(Duration::from_millis(10)));
        assert_eq!(l.quantile_bound(1.0), Some(Duration::from_millis(1234)));
        assert_eq!(l.to_string(), "100 probes, p50 <1ms, p99 <10ms, max 1234ms");
        l.reset();
        assert_eq!(l.total(), 0);
    }
}
