//! The host's links: the systemd unit and the server itself.

use std::path::Path;

use super::{config_path, env_path, server_address};
use crate::doctor::{Finding, Link, Measure};
use crate::run::Manifest;
use crate::vault::client::VaultClient;

/// What `systemctl show -p LoadState,ActiveState,EnvironmentFiles` says of a unit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UnitShow {
    pub load_state: String,
    pub active_state: String,
    pub environment_files: Vec<String>,
}

/// Parses `systemctl show` output: `NAME=VALUE` lines; `EnvironmentFiles=` may repeat,
/// each `PATH (ignore_errors=no)`.
pub fn parse_unit_show(text: &str) -> UnitShow {
    let mut show = UnitShow::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("LoadState", v)) => show.load_state = v.trim().to_string(),
            Some(("ActiveState", v)) => show.active_state = v.trim().to_string(),
            Some(("EnvironmentFiles", v)) => {
                if let Some(path) = v.split(" (").next().map(str::trim).filter(|p| !p.is_empty()) {
                    show.environment_files.push(path.trim_start_matches('-').to_string());
                }
            }
            _ => {}
        }
    }
    show
}

/// When the server runs under systemd: the unit exists, loads the env file, is active.
pub fn unit(manifest: &Manifest, out: &mut Vec<Finding>) {
    let link = Link::Unit;
    let server = manifest.server.as_ref();
    let Some(unit) = server.filter(|s| s.launch == "systemd").and_then(|s| s.unit.clone()) else {
        let launch = server.map_or("not recorded", |s| s.launch.as_str());
        out.push(Finding::skipped(
            link,
            "exists",
            format!("the server's launch is {launch}, not systemd"),
        ));
        return;
    };
    let shown = crate::vault::launch::systemctl_probe(&["show", "-p", "LoadState,ActiveState,EnvironmentFiles", &unit]);
    let show = match shown {
        Ok(o) if o.status.success() => parse_unit_show(&String::from_utf8_lossy(&o.stdout)),
        Ok(o) => {
            let said = String::from_utf8_lossy(&o.stderr).trim().to_string();
            return out.push(Finding::fail(
                link,
                "exists",
                format!("systemctl show {unit}: {said}"),
                "check systemd on this host",
            ));
        }
        Err(e) => {
            return out.push(Finding::fail(
                link,
                "exists",
                e.to_string(),
                "check systemd on this host",
            ));
        }
    };
    unit_findings(&unit, &show, env_path(manifest), out);
}

/// The findings of a unit, from what systemd said of it.
pub fn unit_findings(unit: &str, show: &UnitShow, env_file: Option<&Path>, out: &mut Vec<Finding>) {
    let link = Link::Unit;
    if show.load_state != "loaded" {
        return out.push(Finding::fail(
            link,
            "exists",
            format!("{unit}: LoadState={}", show.load_state),
            "install the server's package, which brings the unit",
        ));
    }
    out.push(Finding::ok(link, "exists", format!("{unit} is loaded")));
    let env = env_file.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    out.push(if show.environment_files.contains(&env) {
        Finding::ok(link, "loads the env file", format!("EnvironmentFile={env}"))
    } else {
        Finding::fail(
            link,
            "loads the env file",
            format!("{unit} loads {:?}, not {env}: the server starts without its AWS credentials", show.environment_files),
            format!(
                "put `[Service]` and `EnvironmentFile={env}` in {}, then `systemctl daemon-reload && systemctl restart {unit}`",
                crate::vault::launch::drop_in_path(unit).display()
            ),
        )
    });
    out.push(if show.active_state == "active" {
        Finding::ok(link, "active", "ActiveState=active")
    } else {
        Finding::fail(
            link,
            "active",
            format!("ActiveState={}", show.active_state),
            format!("systemctl start {unit}; `journalctl -u {unit}` says why it stopped"),
        )
    });
}

