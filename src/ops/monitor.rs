//! Doctor on a timer (`monitor install`, `monitor remove`): a systemd service that runs
//! `autounseal doctor --textfile FILE` for this state folder as root, and its timer, daily
//! and at boot. The units are recorded in the (first node's) manifest, so that `destroy`
//! stops the timer and removes them too.

use std::path::{Path, PathBuf};

use crate::files::{self, Existing, WriteOptions};
use crate::run::RunError;
use crate::run::manifest::{FileRole, ManifestStore};
use crate::vault::launch::{systemctl_action, systemd_daemon_reload};

/// Where the units go: the administrator's units, beside the server's.
const UNIT_DIR: &str = "/etc/systemd/system";
pub const SERVICE: &str = "autounseal-doctor.service";
pub const TIMER: &str = "autounseal-doctor.timer";
/// How each unit says whose it is: `monitor install` of another state folder does not
/// replace them.
const MARK: &str = "# Written by autounseal (monitor install) for the state folder ";

/// What `monitor install` is asked for.
pub struct MonitorRequest {
    /// The autounseal the timer runs (this one's path).
    pub exe: PathBuf,
    pub state_dir: PathBuf,
    /// The AWS profile of root's configuration doctor reads IAM and KMS with.
    pub profile: Option<String>,
    pub textfile: PathBuf,
}

/// The two units, as written.
pub struct Units {
    pub service: (PathBuf, String),
    pub timer: (PathBuf, String),
}

/// A word of `ExecStart=`: systemd's own quoting (double quotes, backslash escapes) and
/// its specifiers and variables (`%`, `$`) doubled, so that a path is taken as written.
fn unit_word(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    if escaped.contains(|c: char| c.is_whitespace() || c == '\'' || c == ';') || escaped.is_empty() {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// The service and its timer for `req`. `unit_dir` is `/etc/systemd/system` but in tests.
pub fn units(req: &MonitorRequest, unit_dir: &Path) -> Units {
    let quote = |p: &Path| unit_word(&p.display().to_string());
    let profile = req
        .profile
        .as_deref()
        .map(|p| format!(" --profile {}", unit_word(p)))
        .unwrap_or_default();
    let mark = format!("{MARK}{}\n", req.state_dir.display());
    let service = format!(
        "{mark}[Unit]\n\
         Description=autounseal doctor: every link of the auto-unseal chain checked, as metrics\n\
         Documentation=man:autounseal(1)\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         # Root's AWS configuration (--profile), for doctor's reads of IAM and KMS.\n\
         Environment=HOME=%h\n\
         ExecStart={exe} --state-dir {state}{profile} doctor --textfile {textfile}\n\
         # 1 and 2 are doctor's word for a warning or a failure, which the metrics carry:\n\
         # the run itself did its job.\n\
         SuccessExitStatus=1 2\n\
         TimeoutStartSec=10min\n\
         Nice=10\n",
        exe = quote(&req.exe),
        state = quote(&req.state_dir),
        textfile = quote(&req.textfile),
    );
    let timer = format!(
        "{mark}[Unit]\n\
         Description=autounseal doctor, daily and at boot\n\
         \n\
         [Timer]\n\
         OnBootSec=5min\n\
         OnCalendar=daily\n\
         RandomizedDelaySec=30min\n\
         Persistent=true\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n"
    );
    Units {
        service: (unit_dir.join(SERVICE), service),
        timer: (unit_dir.join(TIMER), timer),
    }
}

/// Writes both units (0644, root's), records them, reloads systemd, enables and starts
/// the timer, and runs doctor once now so that the metrics exist at once. Units of
/// another state folder are refused; this one's are replaced.
pub fn install(store: &ManifestStore, req: &MonitorRequest) -> Result<Units, RunError> {
    install_in(store, req, Path::new(UNIT_DIR))
}

/// Root runs the binary every day: it, and every folder above it, must be root's and
/// writable by nobody else, or anyone who can replace it gets root.
pub fn check_runs_safely_as_root(exe: &Path) -> Result<(), RunError> {
    use std::os::unix::fs::MetadataExt;
    for path in exe.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        let meta =
            std::fs::metadata(path).map_err(|e| RunError::Other(format!("cannot read {}: {e}", path.display())))?;
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            return Err(RunError::Unsuitable(format!(
                "{} would run as root every day, but {} is {} (mode {:04o}): whoever can change it could run \
                 anything as root. Install autounseal where only root can write (`install -m 0755 autounseal \
                 /usr/local/bin/`) and run monitor install from there",
                exe.display(),
                path.display(),
                if meta.uid() != 0 {
                    format!("owned by uid {}", meta.uid())
                } else {
                    "writable by others".to_string()
                },
                meta.mode() & 0o7777
            )));
        }
    }
    Ok(())
}

