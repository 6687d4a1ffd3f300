//! `doctor --textfile FILE`: the findings as node_exporter's textfile collector reads
//! them (the Prometheus text format), so that a timer's run of doctor becomes metrics
//! and alerts. Written whole and atomically: the collector never reads half a file.

use std::fmt::Write as _;
use std::path::Path;

use super::{Finding, Measure, Verdict};
use crate::files::{self, Existing, WriteOptions};

/// A check's verdict as a number: what alerts compare (`> 0`: something to look at).
/// A skipped check is -1: it neither passed nor failed.
fn verdict_value(verdict: Verdict) -> i8 {
    match verdict {
        Verdict::Ok => 0,
        Verdict::Warn => 1,
        Verdict::Fail => 2,
        Verdict::Skipped => -1,
    }
}

/// A label value as the text format wants it: `\`, `"` and line breaks escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The metrics of every node's findings (`nodes`: each node's name and findings), as
/// of `now` (seconds since 1970).
pub fn render(nodes: &[(&str, &[Finding])], now: i64) -> String {
    let mut families: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "autounseal_check",
            "A doctor check of the auto-unseal chain: 0 ok, 1 warning, 2 failure, -1 skipped.",
            Vec::new(),
        ),
        (
            "autounseal_doctor_exit_code",
            "The worst verdict of the node's checks: 0 all ok, 1 some warning, 2 some failure.",
            Vec::new(),
        ),
        (
            "autounseal_access_key_age_days",
            "Whole days since the server's access key was made (rotate every 30 to 90).",
            Vec::new(),
        ),
        (
            "autounseal_kms_key_enabled",
            "1 when the KMS key is Enabled, else 0; the state label says KMS's word for it.",
            Vec::new(),
        ),
        (
            "autounseal_server_sealed",
            "1 when the server is sealed, 0 when it is unsealed.",
            Vec::new(),
        ),
        (
            "autounseal_last_drill_age_days",
            "Whole days since the last recovery drill that read the data back in a replica's region \
             (a setup with replicas; -1: never).",
            Vec::new(),
        ),
        (
            "autounseal_doctor_last_run_timestamp_seconds",
            "When doctor last checked the node (seconds since 1970).",
            Vec::new(),
        ),
    ];
    let mut add = |family: usize, sample: String| families[family].2.push(sample);
    for (node, findings) in nodes {
        let node = label(node);
        for f in findings.iter() {
            add(
                0,
                format!(
                    "autounseal_check{{node=\"{node}\",link=\"{}\",check=\"{}\"}} {}",
                    label(f.link.label()),
                    label(&f.check),
                    verdict_value(f.verdict)
                ),
            );
            match &f.measure {
                Some(Measure::AccessKeyAgeDays(days)) => {
                    add(2, format!("autounseal_access_key_age_days{{node=\"{node}\"}} {days}"))
                }
                Some(Measure::KeyState(state)) => add(
                    3,
                    format!(
                        "autounseal_kms_key_enabled{{node=\"{node}\",state=\"{}\"}} {}",
                        label(state),
                        u8::from(state == "Enabled")
                    ),
                ),
                Some(Measure::Sealed(sealed)) => add(
                    4,
                    format!("autounseal_server_sealed{{node=\"{node}\"}} {}", u8::from(*sealed)),
                ),
                Some(Measure::DrillAgeDays(days)) => add(
                    5,
                    format!(
                        "autounseal_last_drill_age_days{{node=\"{node}\"}} {}",
                        days.map_or(-1, |d| d as i64)
                    ),
                ),
                None => {}
            }
        }
        add(
            1,
            format!(
                "autounseal_doctor_exit_code{{node=\"{node}\"}} {}",
                super::exit_code(findings)
            ),
        );
        add(
            6,
            format!("autounseal_doctor_last_run_timestamp_seconds{{node=\"{node}\"}} {now}"),
        );
    }
    let mut text = String::new();
    for (name, help, samples) in families.iter().filter(|(_, _, samples)| !samples.is_empty()) {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        for sample in samples {
            let _ = writeln!(text, "{sample}");
        }
    }
    text
}

/// Writes `text` to `path` whole: a new file beside it, then renamed over it. Readable
/// by all (0644): it holds no secret, and the collector runs as its own user.
pub fn write(path: &Path, text: &str) -> Result<(), files::FileError> {
    let opts = WriteOptions {
        mode: 0o644,
        owner: None,
        existing: Existing::Replace,
    };
    files::write_atomic(path, text.as_bytes(), opts).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Link;

    #[test]
    fn every_check_is_a_gauge_and_the_measures_their_own() {
        let findings = vec![
            Finding::ok(Link::Credentials, "access key", "AKIA… is active, 12 days old")
                .measured(Measure::AccessKeyAgeDays(12)),
            Finding::fail(Link::Key, "state", "k is Disabled", "enable it")
                .measured(Measure::KeyState("Disabled".into())),
            Finding::ok(Link::Server, "unsealed", "unsealed by KMS").measured(Measure::Sealed(false)),
            Finding::skipped(Link::Unit, "exists", "launch is background"),
            Finding::warn(Link::Key, "rotation", "off", "turn it on"),
            Finding::warn(Link::Key, "drill", "never", "rehearse").measured(Measure::DrillAgeDays(None)),
        ];
        let text = render(&[("autounseal-1", &findings)], 1_700_000_000);
        for line in [
            "# TYPE autounseal_check gauge",
            "autounseal_check{node=\"autounseal-1\",link=\"KMS key\",check=\"state\"} 2",
            "autounseal_check{node=\"autounseal-1\",link=\"systemd unit\",check=\"exists\"} -1",
            "autounseal_check{node=\"autounseal-1\",link=\"KMS key\",check=\"rotation\"} 1",
            "autounseal_check{node=\"autounseal-1\",link=\"server\",check=\"unsealed\"} 0",
            "autounseal_doctor_exit_code{node=\"autounseal-1\"} 2",
            "autounseal_access_key_age_days{node=\"autounseal-1\"} 12",
            "autounseal_kms_key_enabled{node=\"autounseal-1\",state=\"Disabled\"} 0",
            "autounseal_server_sealed{node=\"autounseal-1\"} 0",
            "autounseal_last_drill_age_days{node=\"autounseal-1\"} -1",
            "autounseal_doctor_last_run_timestamp_seconds{node=\"autounseal-1\"} 1700000000",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?}:\n{text}");
        }
        // Each family is declared once, before its samples, and every line is a
        // comment or `name{labels} value`.
        assert_eq!(text.matches("# TYPE autounseal_check gauge").count(), 1);
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn a_node_without_measures_has_no_empty_families_and_labels_are_escaped() {
        let findings = vec![Finding::fail(Link::Server, "reachable", "refused", "start it")];
        let text = render(&[("a\"b\\c", &findings)], 1);
        assert!(text.contains("node=\"a\\\"b\\\\c\""), "{text}");
        assert!(!text.contains("autounseal_server_sealed"), "{text}");
        assert!(!text.contains("autounseal_access_key_age_days"), "{text}");
    }

    #[test]
    fn the_file_is_replaced_whole_and_readable_by_the_collector() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("textfile").join("autounseal.prom");
        write(&path, "first\n").unwrap();
        write(&path, "second\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary or backup file is left beside it");
    }
}