/// Reachable, seal type awskms, initialised, unsealed.
pub async fn server(manifest: &Manifest, ca_cert: Option<&Path>, out: &mut Vec<Finding>) {
    let link = Link::Server;
    let Some((address, launch)) = server_address(manifest) else {
        out.push(Finding::skipped(
            link,
            "reachable",
            "neither the manifest nor the config names the server's address",
        ));
        return;
    };
    let record = manifest.server.as_ref();
    let config = config_path(manifest).unwrap_or_default();
    let how_to_start = match (
        launch.as_str(),
        record.and_then(|r| r.unit.as_ref()),
        record.and_then(|r| r.log_file.as_ref()),
    ) {
        ("systemd", Some(unit), _) => format!("systemctl start {unit}; `journalctl -u {unit}` says why it stopped"),
        ("background", _, Some(log)) => format!(
            "start it again with `autounseal apply --yes --answers FILE` (the setup's answers); its log is {}",
            log.display()
        ),
        _ => format!(
            "start it with the env file's variables: set -a; . {}; set +a; then the server with -config={}",
            env_path(manifest).unwrap_or(Path::new("ENV_FILE")).display(),
            config.display()
        ),
    };
    let ca_cert = ca_cert.or(record.and_then(|r| r.ca_cert.as_deref()));
    let status = match VaultClient::new(&address, ca_cert) {
        Ok(client) => client.seal_status().await,
        Err(e) => Err(e),
    };
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            let mut said = e.to_string();
            if let Some(pid) = record.and_then(|r| r.pid).filter(|_| launch == "background")
                && !crate::vault::launch::is_running(pid)
            {
                said = format!("{said}; the background server (pid {pid}) is not running");
            }
            out.push(Finding::fail(link, "reachable", said, how_to_start));
            out.push(Finding::skipped(link, "unsealed", "the server is not reachable"));
            return;
        }
    };
    out.push(Finding::ok(
        link,
        "reachable",
        format!("{address} answers (version {})", status.version),
    ));
    out.push(if status.seal_type == "awskms" {
        Finding::ok(link, "seal type", "awskms")
    } else {
        Finding::fail(
            link,
            "seal type",
            format!(
                "the server's seal is {}, not awskms: it runs another config",
                status.seal_type
            ),
            format!("restart it with -config={}", config.display()),
        )
    });
    out.push(if status.initialized {
        Finding::ok(link, "initialized", "initialised")
    } else {
        Finding::fail(
            link,
            "initialized",
            "the server is not initialised",
            "run `autounseal apply` with init enabled, or `bao operator init` / `vault operator init`",
        )
    });
    out.push(
        if !status.sealed {
            Finding::ok(link, "unsealed", "unsealed by KMS")
        } else {
            Finding::fail(
                link,
                "unsealed",
                "the server is sealed: it could not use the KMS key at its last start",
                format!("fix the failures above, then restart it ({how_to_start})"),
            )
        }
        .measured(Measure::Sealed(status.sealed)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn systemctl_show_is_read() {
        let text = "LoadState=loaded\nActiveState=active\nEnvironmentFiles=/etc/default/openbao (ignore_errors=yes)\n\
                    EnvironmentFiles=/etc/openbao/vault.env (ignore_errors=no)\n";
        let show = parse_unit_show(text);
        assert_eq!(show.load_state, "loaded");
        assert_eq!(show.active_state, "active");
        assert_eq!(
            show.environment_files,
            ["/etc/default/openbao", "/etc/openbao/vault.env"]
        );
        let mut out = Vec::new();
        unit_findings(
            "openbao.service",
            &show,
            Some(Path::new("/etc/openbao/vault.env")),
            &mut out,
        );
        assert!(out.iter().all(|f| f.verdict == Verdict::Ok), "{out:?}");
    }

    #[test]
    fn a_unit_without_the_env_file_or_stopped_fails() {
        let show = parse_unit_show("LoadState=loaded\nActiveState=failed\nEnvironmentFiles=\n");
        assert!(show.environment_files.is_empty());
        let mut out = Vec::new();
        unit_findings(
            "openbao.service",
            &show,
            Some(Path::new("/etc/openbao/vault.env")),
            &mut out,
        );
        let failed: Vec<_> = out
            .iter()
            .filter(|f| f.verdict == Verdict::Fail)
            .map(|f| f.check.as_ref())
            .collect();
        assert_eq!(failed, ["loads the env file", "active"]);
        assert!(
            out[1]
                .fix
                .as_deref()
                .unwrap()
                .contains("EnvironmentFile=/etc/openbao/vault.env")
        );
        let mut out = Vec::new();
        unit_findings(
            "gone.service",
            &parse_unit_show("LoadState=not-found\n"),
            None,
            &mut out,
        );
        assert_eq!((out.len(), out[0].verdict), (1, Verdict::Fail));
    }
}
