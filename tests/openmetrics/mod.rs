//! Reading a `/metrics` exposition with a real OpenMetrics parser (the
//! `openmetrics-parser` crate, which passes the OpenMetrics test suite): the tests assert
//! on parsed families and label sets, never on substrings. Shared by the integration
//! tests and `examples/openmetrics.rs` (the shell tests' command-line reader).

#![allow(dead_code)]

use std::collections::BTreeMap;

use openmetrics_parser::{MetricNumber, OpenMetricsValue, openmetrics::parse_openmetrics};

/// One sample: its family, its labels, and its value (a histogram's is its count).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub family: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of a valid exposition; an error if the parser rejects it.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let exp =
        parse_openmetrics(text).map_err(|e| format!("invalid OpenMetrics exposition: {e:?}"))?;
    let mut out = Vec::new();
    for (name, family) in &exp.families {
        let label_names = family.get_label_names().to_vec();
        for s in family.iter_samples() {
            let set = s.get_labelset().map_err(|e| format!("{name}: {e:?}"))?;
            let labels = label_names
                .iter()
                .filter_map(|n| Some((n.clone(), set.get_label_value(n)?.to_string())))
                .collect();
            let num = |n: &MetricNumber| n.as_f64();
            let value = match &s.value {
                OpenMetricsValue::Unknown(n)
                | OpenMetricsValue::Gauge(n)
                | OpenMetricsValue::StateSet(n) => num(n),
                OpenMetricsValue::Counter(c) => num(&c.value),
                OpenMetricsValue::Histogram(h) | OpenMetricsValue::GaugeHistogram(h) => {
                    h.count.map_or(f64::NAN, |c| c as f64)
                }
                OpenMetricsValue::Summary(s) => s.count.map_or(f64::NAN, |c| c as f64),
                OpenMetricsValue::Info => 1.0,
            };
            out.push(Sample {
                family: name.clone(),
                labels,
                value,
            });
        }
    }
    Ok(out)
}

/// A selector: a family name and label matchers, written as in PromQL without operators
/// other than `=`: `ipvsd_vrrp_state{vrrp_instance="VI_1",state="master"}`. Counters are
/// named by their family (without `_total`).
pub fn selector(s: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let Some((name, rest)) = s.split_once('{') else {
        return Ok((s.trim().to_string(), BTreeMap::new()));
    };
    let body = rest
        .strip_suffix('}')
        .ok_or_else(|| format!("selector `{s}`: missing `}}`"))?;
    let mut labels = BTreeMap::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (k, v) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("selector `{s}`: expected label=\"value\""))?;
        let end = v
            .find('"')
            .ok_or_else(|| format!("selector `{s}`: unterminated value"))?;
        labels.insert(k.trim().to_string(), v[..end].to_string());
        rest = v[end + 1..].trim_start_matches(',').trim();
    }
    Ok((name.trim().to_string(), labels))
}

/// The samples a selector matches (its labels a subset of the sample's).
pub fn select<'a>(samples: &'a [Sample], sel: &str) -> Result<Vec<&'a Sample>, String> {
    let (family, labels) = selector(sel)?;
    Ok(samples
        .iter()
        .filter(|s| s.family == family && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .collect())
}

/// The one value a selector matches; an error if none or several do.
pub fn value(samples: &[Sample], sel: &str) -> Result<f64, String> {
    match select(samples, sel)?.as_slice() {
        [one] => Ok(one.value),
        [] => Err(format!("no sample matches {sel}")),
        many => Err(format!("{} samples match {sel}", many.len())),
    }
}