fn install_in(store: &ManifestStore, req: &MonitorRequest, unit_dir: &Path) -> Result<Units, RunError> {
    let units = units(req, unit_dir);
    for (path, _) in [&units.service, &units.timer] {
        if let Ok(existing) = std::fs::read_to_string(path) {
            let ours = format!("{MARK}{}\n", req.state_dir.display());
            if !existing.starts_with(&ours) {
                return Err(RunError::Conflict(format!(
                    "{} exists and is not this state folder's ({}): another setup's monitor, or your own unit. \
                     `autounseal monitor remove --state-dir DIR` with that setup's folder removes it; otherwise \
                     move it aside",
                    path.display(),
                    existing.lines().next().unwrap_or_default()
                )));
            }
        }
    }
    if let Some(folder) = req.textfile.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| RunError::Other(format!("cannot make {}: {e}", folder.display())))?;
    }
    let opts = WriteOptions {
        mode: 0o644,
        owner: None,
        existing: Existing::Replace,
    };
    for (path, text) in [&units.service, &units.timer] {
        // Recorded first: a run stopped between the two leaves nothing destroy misses.
        store.update(|m| m.record_file(FileRole::MonitorUnit, path, None))?;
        files::write_atomic(path, text.as_bytes(), opts)?;
    }
    systemd_daemon_reload()?;
    systemctl_action(&["enable", "--now", TIMER], TIMER)?;
    // The first metrics now, not at the first tick: without waiting for doctor's end.
    systemctl_action(&["start", "--no-block", SERVICE], SERVICE)?;
    Ok(units)
}

/// Stops and disables the timer, removes both units, reloads systemd. Nothing to
/// remove is no error.
pub fn remove(store: &ManifestStore) -> Result<Vec<PathBuf>, RunError> {
    let recorded: Vec<PathBuf> = store
        .snapshot()
        .files
        .iter()
        .filter(|f| f.role == FileRole::MonitorUnit)
        .map(|f| f.path.clone())
        .collect();
    if recorded.is_empty() {
        return Ok(recorded);
    }
    // A timer systemd no longer knows is stopped already.
    let _ = systemctl_action(&["disable", "--now", TIMER], TIMER);
    for path in &recorded {
        files::remove_if_present(path)
            .map_err(|e| RunError::Other(format!("cannot remove {}: {e}", path.display())))?;
        store.update(|m| {
            m.files
                .retain(|f| !(f.role == FileRole::MonitorUnit && f.path == *path))
        })?;
    }
    systemd_daemon_reload()?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> MonitorRequest {
        MonitorRequest {
            exe: "/usr/bin/autounseal".into(),
            state_dir: "/root/.local/share/autounseal".into(),
            profile: Some("monitoring".into()),
            textfile: crate::cli::DEFAULT_MONITOR_TEXTFILE.into(),
        }
    }

    #[test]
    fn the_service_runs_doctor_for_this_folder_and_the_timer_daily_and_at_boot() {
        let units = units(&request(), Path::new(UNIT_DIR));
        let (path, service) = &units.service;
        assert_eq!(path, Path::new("/etc/systemd/system/autounseal-doctor.service"));
        assert!(service.contains(
            "ExecStart=/usr/bin/autounseal --state-dir /root/.local/share/autounseal --profile monitoring doctor \
             --textfile /var/lib/node_exporter/textfile_collector/autounseal.prom\n"
        ));
        assert!(service.contains("Type=oneshot") && service.contains("SuccessExitStatus=1 2"));
        let (_, timer) = &units.timer;
        for line in [
            "OnBootSec=5min",
            "OnCalendar=daily",
            "Persistent=true",
            "WantedBy=timers.target",
        ] {
            assert!(timer.lines().any(|l| l == line), "{line}:\n{timer}");
        }
    }

    #[test]
    fn a_path_systemd_would_read_otherwise_is_escaped() {
        assert_eq!(unit_word("/usr/bin/autounseal"), "/usr/bin/autounseal");
        assert_eq!(unit_word("/srv/100%/a b"), "\"/srv/100%%/a b\"");
        assert_eq!(unit_word("/srv/$HOME"), "/srv/$$HOME");
    }

    #[test]
    fn a_binary_others_can_replace_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("autounseal");
        std::fs::write(&exe, "").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_runs_safely_as_root(&exe).unwrap_err().to_string();
        assert!(
            err.contains("writable by others") || err.contains("owned by uid"),
            "{err}"
        );
        // A distribution's binary: root's, in root's folders.
        check_runs_safely_as_root(Path::new("/usr/bin/env")).unwrap();
    }

    #[test]
    fn units_of_another_state_folder_are_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = ManifestStore::open(&dir.path().join("state")).unwrap();
        let other = MonitorRequest {
            state_dir: "/srv/other".into(),
            ..request()
        };
        let (path, text) = units(&other, dir.path()).service;
        std::fs::write(&path, text).unwrap();
        let err = install_in(&store, &request(), dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("is not this state folder's") && err.contains("/srv/other"),
            "{err}"
        );
        assert!(store.snapshot().files.is_empty(), "nothing recorded");
    }
}
